import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eksAssociationLookup, eksClusterOf } from '../../../src/fleet/associations';

/*
 * The optional EKS API lookup (client-eks ListPodIdentityAssociations), against a loopback endpoint reached the
 * standard way (AWS_ENDPOINT_URL_EKS): every way it is not consulted says why, and never fails the run.
 */

const saved = { ...process.env };
let close: (() => Promise<void>) | undefined;
beforeEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  process.env.AWS_CONFIG_FILE = '/nonexistent/config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
});
afterEach(async () => {
  process.env = { ...saved };
  await close?.();
  close = undefined;
});

async function eks(status: number, body: unknown, errorType?: string) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  process.env.AWS_ENDPOINT_URL_EKS = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
  process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  return seen;
}

const lookup = (clusterName: string | undefined) =>
  eksAssociationLookup({ clusterName, region: 'us-west-2', signal: new AbortController().signal, timeoutMs: 10_000 });

describe('Pod Identity associations from the EKS API', () => {
  it('lists them for the namespace asked, page by page', async () => {
    const seen = await eks(200, {
      associations: [
        {
          clusterName: 'prod',
          namespace: 'shop',
          serviceAccount: 'cart',
          associationId: 'a-1',
          associationArn: 'arn:x',
        },
      ],
    });
    expect(await lookup('prod')('shop')).toEqual({
      state: 'checked',
      value: [{ namespace: 'shop', serviceAccount: 'cart', associationId: 'a-1', roleArn: undefined }],
    });
    expect(seen[0]).toMatch(/^\/clusters\/prod\/pod-identity-associations\?(.*&)?namespace=shop/);
  });

  it('not consulted, with the reason: no cluster name, no credentials, refused, unknown cluster', async () => {
    expect(await lookup(undefined)(undefined)).toMatchObject({
      state: 'not-checked',
      reason: expect.stringContaining('the cluster name is not known'),
    });
    expect(await lookup('prod')(undefined)).toMatchObject({
      state: 'not-checked',
      reason: expect.stringContaining('no AWS credentials on this machine'),
    });
    await eks(
      403,
      { message: 'User is not authorized to perform: eks:ListPodIdentityAssociations' },
      'AccessDeniedException',
    );
    expect(await lookup('prod')(undefined)).toMatchObject({
      state: 'not-checked',
      reason: expect.stringContaining('the EKS API refused eks:ListPodIdentityAssociations on cluster prod'),
    });
    await close?.();
    await eks(404, { message: 'No cluster found for name: prod.' }, 'ResourceNotFoundException');
    expect(await lookup('prod')(undefined)).toEqual({
      state: 'not-checked',
      reason: 'the EKS API knows no cluster prod in us-west-2',
    });
  });

  it('the cluster name and region come from a context or cluster named by its EKS ARN', () => {
    expect(eksClusterOf(['irsa-doctor-sim', 'arn:aws:eks:eu-west-1:111122223333:cluster/prod-1'])).toEqual({
      name: 'prod-1',
      region: 'eu-west-1',
    });
    expect(eksClusterOf(['arn:aws-cn:eks:cn-north-1:111122223333:cluster/c'])).toEqual({
      name: 'c',
      region: 'cn-north-1',
    });
    expect(eksClusterOf(['prod', 'arn:aws:eks:eu-west-1:1:cluster/x'])).toBeUndefined();
  });
});
