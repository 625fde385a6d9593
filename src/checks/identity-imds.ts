import { IMDS_TIMEOUT_MS, imdsEndpoint, reachImds } from '../aws/imds';
import type { Check, CheckOutcome } from '../run/types';
import { assertNever } from '../run/types';
import type { ImdsOutput } from './outputs';
import { LINKS, remedy } from './remedies';
import { INSTANCE_ID, matching, sh } from './shell';

/**
 * identity.imds: can this pod reach the node's instance metadata, and which role does the node have?
 * A pod that can read node credentials is a security warning on its own, and the node role is what an
 * unmutated pod silently falls back to (docs/mechanics.md 6; docs/failure-modes.md rows 2 and 13).
 */
export const identityImds: Check<'identity.imds'> = {
  id: 'identity.imds',
  title: 'Node role via IMDS',
  stage: 'identity',
  dependsOn: [],
  uses: ['env.precedence'],
  needs: 'network',
  timeoutMs: 5 * IMDS_TIMEOUT_MS + 500,
  async run(ctx, upstream, signal): Promise<CheckOutcome<ImdsOutput>> {
    const disabled = ctx.env.AWS_EC2_METADATA_DISABLED;
    if (disabled !== undefined && disabled.toLowerCase() === 'true') {
      return {
        status: 'skip',
        skipReason: 'not-applicable',
        summary: 'skipped: AWS_EC2_METADATA_DISABLED=true (the SDKs never ask IMDS for credentials here)',
      };
    }
    const endpoint = imdsEndpoint(ctx.env);
    const reach = await reachImds(ctx.net, endpoint, signal);
    const fallsBack = upstream
      .output('env.precedence')
      ?.choices.filter((c) => c.source === 'node-role')
      .map((c) => c.sdk);
    const details = { endpoint };
    switch (reach.kind) {
      case 'unreachable':
        return {
          status: 'pass',
          summary: `IMDS not reachable from this pod (${reach.why})`,
          details,
          output: { nodeRoleArn: undefined, reachable: false },
        };
      case 'blocked':
        return {
          status: 'pass',
          summary: `IMDS blocked for pods (hop limit 1 or no route): good (${reach.why})`,
          details,
          output: { nodeRoleArn: undefined, reachable: false },
        };
      case 'no-role':
        return {
          status: 'pass',
          summary: `IMDS${reach.version} answers, but the node has no instance role`,
          details: { ...details, imds: reach.version },
          output: { nodeRoleArn: undefined, reachable: false },
        };
      case 'role-only':
        return {
          status: 'pass',
          summary: `IMDS${reach.version} shows the node role${reach.nodeRoleArn ? ` ${reach.nodeRoleArn}` : ''}, but its credentials could not be read (${reach.why})`,
          details: { ...details, imds: reach.version, nodeRoleArn: reach.nodeRoleArn ?? null },
          facts: reach.nodeRoleArn ? { identity: { nodeRoleArn: reach.nodeRoleArn } } : undefined,
          output: { nodeRoleArn: reach.nodeRoleArn, reachable: false },
        };
      case 'credentials': {
        // The credentials themselves are dropped here: only the fact that they are obtainable is reported.
        const nodeRole = reach.nodeRoleArn ?? `role ${reach.roleName}`;
        const sdkNote =
          fallsBack && fallsBack.length > 0
            ? ` From this env, ${fallsBack.join(', ')} would use these node credentials.`
            : '';
        return {
          status: 'warn',
          summary: `this pod can obtain the node role's credentials from IMDS${reach.version} (${nodeRole})`,
          details: { ...details, imds: reach.version, nodeRoleArn: reach.nodeRoleArn ?? null },
          facts: reach.nodeRoleArn ? { identity: { nodeRoleArn: reach.nodeRoleArn } } : undefined,
          output: { nodeRoleArn: reach.nodeRoleArn, reachable: true, instanceId: reach.instanceId },
          findings: [
            {
              code: 'IMDS_REACHABLE',
              summary: `This pod can read the node's instance-role credentials (${nodeRole}) from IMDS${reach.version}${reach.version === 'v1' ? ' (IMDSv1 is allowed)' : ' (the hop limit lets pod traffic through)'}. Any process in it gets the node's permissions, and an app whose own credentials fail silently falls back to them.${sdkNote}`,
              evidence: {
                endpoint,
                imdsVersion: reach.version,
                nodeRoleArn: reach.nodeRoleArn ?? null,
                instanceId: reach.instanceId ?? null,
              },
              remedy: remedy(
                'Require IMDSv2 with a hop limit of 1 so pods (one hop further than the node) cannot read it; set it in the node group launch template for new nodes.',
                [
                  sh`aws ec2 modify-instance-metadata-options --instance-id ${matching(reach.instanceId, INSTANCE_ID, 'INSTANCE_ID')} --http-put-response-hop-limit 1 --http-tokens required`,
                  sh`aws ec2 create-launch-template-version --launch-template-id <LT_ID> --source-version <VERSION> --launch-template-data '{"MetadataOptions":{"HttpTokens":"required","HttpPutResponseHopLimit":1}}'`,
                ],
                [LINKS.imds],
              ),
            },
          ],
        };
      }
      default:
        return assertNever(reach);
    }
  },
};
