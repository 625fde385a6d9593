import { describe, expect, it } from 'vitest';
import { envProxy, inCidr, noProxyCovers, redactProxy } from '../../../src/checks/env-proxy';
import type { RegionOutput } from '../../../src/checks/outputs';
import type { Env } from '../../../src/context/context';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';

const POD_ID = { fullUri: 'http://169.254.170.23/v1/credentials', tokenFile: '/t' };
const region: RegionOutput = {
  region: 'us-west-2',
  regionSource: 'AWS_REGION',
  stsEndpoint: 'https://sts.us-west-2.amazonaws.com',
  stsEndpoints: [
    { sdk: 'js-v3', url: 'https://sts.us-west-2.amazonaws.com', why: '' },
    { sdk: 'boto3', url: 'https://sts.us-west-2.amazonaws.com', why: '' },
    { sdk: 'go-v2', url: 'https://sts.us-west-2.amazonaws.com', why: '' },
  ],
};
const IRSA: Env = { AWS_ROLE_ARN: 'arn:aws:iam::111122223333:role/x', AWS_WEB_IDENTITY_TOKEN_FILE: '/t' };

const run = (env: Env, outputs: Parameters<typeof upstreamOf>[0] = {}) =>
  envProxy.run(fixtureContext({ env }), upstreamOf(outputs), new AbortController().signal);

describe('NO_PROXY matching', () => {
  it.each([
    ['169.254.170.23', '169.254.170.23', '80', 'go', true],
    ['169.254.0.0/16', '169.254.170.23', '80', 'go', true],
    ['169.254.0.0/16', '169.254.170.23', '80', 'python', false],
    ['10.0.0.0/8', '169.254.170.23', '80', 'go', false],
    ['fd00:ec2::/64', 'fd00:ec2::23', '80', 'go', true],
    ['[fd00:ec2::23]', '[fd00:ec2::23]', '80', 'go', true],
    ['*', 'sts.us-west-2.amazonaws.com', '443', 'go', true],
    ['localhost,*', 'sts.us-west-2.amazonaws.com', '443', 'python', false],
    ['.amazonaws.com', 'sts.us-west-2.amazonaws.com', '443', 'go', true],
    ['amazonaws.com', 'sts.us-west-2.amazonaws.com', '443', 'go', true],
    ['.sts.amazonaws.com', 'sts.amazonaws.com', '443', 'go', false],
    ['.sts.amazonaws.com', 'sts.amazonaws.com', '443', 'python', true],
    ['sts.us-west-2.amazonaws.com:443', 'sts.us-west-2.amazonaws.com', '443', 'go', true],
    ['sts.us-west-2.amazonaws.com:8443', 'sts.us-west-2.amazonaws.com', '443', 'go', false],
    ['example.com', 'notexample.com', '443', 'go', false],
    [' 169.254.169.254 , 169.254.170.23 ', '169.254.170.23', '80', 'python', true],
  ] as const)('%s covers %s:%s (%s): %s', (value, host, port, dialect, expected) => {
    expect(noProxyCovers(value, host, port, dialect)).toBe(expected);
  });

  it('CIDR edges', () => {
    expect(inCidr('169.254.255.255', '169.254.0.0/16')).toBe(true);
    expect(inCidr('169.255.0.0', '169.254.0.0/16')).toBe(false);
    expect(inCidr('1.2.3.4', '0.0.0.0/0')).toBe(true);
    expect(inCidr('1.2.3.4', 'garbage/8')).toBe(false);
  });

  it('redacts proxy credentials', () => {
    expect(redactProxy('http://user:hunter2@proxy:3128')).toBe('http://***@proxy:3128');
  });
});

describe('env.proxy', () => {
  it('passes without proxy variables', async () => {
    expect((await run(IRSA)).status).toBe('pass');
  });

  it('PROXY_INTERCEPTS_METADATA: Pod Identity agent through HTTP_PROXY without NO_PROXY (Go only)', async () => {
    const outcome = await run({ HTTP_PROXY: 'http://user:hunter2@proxy:3128' }, { 'env.pod-identity': POD_ID });
    expect(outcome.status).toBe('fail');
    const [finding] = outcome.findings ?? [];
    expect(finding?.code).toBe('PROXY_INTERCEPTS_METADATA');
    expect(finding?.summary).toContain('Go SDK v2 sends the Pod Identity agent call (169.254.170.23)');
    expect(finding?.summary).not.toContain('boto3 sends');
    expect(finding?.remedy.commands[0]).toContain('NO_PROXY=169.254.170.23,fd00:ec2::23,169.254.169.254');
    expect(JSON.stringify(outcome)).not.toContain('hunter2');
  });

  it('passes when NO_PROXY covers the agent', async () => {
    const outcome = await run(
      { HTTP_PROXY: 'http://proxy:3128', NO_PROXY: '169.254.170.23' },
      { 'env.pod-identity': POD_ID },
    );
    expect(outcome.status).toBe('pass');
  });

  it('IRSA: the STS call of boto3 and Go through HTTPS_PROXY; a CIDR NO_PROXY does not help botocore', async () => {
    const outcome = await run(
      { ...IRSA, https_proxy: 'http://proxy:3128', no_proxy: '.amazonaws.com' },
      { 'env.region': region },
    );
    expect(outcome.status).toBe('pass');
    const lowerOnly = await run(
      { ...IRSA, HTTPS_PROXY: 'http://proxy:3128', no_proxy: '10.0.0.0/8' },
      { 'env.region': region },
    );
    expect(lowerOnly.findings?.[0]?.summary).toContain('boto3 sends the STS');
    expect(lowerOnly.findings?.[0]?.summary).toContain('Go SDK v2 sends the STS');
  });

  it('Go reads NO_PROXY before no_proxy; botocore the other way round', async () => {
    const outcome = await run(
      { ...IRSA, HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: 'example.com', no_proxy: '.amazonaws.com' },
      { 'env.region': region },
    );
    const summary = outcome.findings?.[0]?.summary ?? '';
    expect(summary).toContain('Go SDK v2 sends the STS');
    expect(summary).not.toContain('boto3 sends');
  });

  it('without IRSA or Pod Identity, IMDS through the proxy is flagged', async () => {
    const outcome = await run({ http_proxy: 'http://proxy:3128' });
    expect(outcome.findings?.[0]?.summary).toContain('IMDS call (169.254.169.254)');
  });
});
