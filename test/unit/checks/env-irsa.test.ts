import { describe, expect, it } from 'vitest';
import { describeRoleArnProblem, envIrsa } from '../../../src/checks/env-irsa';
import type { MechanismOutput } from '../../../src/checks/env-mechanism';
import type { Env } from '../../../src/context/context';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';

const irsaMechanism: MechanismOutput = { mechanism: 'irsa', irsa: true, podIdentity: false, staticKeys: false };
const ROLE = 'arn:aws:iam::111122223333:role/team/cart-role';
const TOKEN = '/var/run/secrets/eks.amazonaws.com/serviceaccount/token';

const run = (env: Env, mechanism: MechanismOutput = irsaMechanism) =>
  envIrsa.run(fixtureContext({ env }), upstreamOf({ 'env.mechanism': mechanism }), new AbortController().signal);

describe('env.irsa', () => {
  it('passes with the pair and hands the parsed role on', async () => {
    const outcome = await run({ AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN });
    expect(outcome.status).toBe('pass');
    expect(outcome.findings ?? []).toEqual([]);
    expect(outcome.output?.roleArn).toMatchObject({ account: '111122223333', name: 'cart-role', path: '/team/' });
    expect(outcome.output?.tokenFile).toBe(TOKEN);
    expect(outcome.details).toMatchObject({ role: 'team/cart-role', account: '111122223333', partition: 'aws' });
  });

  it('skips with the reason when the mechanism is not IRSA', async () => {
    const outcome = await run({}, { mechanism: 'pod-identity', irsa: false, podIdentity: true, staticKeys: false });
    expect(outcome.status).toBe('skip');
    expect(outcome.summary).toContain('not set up for IRSA (mechanism: pod-identity)');
  });

  it('IRSA_ENV_PARTIAL with only AWS_ROLE_ARN: every SDK falls through', async () => {
    const outcome = await run({ AWS_ROLE_ARN: ROLE });
    expect(outcome.status).toBe('fail');
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('IRSA_ENV_PARTIAL');
    expect(finding?.summary).toContain('AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not');
    expect(finding?.summary).toContain('skips both when either one is already in the container spec');
    expect(finding?.remedy.commands.join('\n')).toContain('AWS_ROLE_ARN-');
    expect(outcome.output).toBeUndefined();
  });

  it('IRSA_ENV_PARTIAL with only the token file: JS falls through, boto3 and Go error', async () => {
    const outcome = await run({ AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN });
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('IRSA_ENV_PARTIAL');
    expect(finding?.summary).toContain('InvalidConfigError');
    expect(finding?.summary).toContain('role ARN is not set');
  });

  it.each([
    ['cart-role', 'role name, not an ARN'],
    ['arn:aws:iam::1111222233:role/x', '12-digit'],
    ['arn:aws:iam::111122223333:user/x', '"user"'],
    ['arn:aws:iam::111122223333:instance-profile/x', '"instance-profile"'],
    ['arn:azure:iam::111122223333:role/x', 'partition "azure"'],
    ['arn:aws:sts::111122223333:assumed-role/x/s', 'assumed-role'],
    ['arn:aws:iam:us-east-1:111122223333:role/x', 'region'],
    ['arn:aws:iam::111122223333:role/x:y', 'colons'],
    [`arn:aws:iam::111122223333:role/${'a'.repeat(65)}`, '65 characters'],
    ['arn:aws:iam::111122223333:role/bad name', 'characters IAM does not allow'],
    ['arn:aws:iam::111122223333:roleX', '"roleX"'],
  ])('ROLE_ARN_INVALID for %s says which part is wrong', async (arn, part) => {
    const outcome = await run({ AWS_ROLE_ARN: arn, AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN });
    expect(outcome.status).toBe('fail');
    const finding = outcome.findings?.find((f) => f.code === 'ROLE_ARN_INVALID');
    expect(finding?.summary).toContain(part);
    expect(finding?.summary).toContain('ValidationError: Request ARN is invalid');
  });

  it('accepts other partitions', async () => {
    const outcome = await run({
      AWS_ROLE_ARN: 'arn:aws-cn:iam::111122223333:role/x',
      AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN,
    });
    expect(outcome.status).toBe('pass');
    expect(outcome.details?.partition).toBe('aws-cn');
  });

  it('ROLE_SESSION_NAME_INVALID for a 70-character session name', async () => {
    const outcome = await run({
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN,
      AWS_ROLE_SESSION_NAME: 'p'.repeat(70),
    });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['ROLE_SESSION_NAME_INVALID']);
    expect(outcome.findings?.[0]?.summary).toContain('70 characters');
  });

  it('accepts a valid session name and reports it', async () => {
    const outcome = await run({
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN,
      AWS_ROLE_SESSION_NAME: 'cart@shop',
    });
    expect(outcome.status).toBe('pass');
    expect(outcome.output?.sessionName).toBe('cart@shop');
  });

  it('warns about a relative token path', async () => {
    const outcome = await run({ AWS_ROLE_ARN: ROLE, AWS_WEB_IDENTITY_TOKEN_FILE: 'token' });
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('relative path');
  });

  it('describes whitespace and quotes', () => {
    expect(describeRoleArnProblem(` ${ROLE}`)).toContain('whitespace');
    expect(describeRoleArnProblem(`"${ROLE}"`)).toContain('quotes');
  });
});
