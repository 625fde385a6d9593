import {
  AWS_DEFAULT_REGION,
  AWS_ENDPOINT_URL,
  AWS_ENDPOINT_URL_STS,
  AWS_REGION,
  AWS_STS_REGIONAL_ENDPOINTS,
} from '../aws/env-names';
import { STS_GLOBAL_URL, looksLikeRegion, stsRegionalUrl } from '../aws/partitions';
import { stsEndpointProblem } from '../aws/sts-client';
import type { Env } from '../context/context';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { RegionOutput, SdkFamily } from './outputs';
import { readPodSelf } from '../context/pod-self';
import type { PodRef } from './remedies';
import { LINKS, podRemedy, remedy, setEnvCommands } from './remedies';
import type { ShellValue } from './shell';
import { fragment, namespaceArg, placeholder, serviceAccountArg, sh } from './shell';

/** Disables AWS_ENDPOINT_URL(_STS) in all three SDK families (docs/mechanics.md 4.1 "Other environment variables"). */
const AWS_IGNORE_CONFIGURED_ENDPOINT_URLS = 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS';

/**
 * The regions where botocore's `legacy` STS mode calls the global endpoint (botocore args.py
 * LEGACY_GLOBAL_STS_REGIONS; docs/mechanics.md 4.2: "the global endpoint for 16 legacy regions", aws-global included).
 */
const LEGACY_GLOBAL_STS_REGIONS: ReadonlySet<string> = new Set([
  'ap-northeast-1',
  'ap-south-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'aws-global',
  'ca-central-1',
  'eu-central-1',
  'eu-north-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
]);

interface EndpointChoice {
  readonly sdk: SdkFamily;
  readonly url: string;
  readonly why: string;
}

/** The endpoint override every SDK family applies to STS, or undefined (docs/mechanics.md 4.1). */
export function stsEndpointOverride(env: Env): { url: string; variable: string } | undefined {
  const ignored = (env[AWS_IGNORE_CONFIGURED_ENDPOINT_URLS] ?? '').toLowerCase() === 'true';
  if (ignored) return undefined;
  if (env[AWS_ENDPOINT_URL_STS]) return { url: env[AWS_ENDPOINT_URL_STS], variable: AWS_ENDPOINT_URL_STS };
  if (env[AWS_ENDPOINT_URL]) return { url: env[AWS_ENDPOINT_URL], variable: AWS_ENDPOINT_URL };
  return undefined;
}

/**
 * Where each SDK family sends the web identity STS call from this env (docs/mechanics.md 4.1-4.4):
 * JS v3 reads only AWS_REGION (else us-east-1) and is always regional; botocore reads only AWS_DEFAULT_REGION
 * (else the global endpoint) and honours AWS_STS_REGIONAL_ENDPOINTS; Go v2 reads AWS_REGION then
 * AWS_DEFAULT_REGION and is always regional. Go without any region cannot resolve an endpoint at all.
 */
