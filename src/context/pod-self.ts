import { decodeJwt } from 'jose';
import { KUBE_SA_DIR } from '../aws/env-names';
import { registerSecret } from '../aws/secrets';
import type { Context } from './context';

/** Who this pod is, as far as it can tell without the Kubernetes API. */
export interface PodSelf {
  readonly namespace: string | undefined;
  readonly namespaceSource: string | undefined;
  readonly serviceAccount: string | undefined;
  readonly podName: string | undefined;
}

const SA_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/**
 * Namespace from --namespace, the SA namespace file, then POD_NAMESPACE. The ServiceAccount name comes from
 * the `sub` of the pod's own Kubernetes API token (decoded, never printed), which every pod that automounts
 * it has, IRSA or not; pod name from --pod, POD_NAME, the same token's kubernetes.io claim, then HOSTNAME.
 */
export function readPodSelf(ctx: Context): Promise<PodSelf> {
  // A dozen checks ask; the files are read and the token decoded once per Context (one per run).
  let self = known.get(ctx);
  if (!self) {
    self = findPodSelf(ctx);
    known.set(ctx, self);
  }
  return self;
}

const known = new WeakMap<Context, Promise<PodSelf>>();

async function findPodSelf(ctx: Context): Promise<PodSelf> {
  const fileNamespace = await readSmallText(ctx, `${KUBE_SA_DIR}/namespace`);
  const apiToken = await readSmallText(ctx, `${KUBE_SA_DIR}/token`);
  let serviceAccount: string | undefined;
  let tokenNamespace: string | undefined;
  let tokenPod: string | undefined;
  if (apiToken) {
    registerSecret(apiToken);
    try {
      const claims = decodeJwt(apiToken);
      const match = typeof claims.sub === 'string' ? SA_SUBJECT.exec(claims.sub) : null;
      if (match) {
        tokenNamespace = match[1];
        serviceAccount = match[2];
      }
      const k8s = claims['kubernetes.io'];
      if (
        k8s &&
        typeof k8s === 'object' &&
        'pod' in k8s &&
        k8s.pod &&
        typeof k8s.pod === 'object' &&
        'name' in k8s.pod
      ) {
        tokenPod = typeof k8s.pod.name === 'string' ? k8s.pod.name : undefined;
      }
    } catch {
      // A legacy or unreadable API token tells nothing; the other sources remain.
    }
  }
  const candidates: [string | undefined, string][] = [
    [ctx.options.namespace, '--namespace'],
    [fileNamespace, `${KUBE_SA_DIR}/namespace`],
    [ctx.env.POD_NAMESPACE, 'POD_NAMESPACE'],
    [tokenNamespace, 'the Kubernetes API token'],
  ];
  const found = candidates.find(([value]) => value !== undefined && value !== '');
  return {
    namespace: found?.[0],
    namespaceSource: found?.[1],
    serviceAccount,
    podName: ctx.options.pod ?? (ctx.env.POD_NAME || undefined) ?? tokenPod ?? (ctx.env.HOSTNAME || undefined),
  };
}

async function readSmallText(ctx: Context, path: string): Promise<string | undefined> {
  try {
    const { bytes } = await ctx.files.readHead(path, 64 * 1024);
    const text = bytes.toString('utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}
