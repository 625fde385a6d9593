import { CLOCK_SKEW_THRESHOLD_S, describeSkew, skewSeconds } from '../aws/clock';
import type { HttpAnswer } from '../aws/http';
import { NetError, describeNetFailure } from '../aws/http';
import { jsStsTarget } from '../aws/sts-client';
import type { Check, CheckOutcome } from '../run/types';
import { fetchableIssuerUrl } from './issuer-discovery';
import { clockRemedy } from './remedies';

const CLOCK_TIMEOUT_MS = 2_000;

export interface ClockSkewOutput {
  /** AWS's clock minus this pod's, in seconds. */
  readonly skewSeconds: number;
  /** Whose Date header it was. */
  readonly source: string;
}

/**
 * clock.skew: this pod's clock against AWS's, from the Date header of one request to the STS endpoint the
 * SDK would call (the issuer's discovery document when STS does not answer). A clock minutes off makes valid
 * tokens look expired or not yet valid and SigV4 signatures expired, which the STS and token checks then
 * report as their own failure; this names the clock instead (docs/mechanics.md 2.2, 3.3). The Pod Identity
 * agent's Date header would not do: it runs on this node, with this clock.
 */
export const clockSkew: Check<'clock.skew'> = {
  id: 'clock.skew',
  title: "This pod's clock against AWS's",
  // With the AWS calls: its answer is AWS's, and --offline leaves it out with them. Listed before
  // sts.assume-role, so that it explains that check's failures as the root cause.
  stage: 'sts',
  dependsOn: [],
  uses: ['env.region', 'token.claims'],
  needs: 'network',
  timeoutMs: 2 * CLOCK_TIMEOUT_MS + 500,
  async run(ctx, upstream, signal): Promise<CheckOutcome<ClockSkewOutput>> {
    const sts = jsStsTarget(ctx.env, upstream.output('env.region')).endpoint;
    const iss = upstream.output('token.claims')?.iss;
    const candidates = [sts, ...(iss ? [`${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`] : [])];
    const tried: string[] = [];
    for (const url of candidates) {
      if (url !== sts && !fetchableIssuerUrl(url).ok) continue;
      let answer: HttpAnswer;
      try {
        answer = await ctx.net.request(url, { timeoutMs: CLOCK_TIMEOUT_MS, signal, maxBytes: 16 * 1024 });
      } catch (error) {
        if (!(error instanceof NetError)) throw error;
        tried.push(`${url}: ${describeNetFailure(error)}`);
        continue;
      }
      const localMs = ctx.clock.now();
      const header = answer.headers.date;
      const awsMs = header === undefined ? Number.NaN : Date.parse(header);
      if (!Number.isFinite(awsMs)) {
        tried.push(`${url}: answered without a usable Date header`);
        continue;
      }
      return outcomeOf(skewSeconds(awsMs, localMs), url, header as string, localMs);
    }
    return {
      status: 'skip',
      summary: `skipped: no AWS endpoint answered with its time (${tried.join('; ') || 'nothing to ask'}), so this pod's clock was not compared`,
    };
  },
};

function outcomeOf(skew: number, source: string, header: string, localMs: number): CheckOutcome<ClockSkewOutput> {
  const output: ClockSkewOutput = { skewSeconds: skew, source };
  const details = { source, awsDate: header, podDate: new Date(localMs).toUTCString(), skewSeconds: skew };
  // The Date header has second resolution and arrives after the round trip: a few seconds say nothing.
  if (Math.abs(skew) < CLOCK_SKEW_THRESHOLD_S) {
    return {
      status: 'pass',
      summary: `this pod's clock agrees with AWS's (Date of ${source}) within ${Math.max(1, Math.abs(skew))} s`,
      output,
      details,
    };
  }
  return {
    status: 'fail',
    summary: `this pod's clock is ${describeSkew(skew)} AWS's`,
    output,
    details,
    findings: [
      {
        code: 'CLOCK_SKEW',
        summary: `This pod's clock says ${new Date(localMs).toISOString()}, AWS's (the Date header of ${source}) ${new Date(header).toISOString()}: this clock is ${describeSkew(skew)} AWS's. Pods share their node's clock, so the node's time synchronisation is off. Tokens then look expired or not yet valid, the kubelet refreshes them at the wrong time, and signed AWS requests fail with "Signature expired" or "Signature not yet current". Upgrading the SDK or recreating the pod does not help.`,
        evidence: { source, awsDate: header, podDate: new Date(localMs).toUTCString(), skewSeconds: skew },
        remedy: clockRemedy(),
      },
    ],
  };
}
