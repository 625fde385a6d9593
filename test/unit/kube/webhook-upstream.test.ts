import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHECKS } from '../../../src/checks/registry';
import { analysePodMutation, parseSkipContainers } from '../../../src/kube/mutation';
import type { PodLike } from '../../../src/kube/mutation';
import { runChecks } from '../../../src/run/runner';
import { selectChecks } from '../../../src/run/select';
import type { Report } from '../../../src/run/types';
import type { KubeApiServer, KubeObject } from '../../../src/sim/kube-api';
import { eksWebhookConfiguration, startKubeApi } from '../../../src/sim/kube-api';
import { fixtureContext } from '../../helpers/context';
import { mintToken } from '../../helpers/tokens';
import { webhookFixture } from '../../helpers/webhook-fixtures';

/*
 * What amazon-eks-pod-identity-webhook (pkg/handler/handler.go, pkg/cache/cache.go @3bf80a34) does to a pod,
 * read back by the checks from pods built out of its own testdata (test/fixtures/upstream/webhook).
 */

const EKS_POD_IDENTITY = {
  // The container-credentials harness settings replaced by the values EKS runs the webhook with (main.go flags).
  'con-creds-uri': 'http://169.254.170.23/v1/credentials',
  'con-creds-aud': 'pods.eks.amazonaws.com',
  '/con-creds-mount-path': '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
  'con-creds-volume-name': 'eks-pod-identity-token',
  'con-creds-token-path': 'eks-pod-identity-token',
};

describe('analysePodMutation on the webhook testdata', () => {
  it('rawPodWithoutVolumes: the plain IRSA mutation, its projected token and audience', () => {
    const { mutated } = webhookFixture('rawPodWithoutVolumes');
    const mutation = analysePodMutation(mutated);
    expect(mutation.mechanism).toBe('irsa');
    expect(mutation.notInjected).toEqual([]);
    expect(mutation.overriddenVolumes).toEqual([]);
    expect(mutation.tokenVolumes[0]).toMatchObject({ audience: 'sts.amazonaws.com', projectedToken: true });
  });

  it('rawPodSkip: the listed sidecar is skipped, the container with a hand-set AWS_ROLE_ARN gets neither variable', () => {
    const mutation = analysePodMutation(webhookFixture('rawPodSkip').mutated);
    expect(mutation.notInjected.map((c) => [c.name, c.skipReason])).toEqual([
      ['sidecar', 'skip-containers'],
      ['balajilovesoreos', 'pair-rule'],
    ]);
  });

  it('rawPodWithInitContainer: init containers and the native sidecar are mutated like the others', () => {
    const mutation = analysePodMutation(webhookFixture('rawPodWithInitContainer').mutated);
    expect(mutation.containers.map((c) => [c.name, c.kind, c.injected])).toEqual([
      ['initcontainer', 'init', true],
      ['sidecar', 'sidecar', true],
      ['balajilovesoreos', 'container', true],
    ]);
  });

  it('rawPodHasVolumeMount: the pod brought its own aws-iam-token volume, so it has no projected token', () => {
    const mutation = analysePodMutation(webhookFixture('rawPodHasVolumeMount').mutated);
    expect(mutation.mechanism).toBe('irsa');
    expect(mutation.overriddenVolumes).toEqual([
      expect.objectContaining({ name: 'aws-iam-token', source: 'hostPath', projectedToken: false }),
    ]);
  });

  it('containercredentials/rawPodWithConflictingVolumeMount: the same for the Pod Identity volume', () => {
    const { mutated } = webhookFixture('containercredentials/rawPodWithConflictingVolumeMount', EKS_POD_IDENTITY);
    const mutation = analysePodMutation(mutated);
    expect(mutation.mechanism).toBe('pod-identity');
    expect(mutation.overriddenVolumes.map((v) => [v.name, v.source])).toEqual([['eks-pod-identity-token', 'hostPath']]);
    // The plain Pod Identity mutation, for contrast, projects the token.
    const plain = analysePodMutation(
      webhookFixture('containercredentials/rawPodWithoutVolumes', EKS_POD_IDENTITY).mutated,
    );
    expect(plain.overriddenVolumes).toEqual([]);
    expect(plain.tokenVolumes[0]).toMatchObject({ audience: 'pods.eks.amazonaws.com', projectedToken: true });
  });
});

