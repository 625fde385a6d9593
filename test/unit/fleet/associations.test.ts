import { describe, expect, it } from 'vitest';
import { eksClusterOf } from '../../../src/fleet/associations';

/* The EKS lookup itself runs in the end-to-end tests (test/e2e/fleet.test.ts), where its env is the binary's. */

describe('the EKS cluster of a kubeconfig', () => {
  it('is named by a context or cluster entry that is an EKS cluster ARN (aws eks update-kubeconfig)', () => {
    expect(eksClusterOf(['irsa-doctor-sim', 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-1'])).toEqual({
      name: 'prod-1',
      region: 'eu-west-1',
    });
    expect(eksClusterOf(['arn:aws-cn:eks:cn-north-1:111122223333:cluster/c'])).toEqual({
      name: 'c',
      region: 'cn-north-1',
    });
    expect(
      eksClusterOf(['prod', 'arn:aws:eks:eu-west-1:1:cluster/x', 'arn:aws:eks:eu-west-1:111122223333:cluster/a b']),
    ).toBeUndefined();
  });
});