export function stsEndpointsFor(env: Env): { endpoints: EndpointChoice[]; goNoRegion: boolean } {
  const override = stsEndpointOverride(env);
  const awsRegion = env[AWS_REGION] || undefined;
  const defaultRegion = env[AWS_DEFAULT_REGION] || undefined;
  const stsMode = env[AWS_STS_REGIONAL_ENDPOINTS] || undefined;
  const endpoints: EndpointChoice[] = [];
  if (override) {
    for (const sdk of ['js-v3', 'boto3', 'go-v2'] as const) {
      endpoints.push({ sdk, url: override.url, why: `${override.variable} overrides the STS endpoint` });
    }
    return { endpoints, goNoRegion: false };
  }

  endpoints.push(
    awsRegion
      ? { sdk: 'js-v3', url: stsRegionalUrl(awsRegion), why: `AWS_REGION=${awsRegion}, always the regional endpoint` }
      : {
          sdk: 'js-v3',
          url: stsRegionalUrl('us-east-1'),
          why: `no AWS_REGION${defaultRegion ? ' (JS v3 never reads AWS_DEFAULT_REGION)' : ''}: the default STS region us-east-1`,
        },
  );

  if (!defaultRegion) {
    endpoints.push({
      sdk: 'boto3',
      url: STS_GLOBAL_URL,
      why: `no AWS_DEFAULT_REGION${awsRegion ? ' (botocore does not read AWS_REGION)' : ''}: the global endpoint, unless the app creates its first client with region_name`,
    });
  } else if (stsMode === 'legacy' && LEGACY_GLOBAL_STS_REGIONS.has(defaultRegion)) {
    endpoints.push({
      sdk: 'boto3',
      url: STS_GLOBAL_URL,
      why: `AWS_STS_REGIONAL_ENDPOINTS=legacy and ${defaultRegion} is one of the legacy regions: the global endpoint`,
    });
  } else {
    const mode =
      stsMode === 'regional'
        ? 'AWS_STS_REGIONAL_ENDPOINTS=regional'
        : stsMode === 'legacy'
          ? `AWS_STS_REGIONAL_ENDPOINTS=legacy, but ${defaultRegion} is not a legacy region`
          : LEGACY_GLOBAL_STS_REGIONS.has(defaultRegion)
            ? 'regional by default since botocore 1.40.0 (older botocore calls the global endpoint for this region)'
            : 'regional';
    endpoints.push({
      sdk: 'boto3',
      url: stsRegionalUrl(defaultRegion),
      why: `AWS_DEFAULT_REGION=${defaultRegion}, ${mode}`,
    });
  }

  const goRegion = awsRegion ?? defaultRegion;
  if (goRegion) {
    endpoints.push({
      sdk: 'go-v2',
      url: stsRegionalUrl(goRegion),
      why: `${awsRegion ? 'AWS_REGION' : 'AWS_DEFAULT_REGION'}=${goRegion}, always the regional endpoint`,
    });
  }
  return { endpoints, goNoRegion: goRegion === undefined };
}

/**
 * env.region: the region variables, AWS_STS_REGIONAL_ENDPOINTS and endpoint overrides, and the STS URL each SDK
 * family would call from them (docs/failure-modes.md row 7).
 */