describe('eks.amazonaws.com/skip-containers, read as csv.NewReader(value).Read() reads it', () => {
  // Go's encoding/csv defaults (src/encoding/csv/reader.go readLine/readRecord): Comma ',', no Comment,
  // LazyQuotes and TrimLeadingSpace false; the webhook skips nothing when Read returns an error.
  it.each([
    ['sidecar', ['sidecar']],
    ['init-first,sidecar', ['init-first', 'sidecar']], // the webhook README's example
    ['app, sidecar', ['app', ' sidecar']], // not trimmed: " sidecar" names no container
    ['"a,b",c', ['a,b', 'c']],
    ['"a""b"', ['a"b']],
    ['a,', ['a', '']],
    ['\nsidecar', ['sidecar']], // empty lines before the record are skipped
    ['a\nb', ['a']], // one record only
    ['a\r\n', ['a']],
    ['a\r', ['a']],
    ['"a\nb"', ['a\nb']],
    ['a"b', []], // ErrBareQuote
    ['"a"b', []], // ErrQuote
    ['"a" ,b', []], // ErrQuote: a space after the closing quote
    [' "a"', []], // the quote is bare once the field does not start with it
    ['"unterminated', []], // ErrQuote at EOF
    ['', []], // io.EOF
    ['\n', []],
  ])('%j -> %j', (value, expected) => {
    expect(parseSkipContainers(value)).toEqual(expected);
  });

  it('a container listed with a space was mutated by the webhook: its real reason is not the annotation', () => {
    // rawPodSkip's pod with a second container that hand-sets AWS_ROLE_ARN, listed as " logger".
    const { mutated } = webhookFixture('rawPodSkip');
    const pod = mutated as PodLike & { metadata: { annotations: Record<string, string> } };
    pod.metadata.annotations['eks.amazonaws.com/skip-containers'] = 'sidecar, balajilovesoreos';
    const mutation = analysePodMutation(pod);
    expect(mutation.skipNamesUntrimmed).toEqual([' balajilovesoreos']);
    expect(mutation.notInjected.find((c) => c.name === 'balajilovesoreos')?.skipReason).toBe('pair-rule');
  });
});

// ---------------------------------------------------------------------------------------------------------
// The checks, in process, against the simulated API server serving pods built from the testdata.

let api: KubeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const NAMESPACE = 'default';
const POD = 'balajilovesoreos';
const SA = 'default';

