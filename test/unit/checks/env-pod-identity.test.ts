import { describe, expect, it } from 'vitest';
import type { MechanismOutput } from '../../../src/checks/env-mechanism';
import { containerUriProblem, envPodIdentity } from '../../../src/checks/env-pod-identity';
import type { Env } from '../../../src/context/context';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';

const podMechanism: MechanismOutput = { mechanism: 'pod-identity', irsa: false, podIdentity: true, staticKeys: false };
const URI = 'http://169.254.170.23/v1/credentials';
const FILE = '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token';

const run = (env: Env, mechanism: MechanismOutput = podMechanism) =>
  envPodIdentity.run(fixtureContext({ env }), upstreamOf({ 'env.mechanism': mechanism }), new AbortController().signal);

describe('env.pod-identity', () => {
  it('passes with the webhook pair', async () => {
    const outcome = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: URI,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE,
    });
    expect(outcome.status).toBe('pass');
    expect(outcome.output).toEqual({ fullUri: URI, tokenFile: FILE });
  });

  it('skips without Pod Identity variables', async () => {
    const outcome = await run({}, { mechanism: 'irsa', irsa: true, podIdentity: false, staticKeys: false });
    expect(outcome.status).toBe('skip');
  });

  it('runs beside IRSA when both sets are present', async () => {
    const outcome = await run(
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE },
      { mechanism: 'irsa', irsa: true, podIdentity: true, staticKeys: false },
    );
    expect(outcome.status).toBe('pass');
  });

  it('POD_IDENTITY_ENV_PARTIAL: token file without the URI', async () => {
    const outcome = await run({ AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE });
    expect(outcome.status).toBe('fail');
    expect(outcome.findings?.map((f) => f.code)).toEqual(['POD_IDENTITY_ENV_PARTIAL']);
    expect(outcome.findings?.[0]?.summary).toContain('AWS_CONTAINER_CREDENTIALS_FULL_URI is not');
  });

  it('POD_IDENTITY_ENV_PARTIAL: URI without any token', async () => {
    const outcome = await run({ AWS_CONTAINER_CREDENTIALS_FULL_URI: URI });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['POD_IDENTITY_ENV_PARTIAL']);
    expect(outcome.findings?.[0]?.summary).toContain('Service account token cannot be empty');
  });

  it('accepts an inline token, masks it, and warns that it is never refreshed', async () => {
    const secret = 'eyJhbGciOiJSUzI1NiJ9.inline-secret-value.sig';
    const outcome = await run({ AWS_CONTAINER_CREDENTIALS_FULL_URI: URI, AWS_CONTAINER_AUTHORIZATION_TOKEN: secret });
    expect(outcome.status).toBe('warn');
    expect(outcome.output).toEqual({ fullUri: URI, tokenFile: undefined });
    expect(JSON.stringify(outcome)).not.toContain('inline-secret-value');
    expect(outcome.details?.inlineToken).toMatch(/^<set, \d+ chars, hidden>$/);
  });

  it('POD_IDENTITY_URI_INVALID for plain http to another host', async () => {
    const outcome = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://credentials.example.com/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE,
    });
    expect(outcome.status).toBe('fail');
    const finding = outcome.findings?.find((f) => f.code === 'POD_IDENTITY_URI_INVALID');
    expect(finding?.summary).toContain('credentials.example.com');
  });

  it('warns when RELATIVE_URI also set: JS uses it', async () => {
    const outcome = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: URI,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE,
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc',
    });
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('JS SDK v3 uses it');
  });

  it('passes for a loopback credentials server, noting it is not the EKS agent', async () => {
    const outcome = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:40123/v1/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE,
    });
    expect(outcome.status).toBe('pass');
    expect(outcome.details?.uriNote).toContain('not the EKS Pod Identity agent');
  });

  it('warns for the ECS address', async () => {
    const outcome = await run({
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.2/v2/credentials',
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: FILE,
    });
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('ECS');
  });

  it.each([
    ['http://169.254.170.23/v1/credentials', undefined],
    ['http://[fd00:ec2::23]/v1/credentials', undefined],
    ['http://169.254.170.2/v2/credentials', undefined],
    ['http://127.0.0.5:8080/creds', undefined],
    ['http://localhost/creds', undefined],
    ['http://[::1]/creds', undefined],
    ['https://creds.example.com/x', undefined],
    ['http://10.0.0.1/creds', 'plain http'],
    ['ftp://169.254.170.23/x', 'scheme'],
    ['not a url', 'not a URL'],
  ])('URI %s', (uri, problem) => {
    const found = containerUriProblem(uri);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});
