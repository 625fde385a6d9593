import type { ProbeResult } from '../aws/http';
import { describeNetFailure } from '../aws/http';
import { jsStsTarget } from '../aws/sts-client';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { SdkFamily, StsEndpointsOutput } from './outputs';
import { LINKS, remedy } from './remedies';
import { hostArg, sh, urlArg } from './shell';

const PROBE_TIMEOUT_MS = 1_500;

/**
 * sts.endpoints: DNS + TCP (+ TLS) to each distinct STS URL the SDK families would call from this env
 * (docs/failure-modes.md row 7). Only the JS SDK's endpoint can be the root cause, and only when sts.assume-role
 * could not say so itself; the others are reported in the summary (STS_GLOBAL_ENDPOINT is env.region's).
 */
export const stsEndpoints: Check<'sts.endpoints'> = {
  id: 'sts.endpoints',
  title: 'STS endpoints reachable',
  stage: 'sts',
  dependsOn: [],
  uses: ['env.region', 'env.irsa', 'sts.assume-role'],
  needs: 'network',
  timeoutMs: PROBE_TIMEOUT_MS + 1_000,
  async run(ctx, upstream, signal): Promise<CheckOutcome<StsEndpointsOutput>> {
    const region = upstream.output('env.region');
    const js = jsStsTarget(ctx.env, region);
    const bySdk = new Map<string, SdkFamily[]>();
    for (const e of region?.stsEndpoints ?? [{ sdk: 'js-v3' as const, url: js.endpoint, why: '' }]) {
      bySdk.set(e.url, [...(bySdk.get(e.url) ?? []), e.sdk]);
    }
    if (!bySdk.has(js.endpoint)) bySdk.set(js.endpoint, ['js-v3']);
    const urls = [...bySdk.keys()];
    const probes: ProbeResult[] = await Promise.all(
      urls.map((url) => ctx.net.probe(url, { timeoutMs: PROBE_TIMEOUT_MS, signal })),
    );
    const lines = probes.map((p) => {
      const sdks = (bySdk.get(p.url) ?? []).join(', ');
      return p.ok
        ? `${p.url} (${sdks}): ${p.url.startsWith('https:') ? 'TLS handshake' : 'TCP connect'} in ${p.elapsedMs} ms`
        : `${p.url} (${sdks}): ${p.failure ? describeNetFailure(p.failure) : 'unreachable'}`;
    });
    const details = Object.fromEntries(probes.map((p, i) => [`endpoint${i + 1}`, lines[i] ?? p.url]));
    const output: StsEndpointsOutput = {
      endpoints: probes.map((p) => ({ url: p.url, sdks: bySdk.get(p.url) ?? [], reachable: p.ok })),
    };
    const down = probes.filter((p) => !p.ok);
    if (down.length === 0) {
      // A connection says nothing about answers (a black hole accepts too): sts.assume-role tells those apart.
      const what =
        probes.length === 1
          ? 'the STS endpoint accepts connections'
          : `all ${probes.length} STS endpoints accept connections`;
      return {
        status: 'pass',
        summary: `${what} (DNS, TCP${probes.some((p) => p.url.startsWith('https:')) ? ', TLS' : ''})`,
        details,
        output,
      };
    }
    const jsDown = down.find((p) => p.url === js.endpoint);
    const assumeStatus = upstream.status('sts.assume-role');
    const irsaConfigured = upstream.status('env.irsa') === 'pass' || upstream.status('env.irsa') === 'warn';
    const findings: FindingInput[] = [];
    // sts.assume-role reports an unreachable STS itself when it ran; this covers the runs where it could not.
    if (jsDown && irsaConfigured && assumeStatus !== 'pass' && assumeStatus !== 'fail' && assumeStatus !== 'warn') {
      const host = hostnameOf(js.endpoint);
      findings.push({
        code: 'STS_UNREACHABLE',
        summary: `The STS endpoint the JS SDK would call, ${js.endpoint}, is not reachable from this pod: ${jsDown.failure ? describeNetFailure(jsDown.failure) : 'no connection'}.`,
        evidence: { endpoint: js.endpoint, region: js.region, elapsedMs: jsDown.elapsedMs },
        remedy: remedy(
          'Let the pod reach the regional STS endpoint: an STS interface VPC endpoint with private DNS, security groups and NetworkPolicies allowing 443, and the STS host in NO_PROXY when a proxy is set.',
          [
            sh`getent hosts ${hostArg(host, 'STS_HOST')}`,
            sh`curl -sS -o /dev/null -w '%{http_code}\\n' --max-time 5 ${urlArg(js.endpoint, 'STS_ENDPOINT')}`,
          ],
          [LINKS.stsEndpoint],
        ),
      });
    }
    return {
      status: findings.length > 0 ? 'fail' : 'warn',
      summary: `unreachable: ${down.map((p) => `${p.url} (${(bySdk.get(p.url) ?? []).join(', ')})`).join('; ')}`,
      details,
      output,
      findings,
    };
  },
};

/** AWS_ENDPOINT_URL(_STS) may be no URL at all (its probe then failed as invalid-url): shown as given. */
function hostnameOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return url;
  }
}
