import { describe, expect, it } from 'vitest';
import { parseAssumedRoleArn, parseRoleArn } from '../../../src/aws/arn';

describe(parseRoleArn, () => {
  it.each([
    ['arn:aws:iam::111122223333:role/app', 'aws', '/', 'app'],
    ['arn:aws-cn:iam::111122223333:role/team/x/app', 'aws-cn', '/team/x/', 'app'],
    ['arn:aws-us-gov:iam::111122223333:role/svc+=,.@-_', 'aws-us-gov', '/', 'svc+=,.@-_'],
  ])('takes %s apart', (arn, partition, path, name) => {
    expect(parseRoleArn(arn)).toEqual({ arn, partition, account: '111122223333', path, name });
  });

  it.each([
    'arn:aws:iam::111122223333:roleapp', // no slash after role: IAM has no such ARN
    'arn:aws:iam::111122223333:role/',
    'arn:aws:iam::11112222333:role/app',
    'arn:aws:iam::111122223333:user/app',
    'arn:aws:sts::111122223333:assumed-role/app/s',
    'arn:aws:iam::111122223333:role/app name',
    `arn:aws:iam::111122223333:role/${'a'.repeat(65)}`,
    'arn:azure:iam::111122223333:role/app',
    ' arn:aws:iam::111122223333:role/app',
  ])('rejects %s', (arn) => {
    expect(parseRoleArn(arn)).toBeUndefined();
  });
});

describe(parseAssumedRoleArn, () => {
  it('reads the role name and session, the path being dropped by STS', () => {
    expect(parseAssumedRoleArn('arn:aws:sts::111122223333:assumed-role/app/botocore-session-1')).toMatchObject({
      roleName: 'app',
      sessionName: 'botocore-session-1',
    });
    expect(parseAssumedRoleArn('arn:aws:iam::111122223333:role/app')).toBeUndefined();
  });
});
