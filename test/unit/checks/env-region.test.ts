import { describe, expect, it } from 'vitest';
import { envRegion } from '../../../src/checks/env-region';
import { partitionOfRegion, stsRegionalUrl } from '../../../src/aws/partitions';
import type { Env } from '../../../src/context/context';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';

const run = (env: Env) => envRegion.run(fixtureContext({ env }), upstreamOf({}), new AbortController().signal);
const urlOf = (outcome: Awaited<ReturnType<typeof run>>, sdk: string) =>
  outcome.output?.stsEndpoints.find((e) => e.sdk === sdk)?.url;

describe('partitions', () => {
  it.each([
    ['us-west-2', 'aws', 'https://sts.us-west-2.amazonaws.com'],
    ['cn-north-1', 'aws-cn', 'https://sts.cn-north-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'aws-us-gov', 'https://sts.us-gov-west-1.amazonaws.com'],
    ['us-iso-east-1', 'aws-iso', 'https://sts.us-iso-east-1.c2s.ic.gov'],
    ['us-isob-east-1', 'aws-iso-b', 'https://sts.us-isob-east-1.sc2s.sgov.gov'],
    ['eusc-de-east-1', 'aws-eusc', 'https://sts.eusc-de-east-1.amazonaws.eu'],
  ])('%s is in %s', (region, partition, url) => {
    expect(partitionOfRegion(region)).toBe(partition);
    expect(stsRegionalUrl(region)).toBe(url);
  });
});

describe('env.region', () => {
  it('passes for what the EKS webhook injects', async () => {
    const outcome = await run({
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_STS_REGIONAL_ENDPOINTS: 'regional',
    });
    expect(outcome.status).toBe('pass');
    expect(outcome.findings).toEqual([]);
    expect(outcome.output).toMatchObject({
      region: 'eu-west-1',
      regionSource: 'AWS_REGION',
      stsEndpoint: 'https://sts.eu-west-1.amazonaws.com',
    });
    for (const sdk of ['js-v3', 'boto3', 'go-v2'])
      expect(urlOf(outcome, sdk)).toBe('https://sts.eu-west-1.amazonaws.com');
  });

  it('REGION_MISSING with no region: JS us-east-1, boto3 global, Go none', async () => {
    const outcome = await run({});
    const codes = outcome.findings?.map((f) => f.code);
    expect(codes).toContain('REGION_MISSING');
    expect(codes).toContain('STS_GLOBAL_ENDPOINT');
    expect(outcome.output?.stsEndpoint).toBe('https://sts.us-east-1.amazonaws.com');
    expect(urlOf(outcome, 'boto3')).toBe('https://sts.amazonaws.com');
    expect(urlOf(outcome, 'go-v2')).toBeUndefined();
    expect(outcome.details?.['go-v2']).toContain('cannot resolve');
  });

  it('only AWS_REGION: boto3 goes global (STS_GLOBAL_ENDPOINT)', async () => {
    const outcome = await run({ AWS_REGION: 'ap-south-1' });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['STS_GLOBAL_ENDPOINT']);
    expect(outcome.findings?.[0]?.summary).toContain('botocore does not read AWS_REGION');
    expect(urlOf(outcome, 'go-v2')).toBe('https://sts.ap-south-1.amazonaws.com');
  });

  it('only AWS_DEFAULT_REGION: JS v3 never reads it (REGION_MISSING), the others use it', async () => {
    const outcome = await run({ AWS_DEFAULT_REGION: 'cn-northwest-1' });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['REGION_MISSING']);
    expect(outcome.findings?.[0]?.summary).toContain('never reads AWS_DEFAULT_REGION');
    expect(outcome.output?.stsEndpoint).toBe('https://sts.us-east-1.amazonaws.com');
    expect(urlOf(outcome, 'boto3')).toBe('https://sts.cn-northwest-1.amazonaws.com.cn');
    expect(urlOf(outcome, 'go-v2')).toBe('https://sts.cn-northwest-1.amazonaws.com.cn');
  });

  it('legacy mode sends boto3 to the global endpoint in a legacy region only', async () => {
    const legacy = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_STS_REGIONAL_ENDPOINTS: 'legacy',
    });
    expect(urlOf(legacy, 'boto3')).toBe('https://sts.amazonaws.com');
    expect(legacy.findings?.map((f) => f.code)).toEqual(['STS_GLOBAL_ENDPOINT']);
    const newer = await run({
      AWS_REGION: 'ap-east-1',
      AWS_DEFAULT_REGION: 'ap-east-1',
      AWS_STS_REGIONAL_ENDPOINTS: 'legacy',
    });
    expect(urlOf(newer, 'boto3')).toBe('https://sts.ap-east-1.amazonaws.com');
    expect(newer.findings).toEqual([]);
  });

  it('warns on an invalid AWS_STS_REGIONAL_ENDPOINTS value', async () => {
    const outcome = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_STS_REGIONAL_ENDPOINTS: 'true',
    });
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('InvalidSTSRegionalEndpointsConfigError');
  });

  it('ENDPOINT_OVERRIDE: a global AWS_ENDPOINT_URL redirects IRSA too', async () => {
    const outcome = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ENDPOINT_URL: 'http://localstack:4566',
    });
    expect(outcome.findings?.map((f) => f.code)).toEqual(['ENDPOINT_OVERRIDE']);
    expect(outcome.findings?.[0]?.summary).toContain('LocalStack');
    expect(outcome.output?.stsEndpoint).toBe('http://localstack:4566');
  });

  it('AWS_ENDPOINT_URL_STS wins over AWS_ENDPOINT_URL; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS turns both off', async () => {
    const both = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ENDPOINT_URL: 'http://a:1',
      AWS_ENDPOINT_URL_STS: 'http://b:2',
    });
    expect(both.output?.stsEndpoint).toBe('http://b:2');
    // Naming STS on purpose (a VPC endpoint name, a test STS) is shown, not flagged.
    const stsOnly = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ENDPOINT_URL_STS: 'http://b:2',
    });
    expect(stsOnly.status).toBe('pass');
    expect(stsOnly.summary).toContain('set by AWS_ENDPOINT_URL_STS');
    const ignored = await run({
      AWS_REGION: 'us-west-2',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ENDPOINT_URL: 'http://a:1',
      AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true',
    });
    expect(ignored.output?.stsEndpoint).toBe('https://sts.us-west-2.amazonaws.com');
    expect(ignored.findings).toEqual([]);
  });

  it('warns when the two region variables differ, and on an AZ used as a region', async () => {
    const outcome = await run({ AWS_REGION: 'us-west-2a', AWS_DEFAULT_REGION: 'eu-west-1' });
    expect(outcome.status).toBe('warn');
    expect(outcome.summary).toContain('differ');
    expect(outcome.summary).toContain('does not look like a region');
  });
});