/** A Deployment's pod: owned by ReplicaSet balajilovesoreos-7d9f8b6c5d of Deployment balajilovesoreos. */
function owned(pod: PodLike & Record<string, unknown>): KubeObject {
  return {
    ...pod,
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(pod.metadata as Record<string, unknown>),
      name: POD,
      namespace: NAMESPACE,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${POD}-7d9f8b6c5d`, controller: true }],
    },
  } as KubeObject;
}

const replicaSet: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: {
    name: `${POD}-7d9f8b6c5d`,
    namespace: NAMESPACE,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: POD, controller: true }],
  },
};

function serviceAccount(annotations: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NAMESPACE, annotations } };
}

/** The literal env of the pod's app container: what this process would have. */
function processEnv(pod: PodLike): Record<string, string> {
  const container = pod.spec?.containers.find((c) => c.name === POD);
  return Object.fromEntries((container?.env ?? []).flatMap((e) => (e.value === undefined ? [] : [[e.name, e.value]])));
}

async function diagnose(
  pod: PodLike & Record<string, unknown>,
  saAnnotations: Record<string, string>,
  token: { aud?: string[] } = {},
  only = 'env.mechanism,env.irsa,token.file,token.claims,kube.pod,kube.webhook,kube.serviceaccount',
  webhook: KubeObject = eksWebhookConfiguration(),
): Promise<Report> {
  api = await startKubeApi({
    objects: [owned(pod), replicaSet, serviceAccount(saAnnotations), webhook],
    user: `system:serviceaccount:${NAMESPACE}:${SA}`,
    token: 'sim-token-not-a-secret',
    namespace: NAMESPACE,
  });
  const home = mkdtempSync(path.join(tmpdir(), 'irsa-webhook-'));
  const kubeconfig = await api.writeKubeconfig(home);
  const root = path.join(home, 'root');
  const env: Record<string, string> = { ...processEnv(pod), POD_NAMESPACE: NAMESPACE, POD_NAME: POD };
  const tokenPath = env.AWS_WEB_IDENTITY_TOKEN_FILE;
  if (tokenPath) {
    mkdirSync(path.join(root, path.dirname(tokenPath)), { recursive: true });
    writeFileSync(
      path.join(root, tokenPath),
      await mintToken({ namespace: NAMESPACE, serviceAccount: SA, pod: POD, ...(token.aud ? { aud: token.aud } : {}) }),
    );
  }
  const ctx = fixtureContext({ env, root, kubeconfig, timeoutMs: 8_000 });
  return runChecks(ctx, { checks: selectChecks(CHECKS, only.split(','), []), version: 'test' });
}

const codes = (report: Report) => report.findings.map((f) => f.code);
const check = (report: Report, id: string) => report.checks.find((c) => c.id === id);

describe('the checks on pods the webhook mutated (or skipped), through the Kubernetes API', () => {
  const ROLE = 'arn:aws:iam::111122223333:role/s3-reader';

  it('the skip label: the fix is the label, in every finding that names a remedy, not recreating the pod', async () => {
    // The webhook's objectSelector (deploy/mutatingwebhook.yaml: DoesNotExist) never sends such a pod to it,
    // so the stored pod is the submitted one.
    const { submitted } = webhookFixture('rawPodWithoutVolumes');
    const pod = {
      ...submitted,
      metadata: { ...submitted.metadata, labels: { 'eks.amazonaws.com/skip-pod-identity-webhook': 'true' } },
    } as PodLike & Record<string, unknown>;
    const report = await diagnose(pod, { 'eks.amazonaws.com/role-arn': ROLE });
    expect(report.rootCause?.code).toBe('WEBHOOK_SKIP_LABEL');
    expect(codes(report)).not.toContain('SA_ROLE_CHANGED_RESTART_NEEDED');
    expect(check(report, 'kube.serviceaccount')?.status).toBe('pass');
    const removal = `kubectl patch deployment/${POD} -n ${NAMESPACE} --type json -p '[{"op":"remove","path":"/spec/template/metadata/labels/eks.amazonaws.com~1skip-pod-identity-webhook"}]'`;
    for (const finding of report.findings.filter((f) => ['WEBHOOK_SKIP_LABEL', 'IRSA_ENV_MISSING'].includes(f.code))) {
      expect(finding.remedy.commands.join('\n')).toContain(removal);
      expect(finding.remedy.commands.join('\n')).not.toMatch(/rollout restart|delete pod/);
    }
    expect(codes(report)).toContain('IRSA_ENV_MISSING');
  });

  it('the skip label under a webhook configuration without that objectSelector is not the reason', async () => {
    // Some EKS clusters show an empty objectSelector (docs/mechanics.md 1.6): the label then changes nothing.
    const { submitted } = webhookFixture('rawPodWithoutVolumes');
    const pod = {
      ...submitted,
      metadata: { ...submitted.metadata, labels: { 'eks.amazonaws.com/skip-pod-identity-webhook': 'true' } },
    } as PodLike & Record<string, unknown>;
    const config = eksWebhookConfiguration() as KubeObject & { webhooks: Record<string, unknown>[] };
    const plain = { ...config, webhooks: config.webhooks.map((w) => ({ ...w, objectSelector: {} })) } as KubeObject;
    const report = await diagnose(pod, { 'eks.amazonaws.com/role-arn': ROLE }, {}, undefined, plain);
    expect(codes(report)).not.toContain('WEBHOOK_SKIP_LABEL');
    expect(check(report, 'kube.pod')?.details?.skipLabel).toContain('the label is not why');
    expect(report.rootCause?.code).toBe('SA_ROLE_CHANGED_RESTART_NEEDED');
  });

  it("the pod's own aws-iam-token volume: TOKEN_VOLUME_OVERRIDDEN, with the Deployment to recreate", async () => {
    const { mutated } = webhookFixture('rawPodHasVolumeMount');
    const report = await diagnose(mutated, { 'eks.amazonaws.com/role-arn': ROLE }, {}, 'kube.pod');
    const finding = report.findings.find((f) => f.code === 'TOKEN_VOLUME_OVERRIDDEN');
    expect(finding?.summary).toContain('"aws-iam-token" (hostPath)');
    expect(finding?.remedy.commands).toContain(`kubectl rollout restart deployment/${POD} -n ${NAMESPACE}`);
    expect(report.rootCause?.code).toBe('TOKEN_VOLUME_OVERRIDDEN');
  });

  it.each([
    ['a role name', 's3-reader', ROLE],
    ['a path and name', 'team/s3-reader', 'arn:aws:iam::111122223333:role/team/s3-reader'],
  ])(
    '%s in role-arn: the pod carries the ARN the webhook composed, which is no restart case',
    async (_what, annotation, composed) => {
      // cache.go addSA with --compose-role-arn: arn:PARTITION:iam::ACCOUNT:role/VALUE (TestRoleArnComposition).
      const { mutated } = webhookFixture('rawPodWithoutVolumes', { [ROLE]: composed });
      expect(processEnv(mutated).AWS_ROLE_ARN).toBe(composed);
      const report = await diagnose(mutated, { 'eks.amazonaws.com/role-arn': annotation });
      expect(codes(report)).toEqual([]);
      expect(check(report, 'kube.serviceaccount')?.status).toBe('pass');
      expect(check(report, 'kube.serviceaccount')?.details?.roleArn).toContain(`the webhook composes ${composed}`);
    },
  );

  it('a role name that is not the role the pod has: restart needed, named as the composed ARN', async () => {
    const { mutated } = webhookFixture('rawPodWithoutVolumes');
    const report = await diagnose(mutated, { 'eks.amazonaws.com/role-arn': 'orders-writer' });
    const finding = report.findings.find((f) => f.code === 'SA_ROLE_CHANGED_RESTART_NEEDED');
    expect(finding?.summary).toContain('arn:aws:iam::111122223333:role/orders-writer');
    expect(finding?.remedy.commands).toEqual([`kubectl rollout restart deployment/${POD} -n ${NAMESPACE}`]);
  });

  it('eks.amazonaws.com/audience: a token with that audience is what the ServiceAccount asks for', async () => {
    // The harness's ServiceAccount audience flows verbatim into the projected volume (getPodSpecPatch).
    const { mutated } = webhookFixture('rawPodWithoutVolumes', { '"sts.amazonaws.com"': '"sts.example.com"' });
    expect(analysePodMutation(mutated).tokenVolumes[0]?.audience).toBe('sts.example.com');
    const report = await diagnose(
      mutated,
      { 'eks.amazonaws.com/role-arn': ROLE, 'eks.amazonaws.com/audience': 'sts.example.com' },
      { aud: ['sts.example.com'] },
    );
    expect(codes(report)).toEqual([]);
    expect(check(report, 'token.claims')?.status).toBe('pass');
    expect(check(report, 'kube.serviceaccount')?.details?.audience).toContain('sts.example.com');
  });

  it("a token whose audience is not the ServiceAccount's (annotation changed later): a warning, never a root cause", async () => {
    // Any audience can work (STS decides); the pods to come get the other one.
    const { mutated } = webhookFixture('rawPodWithoutVolumes', { '"sts.amazonaws.com"': '"sts.example.com"' });
    const report = await diagnose(mutated, { 'eks.amazonaws.com/role-arn': ROLE }, { aud: ['sts.example.com'] });
    const finding = report.findings.find((f) => f.code === 'SA_AUDIENCE_CHANGED');
    expect(finding?.severity).toBe('warning');
    expect(finding?.summary).toContain('now asks for "sts.amazonaws.com" (no audience annotation: the default)');
    expect(finding?.remedy.commands).toEqual([`kubectl rollout restart deployment/${POD} -n ${NAMESPACE}`]);
    expect(codes(report)).not.toContain('TOKEN_AUDIENCE_MISMATCH');
    expect(report.rootCause).toBeNull();
  });
});
