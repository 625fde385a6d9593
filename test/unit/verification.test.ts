import { describe, expect, it } from 'vitest';
import type { CheckId } from '../../src/checks/outputs';
import { runChecks } from '../../src/run/runner';
import { selectChecks } from '../../src/run/select';
import type { Check, CheckOutcome, Stage } from '../../src/run/types';
import { fixtureContext } from '../helpers/context';
import { expectValidReport } from '../helpers/reports';

/** The Report's `verification` and the verdict and headline derived from it (docs/report.md, "Verification"). */

function check(
  id: string,
  stage: Stage,
  outcome: CheckOutcome,
  extra: { dependsOn?: string[]; needs?: 'network' | 'kube' } = {},
): Check {
  return {
    id: id as CheckId,
    title: id,
    stage,
    dependsOn: (extra.dependsOn ?? []) as CheckId[],
    needs: extra.needs,
    run: (async () => outcome) as Check['run'],
  };
}

const irsaEnv = check('env.mechanism', 'env', {
  status: 'pass',
  summary: 'irsa',
  facts: { mechanism: 'irsa' },
  output: { mechanism: 'irsa' },
});
const token = check(
  'token.file',
  'token',
  { status: 'pass', summary: 'ok', output: {} },
  { dependsOn: ['env.mechanism'] },
);
const sts = (outcome: CheckOutcome) =>
  check('sts.assume-role', 'sts', outcome, { dependsOn: ['token.file'], needs: 'network' });
const issued = sts({ status: 'pass', summary: 'STS issued credentials', output: { assumedRoleArn: 'arn' } });
const kubeUnavailable = check('kube.pod', 'kube', { status: 'skip', summary: 'skipped: no Kubernetes API access' });

async function run(checks: Check[], options: { offline?: boolean; noKube?: boolean } = {}) {
  const report = await runChecks(fixtureContext(options), { checks, version: 't' });
  expectValidReport(JSON.parse(JSON.stringify(report)));
  return report;
}

describe('verification', () => {
  it('credentials obtained and every link of the chain checked: healthy, even without the Kubernetes API', async () => {
    const report = await run([irsaEnv, token, issued, kubeUnavailable]);
    expect(report.verdict).toBe('healthy');
    expect(report.verification.credentials).toBe('obtained');
    expect(report.verification.headline).toBe(
      'HEALTHY: this pod gets the AWS credentials it is set up for; not checked: Kubernetes objects (no Kubernetes API access)',
    );
  });

  it('STS throttled (warn, no credentials published): not obtained, degraded, no claim', async () => {
    const throttled = sts({
      status: 'warn',
      summary: 'STS refused: Throttling',
      findings: [{ code: 'STS_THROTTLED', summary: 'throttled', remedy: { summary: '', commands: [], links: [] } }],
    });
    const report = await run([irsaEnv, token, throttled]);
    expect(report.verification.credentials).toBe('not-obtained');
    expect(report.verdict).toBe('degraded');
    expect(report.verification.headline).toBe(
      'DEGRADED: nothing broken, but see the warnings above; STS gave no credentials (see sts.assume-role)',
    );
  });

  it('--offline: the credential check and what depends on it are not checked because of --offline', async () => {
    const after = check(
      'identity.caller',
      'identity',
      { status: 'pass', summary: 'ok' },
      { dependsOn: ['sts.assume-role'] },
    );
    const report = await run([irsaEnv, token, issued, after], { offline: true });
    expect(report.verification.credentials).toBe('not-checked');
    const notChecked = report.verification.links.flatMap((l) => l.notChecked);
    expect(notChecked.map((n) => [n.checkId, n.cause])).toEqual([
      ['sts.assume-role', 'offline'],
      ['identity.caller', 'offline'],
    ]);
    expect(report.verification.headline).toBe(
      'INCOMPLETE: no problem in env and token; STS not called: --offline; not checked: caller identity (--offline)',
    );
  });

  it('a skip the check marks not-applicable counts as checked, and so do the checks after it', async () => {
    const podIdentity = check('env.pod-identity', 'env', {
      status: 'skip',
      summary: 'skipped: no Pod Identity variables',
      skipReason: 'not-applicable',
    });
    const agent = check(
      'pod-identity.agent',
      'sts',
      { status: 'pass', summary: 'x' },
      { dependsOn: ['env.pod-identity'] },
    );
    const report = await run([irsaEnv, podIdentity, token, issued, agent]);
    expect(report.verdict).toBe('healthy');
    const stsLink = report.verification.links.find((l) => l.link === 'sts');
    expect(stsLink).toMatchObject({
      state: 'verified',
      verified: ['sts.assume-role'],
      notApplicable: ['pod-identity.agent'],
    });
  });

  it('names a link once when its checks share a reason through a dependency, with the reason cut short', async () => {
    const webhook = check('kube.webhook', 'kube', {
      status: 'skip',
      summary: 'skipped: no Kubernetes API access: not in a cluster (KUBERNETES_SERVICE_HOST unset), no --kubeconfig',
    });
    const pod = check('kube.pod', 'kube', {
      status: 'skip',
      summary: 'skipped: no Kubernetes API access: not in a cluster (KUBERNETES_SERVICE_HOST unset), no --kubeconfig',
    });
    const sa = check('kube.serviceaccount', 'kube', { status: 'pass', summary: 'x' }, { dependsOn: ['kube.pod'] });
    const report = await run([irsaEnv, token, issued, pod, webhook, sa]);
    expect(report.verification.headline).toBe(
      'HEALTHY: this pod gets the AWS credentials it is set up for; not checked: Kubernetes objects (no Kubernetes API access)',
    );
    const kube = report.verification.links.find((l) => l.link === 'kube');
    expect(kube?.notChecked.find((n) => n.checkId === 'kube.serviceaccount')?.reason).toBe(
      'depends on kube.pod: no Kubernetes API access: not in a cluster (KUBERNETES_SERVICE_HOST unset), no --kubeconfig',
    );
  });

  it('a check that could not finish leaves its link not checked (cause error); never healthy', async () => {
    const slow = check('token.claims', 'token', {
      status: 'error',
      summary: 'did not finish within its 5000 ms timeout',
    });
    const report = await run([irsaEnv, token, slow, issued]);
    expect(report.verdict).toBe('degraded');
    expect(report.verification.links.find((l) => l.link === 'token')).toMatchObject({
      state: 'partial',
      notChecked: [{ checkId: 'token.claims', cause: 'error' }],
    });
    expect(report.verification.headline).toBe(
      'INCOMPLETE: STS issued the credentials this pod is set up for; not checked: token.claims (could not finish)',
    );
  });

  it('--skip: the skipped check and its dependants are not checked because of --skip', async () => {
    const report = await run(selectChecks([irsaEnv, token, issued], [], ['token.file']));
    expect(report.verification.links.flatMap((l) => l.notChecked).map((n) => [n.checkId, n.cause])).toEqual([
      ['token.file', 'skip'],
      ['sts.assume-role', 'skip'],
    ]);
    expect(report.verification.headline).toBe(
      'INCOMPLETE: no problem in env; STS not called: --skip; not checked: token (--skip)',
    );
  });
});
