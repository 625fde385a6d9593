import type { AssumedRole } from '../aws/sts-client';
import { assumeRoleWithWebIdentity, getCallerIdentity, jsStsTarget, stsEndpointProblem } from '../aws/sts-client';
import { classifyStsError } from '../aws/sts-errors';
import type { Check, CheckOutcome } from '../run/types';
import type { AssumeRoleOutput } from './outputs';
import type { StsCallFacts } from './sts-findings';
import { stsFinding } from './sts-findings';

/**
 * sts.assume-role: AssumeRoleWithWebIdentity with this pod's token and AWS_ROLE_ARN, made as the JS SDK's
 * fromTokenFile makes it (unsigned, AWS_REGION else us-east-1, AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL
 * honoured; docs/mechanics.md 4.1). The credentials prove themselves with one GetCallerIdentity and are dropped.
 */
export const stsAssumeRole: Check<'sts.assume-role'> = {
  id: 'sts.assume-role',
  title: 'STS AssumeRoleWithWebIdentity',
  stage: 'sts',
  dependsOn: ['env.irsa', 'token.file'],
  uses: ['env.region', 'token.claims'],
  needs: 'network',
  timeoutMs: 10_500,
  async run(ctx, upstream, signal): Promise<CheckOutcome<AssumeRoleOutput>> {
    const irsa = upstream.output('env.irsa');
    const tokenFile = upstream.output('token.file');
    if (!irsa || !tokenFile) return { status: 'skip', summary: 'skipped: no IRSA role or token' };
    const target = jsStsTarget(ctx.env, upstream.output('env.region'));
    const sessionName = irsa.sessionName || `irsa-doctor-${Math.round(ctx.clock.now())}`;
    const facts = { identity: { expectedRoleArn: irsa.roleArn.arn } };
    const details = { endpoint: target.endpoint, region: target.region, sessionName };
    const callFacts = (operation: string): StsCallFacts => ({
      endpoint: target.endpoint,
      region: target.region,
      roleArn: irsa.roleArn,
      claims: upstream.output('token.claims'),
      operation,
      nowMs: ctx.clock.now(),
    });

    let assumed: AssumedRole;
    try {
      assumed = await assumeRoleWithWebIdentity(
        ctx.net,
        target,
        { roleArn: irsa.roleArn.arn, sessionName, token: tokenFile.token },
        signal,
      );
    } catch (error) {
      const failure = classifyStsError(error, target.endpoint);
      const finding = stsFinding(failure, callFacts('AssumeRoleWithWebIdentity'));
      return {
        status: failure.code === 'STS_THROTTLED' ? 'warn' : 'fail',
        summary: failure.network
          ? `STS unreachable: ${failure.explanation}`
          : failure.local
            ? `no STS call was made: ${failure.code === 'STS_ENDPOINT_INVALID' ? `the endpoint ${target.endpoint} ${stsEndpointProblem(target.endpoint) ?? 'is not usable'}` : `the SDK failed before sending it (${failure.wireCode}: ${failure.message.slice(0, 160)})`}`
            : failure.foreign
              ? `not an STS answer from ${target.endpoint}: ${failure.message.slice(0, 160)}`
              : `STS refused: ${failure.wireCode}${failure.message ? `: ${failure.message.slice(0, 160)}` : ''}`,
        details,
        facts,
        findings: [finding],
      };
    }
    try {
      const caller = await getCallerIdentity(ctx.net, target, assumed.credentials, signal);
      return {
        status: 'pass',
        summary: `STS issued credentials for ${caller.arn}`,
        details: { ...details, assumedRoleArn: caller.arn },
        facts,
        output: { assumedRoleArn: caller.arn },
      };
    } catch (error) {
      const failure = classifyStsError(error, target.endpoint);
      return {
        status: 'fail',
        summary: `STS issued credentials for ${assumed.assumedRoleArn}, but GetCallerIdentity with them failed: ${failure.wireCode}`,
        details: { ...details, assumedRoleArn: assumed.assumedRoleArn },
        facts,
        findings: [stsFinding(failure, callFacts('GetCallerIdentity'))],
      };
    }
  },
};