export const envRegion: Check<'env.region'> = {
  id: 'env.region',
  title: 'Region and STS endpoint',
  stage: 'env',
  dependsOn: [],
  async run(ctx): Promise<CheckOutcome<RegionOutput>> {
    const env = ctx.env;
    const awsRegion = env[AWS_REGION] || undefined;
    const defaultRegion = env[AWS_DEFAULT_REGION] || undefined;
    const stsMode = env[AWS_STS_REGIONAL_ENDPOINTS] || undefined;
    const override = stsEndpointOverride(env);
    const { endpoints, goNoRegion } = stsEndpointsFor(env);
    const region = awsRegion ?? defaultRegion;
    const regionSource = awsRegion ? AWS_REGION : defaultRegion ? AWS_DEFAULT_REGION : undefined;
    const js = endpoints.find((e) => e.sdk === 'js-v3') as EndpointChoice;
    const output: RegionOutput = {
      region,
      regionSource,
      stsEndpoints: endpoints,
      stsEndpoint: js.url,
    };

    const findings: FindingInput[] = [];
    const notes: string[] = [];
    const self = await readPodSelf(ctx);
    // A region that looks like one is a value from the env (quoted); else the placeholder the user fills in.
    const regionValue = region !== undefined && looksLikeRegion(region) ? region : placeholder('REGION');
    const assign = (name: 'AWS_REGION' | 'AWS_DEFAULT_REGION'): ShellValue => fragment(sh`${name}=${regionValue}`);
    const setRegion = (pod: PodRef) => setEnvCommands(pod, [assign('AWS_REGION'), assign('AWS_DEFAULT_REGION')]);

    if (!awsRegion && !defaultRegion) {
      findings.push({
        code: 'REGION_MISSING',
        summary:
          'Neither AWS_REGION nor AWS_DEFAULT_REGION is set. The JS SDK v3 sends the web identity call to us-east-1 (with "default STS region of us-east-1 used"), boto3 to the global https://sts.amazonaws.com, and the Go SDK v2 cannot resolve an STS endpoint at all ("an AWS region is required"). The webhook sets both when it runs with a default region; on Fargate, region must come from env.',
        evidence: { AWS_REGION: null, AWS_DEFAULT_REGION: null },
        ...podRemedy(self, (pod) =>
          remedy('Set both region variables in the container spec to the cluster region.', setRegion(pod), [
            LINKS.stsEndpoint,
          ]),
        ),
      });
    } else if (!awsRegion) {
      findings.push({
        code: 'REGION_MISSING',
        summary: `Only AWS_DEFAULT_REGION (${defaultRegion}) is set. The JS SDK v3 never reads AWS_DEFAULT_REGION: its clients have no region ("Region is missing") and its web identity call goes to us-east-1. boto3 and the Go SDK v2 use ${defaultRegion}.`,
        evidence: { AWS_REGION: null, AWS_DEFAULT_REGION: defaultRegion },
        ...podRemedy(self, (pod) => remedy('Set AWS_REGION to the same region.', setRegion(pod), [LINKS.stsEndpoint])),
      });
    } else if (defaultRegion && defaultRegion !== awsRegion) {
      notes.push(
        `AWS_REGION=${awsRegion} and AWS_DEFAULT_REGION=${defaultRegion} differ: JS v3 and Go v2 use ${awsRegion}, boto3 uses ${defaultRegion}`,
      );
    }
    for (const [name, value] of [
      [AWS_REGION, awsRegion],
      [AWS_DEFAULT_REGION, defaultRegion],
    ] as const) {
      if (value !== undefined && !looksLikeRegion(value)) {
        notes.push(`${name}=${value.slice(0, 60)} does not look like a region name (e.g. us-west-2, not us-west-2a)`);
      }
    }
    if (stsMode !== undefined && stsMode !== 'regional' && stsMode !== 'legacy') {
      // botocore validates the value when it builds an STS client (InvalidSTSRegionalEndpointsConfigError).
      notes.push(
        `AWS_STS_REGIONAL_ENDPOINTS=${stsMode.slice(0, 40)} is neither "regional" nor "legacy": boto3 raises InvalidSTSRegionalEndpointsConfigError when it creates an STS client`,
      );
    }

    // Only the global AWS_ENDPOINT_URL is a warning: it is usually set for another service (LocalStack, a mock)
    // and silently takes the IRSA call along. AWS_ENDPOINT_URL_STS names STS on purpose (e.g. a VPC endpoint
    // DNS name, or a test STS) and is shown, not flagged.
    if (override?.variable === AWS_ENDPOINT_URL) {
      findings.push({
        code: 'ENDPOINT_OVERRIDE',
        summary: `AWS_ENDPOINT_URL=${override.url.slice(0, 200)} sends the STS call of every SDK there, including the web identity (IRSA) call the SDK makes on its own: a global AWS_ENDPOINT_URL set for LocalStack or a mock also redirects IRSA.`,
        evidence: { variable: override.variable, url: override.url.slice(0, 300) },
        ...podRemedy(self, (pod) =>
          remedy(
            'Unless this is intended, scope the override to the service it is for (AWS_ENDPOINT_URL_<SERVICE>, e.g. AWS_ENDPOINT_URL_S3) and remove AWS_ENDPOINT_URL.',
            setEnvCommands(pod, [`${override.variable}-`]),
            [LINKS.sdkChain],
          ),
        ),
      });
    }
    // An endpoint that is no URL (a typo in the override, a region that makes no host name) fails every call
    // of that SDK before it is sent; sts.assume-role would otherwise only see the SDK's bare TypeError.
    const invalid = endpoints
      .map((e) => ({ ...e, problem: stsEndpointProblem(e.url) }))
      .filter((e): e is EndpointChoice & { problem: string } => e.problem !== undefined);
    const firstInvalid = invalid[0];
    if (firstInvalid) {
      const source = override ? override.variable : awsRegion ? AWS_REGION : AWS_DEFAULT_REGION;
      findings.push({
        code: 'STS_ENDPOINT_INVALID',
        summary: `The STS endpoint ${invalid.map((e) => e.sdk).join(', ')} would call, "${firstInvalid.url.slice(0, 200)}", ${firstInvalid.problem} (from ${source}): the SDK fails before any request is sent, for the web identity call too, and the app gets no credentials.`,
        evidence: { sdks: invalid.map((e) => e.sdk), url: firstInvalid.url.slice(0, 300), variable: source },
        ...podRemedy(self, (pod) =>
          remedy(
            override
              ? `Fix ${override.variable} to a full URL such as https://sts.${looksLikeRegion(region ?? '') ? region : 'us-west-2'}.amazonaws.com, or remove it so the SDKs use the regional endpoint.`
              : `Set ${source} to a region name such as us-west-2.`,
            override ? setEnvCommands(pod, [`${override.variable}-`]) : setRegion(pod),
            [LINKS.stsEndpoint],
          ),
        ),
      });
    }

    const global = endpoints.filter((e) => e.url === STS_GLOBAL_URL);
    if (global.length > 0) {
      const sdks = global.map((e) => e.sdk).join(', ');
      findings.push({
        code: 'STS_GLOBAL_ENDPOINT',
        summary: `${sdks} would call the global STS endpoint ${STS_GLOBAL_URL} (${global.map((e) => e.why).join('; ')}). It lives in us-east-1 and is often unreachable from private VPCs with only a regional STS VPC endpoint.`,
        evidence: { sdks: global.map((e) => e.sdk), reasons: global.map((e) => e.why) },
        ...podRemedy(self, (pod) =>
          remedy(
            'Set AWS_DEFAULT_REGION (boto3 reads only that one) and AWS_STS_REGIONAL_ENDPOINTS=regional, or annotate the ServiceAccount with eks.amazonaws.com/sts-regional-endpoints=true and recreate the pod.',
            [
              ...setEnvCommands(pod, [assign('AWS_DEFAULT_REGION'), 'AWS_STS_REGIONAL_ENDPOINTS=regional']),
              sh`kubectl annotate serviceaccount ${serviceAccountArg(self.serviceAccount)} -n ${namespaceArg(self.namespace)} --overwrite eks.amazonaws.com/sts-regional-endpoints=true   # or the webhook's way, for the pods created after it`,
            ],
            [LINKS.stsEndpoint],
          ),
        ),
      });
    }

    const details: Record<string, string> = {
      region: region ? `${region} (${regionSource})` : '(none)',
      stsRegionalEndpoints: stsMode ?? '(not set)',
    };
    for (const e of endpoints) details[e.sdk] = `${e.url} (${e.why})`;
    if (goNoRegion) details['go-v2'] = 'no endpoint: without a region the Go SDK v2 cannot resolve STS';

    const warnings = findings.length > 0 || notes.length > 0;
    const summaryParts = [
      ...findings.map((f) =>
        f.code === 'REGION_MISSING'
          ? awsRegion || defaultRegion
            ? 'AWS_REGION missing (JS v3 reads only that)'
            : 'no region'
          : f.code === 'ENDPOINT_OVERRIDE'
            ? `STS endpoint overridden by ${override?.variable}`
            : f.code === 'STS_ENDPOINT_INVALID'
              ? `the STS endpoint ${firstInvalid?.url.slice(0, 100)} ${firstInvalid?.problem}`
              : `${global.map((e) => e.sdk).join(', ')} would use the global STS endpoint`,
      ),
      ...notes,
    ];
    return {
      status: firstInvalid ? 'fail' : warnings ? 'warn' : 'pass',
      summary: warnings
        ? summaryParts.join('; ')
        : `region ${region}, STS ${js.url}${override ? ` (set by ${override.variable})` : ''}`,
      details,
      output,
      findings,
    };
  },
};
