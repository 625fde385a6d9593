import {
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_FULL_URI,
  AWS_ROLE_ARN,
  AWS_WEB_IDENTITY_TOKEN_FILE,
} from '../aws/env-names';
import type { Env } from '../context/context';

/*
 * What the amazon-eks-pod-identity-webhook did to a pod, read back from the stored spec. Pure functions over
 * Pod JSON (client-node's V1Pod or a plain object), so they are tested on fixtures shaped like real mutated
 * pods. Rules: docs/mechanics.md 1.1-1.4.
 */

export interface EnvVarLike {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: unknown;
}

export interface VolumeMountLike {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
}

export interface ContainerLike {
  readonly name: string;
  readonly env?: readonly EnvVarLike[];
  readonly envFrom?: readonly unknown[];
  readonly volumeMounts?: readonly VolumeMountLike[];
  readonly restartPolicy?: string;
  /** Ephemeral containers only: the container whose process namespace it shares (kubectl debug --target). */
  readonly targetContainerName?: string;
}

export interface ServiceAccountTokenProjectionLike {
  readonly audience?: string;
  readonly expirationSeconds?: number;
  readonly path: string;
}

export interface VolumeLike {
  readonly name: string;
  readonly projected?: {
    readonly sources?: readonly { readonly serviceAccountToken?: ServiceAccountTokenProjectionLike }[];
  };
}

export interface OwnerReferenceLike {
  readonly kind: string;
  readonly name: string;
  readonly controller?: boolean;
}

export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly OwnerReferenceLike[];
    readonly creationTimestamp?: Date | string;
  };
  readonly spec?: {
    readonly serviceAccountName?: string;
    readonly hostNetwork?: boolean;
    readonly containers: readonly ContainerLike[];
    readonly initContainers?: readonly ContainerLike[];
    readonly ephemeralContainers?: readonly ContainerLike[];
    readonly volumes?: readonly VolumeLike[];
  };
}

export const SKIP_CONTAINERS_ANNOTATION = 'eks.amazonaws.com/skip-containers';
export const SKIP_WEBHOOK_LABEL = 'eks.amazonaws.com/skip-pod-identity-webhook';
export const IRSA_VOLUME = 'aws-iam-token';
export const POD_IDENTITY_VOLUME = 'eks-pod-identity-token';

/** `sidecar` is a native sidecar: an init container with restartPolicy Always, mutated like the others. */
export type ContainerKind = 'container' | 'init' | 'sidecar' | 'ephemeral';

export type PodMechanism = 'irsa' | 'pod-identity' | 'both' | 'none';

/** Why a container did not get the variables and mount the rest of the pod got. */
export type SkipReason =
  /** Listed in the pod's eks.amazonaws.com/skip-containers annotation. */
  | 'skip-containers'
  /** Defines one variable of the pair by hand, so the webhook added neither (docs/mechanics.md 1.3). */
  | 'pair-rule'
  /** Has the pair but no token mount: every variable was set by hand and the webhook left it untouched. */
  | 'no-mount'
  /** kubectl debug containers: the webhook never sees them. */
  | 'ephemeral'
  | 'unknown';

export interface ContainerMutation {
  readonly name: string;
  readonly kind: ContainerKind;
  /** Both variables of the IRSA pair are in `env`. */
  readonly irsa: boolean;
  readonly podIdentity: boolean;
  /** Mounts the aws-iam-token / eks-pod-identity-token volume. */
  readonly irsaMount: boolean;
  readonly podIdentityMount: boolean;
  /** The literal AWS_ROLE_ARN of the spec, if any. */
  readonly roleArn: string | undefined;
  /** Has the credentials of the pod's mechanism: the pair and the token mount. */
  readonly injected: boolean;
  readonly skipReason: SkipReason | undefined;
  /** Words for the user: why it was skipped. */
  readonly why: string | undefined;
  readonly usesEnvFrom: boolean;
  readonly targetContainerName: string | undefined;
}

export interface TokenVolume {
  readonly name: string;
  readonly mechanism: 'irsa' | 'pod-identity';
  readonly audience: string | undefined;
  readonly expirationSeconds: number | undefined;
  readonly path: string;
  /**
   * A projected ServiceAccount token at the file name the webhook's token variable names (`token`,
   * `eks-pod-identity-token`). False when the pod brought its own volume of that name (a hostPath, a Secret,
   * a projection of something else): the webhook then adds no volume, so the variable names whatever that
   * volume holds (handler.go getPodSpecPatch "skip adding volume if it already exists").
   */
  readonly projectedToken: boolean;
  /** The volume's source as the spec names it: `projected`, `hostPath`, `secret`, ... */
  readonly source: string;
}

export interface PodMutation {
  /** What the webhook applied to this pod, from its token volumes and the variables of its containers. */
  readonly mechanism: PodMechanism;
  readonly tokenVolumes: readonly TokenVolume[];
  readonly containers: readonly ContainerMutation[];
  /** Init and regular containers that lack what the rest of the (mutated) pod got. Ephemeral ones are expected to. */
  readonly notInjected: readonly ContainerMutation[];
  readonly skipContainers: readonly string[];
  /**
   * skip-containers entries that name no container as written but one once trimmed (" sidecar"): the
   * webhook compares them exactly, so that container was mutated after all.
   */
  readonly skipNamesUntrimmed: readonly string[];
  /** Token volumes of the pod's mechanism that the pod brought itself and that hold no projected token. */
  readonly overriddenVolumes: readonly TokenVolume[];
  readonly hostNetwork: boolean;
  /** The pod carries the skip label, which excludes it through the webhook's objectSelector. */
  readonly skipLabel: boolean;
}

/**
 * The skip-containers annotation exactly as the webhook reads it: `csv.NewReader(value).Read()` with Go's
 * defaults (handler.go getContainersToSkip), i.e. the first record of the value, fields NOT trimmed (so
 * "app, sidecar" names "app" and " sidecar", and the container "sidecar" is mutated), `"` only around a
 * whole field, `""` an escaped quote, and any parse error (a bare or unbalanced quote, an empty value) means
 * nothing is skipped. Rules of golang/go src/encoding/csv/reader.go (readLine, readRecord).
 */
export function parseSkipContainers(value: string | undefined): string[] {
  if (value === undefined) return [];
  const record = readFirstCsvRecord(value);
  return record === undefined ? [] : record;
}

/** One record of Go's csv.Reader (Comma ',', no Comment, LazyQuotes and TrimLeadingSpace false), or undefined on error. */
function readFirstCsvRecord(input: string): string[] | undefined {
  let pos = 0;
  /** readLine: up to and including '\n'; "\r\n" becomes "\n"; a trailing '\r' at EOF is dropped. */
  const readLine = (): string | undefined => {
    if (pos >= input.length) return undefined;
    const end = input.indexOf('\n', pos);
    let line = end < 0 ? input.slice(pos) : input.slice(pos, end + 1);
    pos = end < 0 ? input.length : end + 1;
    if (end < 0 && line.endsWith('\r')) line = line.slice(0, -1);
    if (line.endsWith('\r\n')) line = `${line.slice(0, -2)}\n`;
    return line;
  };
  const lengthNL = (line: string) => (line.endsWith('\n') ? 1 : 0);
  let line: string | undefined;
  // Empty lines before the record are skipped; no record at all is io.EOF, an error.
  for (;;) {
    line = readLine();
    if (line === undefined) return undefined;
    if (line.length === lengthNL(line) && pos < input.length) continue;
    if (line.length === lengthNL(line)) return undefined;
    break;
  }
  const fields: string[] = [];
  let rest: string = line;
  for (;;) {
    if (rest.length === 0 || rest[0] !== '"') {
      const comma = rest.indexOf(',');
      const field = comma >= 0 ? rest.slice(0, comma) : rest.slice(0, rest.length - lengthNL(rest));
      if (field.includes('"')) return undefined; // ErrBareQuote
      fields.push(field);
      if (comma < 0) return fields;
      rest = rest.slice(comma + 1);
      continue;
    }
    // A quoted field: up to the closing quote, which must be followed by a comma or the end of the line.
    rest = rest.slice(1);
    let field = '';
    for (;;) {
      const quote = rest.indexOf('"');
      if (quote >= 0) {
        field += rest.slice(0, quote);
        rest = rest.slice(quote + 1);
        if (rest[0] === '"') {
          field += '"';
          rest = rest.slice(1);
        } else if (rest[0] === ',') {
          fields.push(field);
          rest = rest.slice(1);
          break;
        } else if (lengthNL(rest) === rest.length) {
          fields.push(field);
          return fields;
        } else {
          return undefined; // ErrQuote: `"x"y`
        }
      } else if (rest.length > 0) {
        // The field goes on over the next line.
        field += rest;
        const next = readLine();
        if (next === undefined) return undefined; // ErrQuote: EOF inside quotes
        rest = next;
      } else {
        return undefined;
      }
    }
  }
}

/** The token file name each mechanism's variable points at (docs/mechanics.md 1.2). */
const TOKEN_FILE_NAME = { irsa: 'token', 'pod-identity': 'eks-pod-identity-token' } as const;

export function analysePodMutation(pod: PodLike): PodMutation {
  const spec = pod.spec ?? { containers: [] };
  const annotations = pod.metadata?.annotations ?? {};
  const skipContainers = parseSkipContainers(annotations[SKIP_CONTAINERS_ANNOTATION]);
  const tokenVolumes = (spec.volumes ?? []).flatMap((volume): TokenVolume[] => {
    const mechanism =
      volume.name === IRSA_VOLUME ? 'irsa' : volume.name === POD_IDENTITY_VOLUME ? 'pod-identity' : undefined;
    if (!mechanism) return [];
    const projections = (volume.projected?.sources ?? []).flatMap((s) =>
      s.serviceAccountToken ? [s.serviceAccountToken] : [],
    );
    const projection = projections.find((p) => p.path === TOKEN_FILE_NAME[mechanism]) ?? projections[0];
    // Any other source (hostPath, secret, emptyDir, ...) is named by its key.
    const source =
      Object.entries(volume as object).find(
        ([key, value]) => key !== 'name' && value !== undefined && value !== null,
      )?.[0] ?? 'none';
    return [
      {
        name: volume.name,
        mechanism,
        audience: projection?.audience,
        expirationSeconds: projection?.expirationSeconds,
        path: projection?.path ?? '',
        projectedToken: projection?.path === TOKEN_FILE_NAME[mechanism],
        source,
      },
    ];
  });

  const all: { container: ContainerLike; kind: ContainerKind }[] = [
    ...(spec.initContainers ?? []).map((c) => ({
      container: c,
      kind: (c.restartPolicy === 'Always' ? 'sidecar' : 'init') as ContainerKind,
    })),
    ...spec.containers.map((c) => ({ container: c, kind: 'container' as ContainerKind })),
    ...(spec.ephemeralContainers ?? []).map((c) => ({ container: c, kind: 'ephemeral' as ContainerKind })),
  ];
  const shapes = all.map(({ container, kind }) => ({ container, kind, ...shapeOf(container) }));
  const mutatedBy = (m: 'irsa' | 'pod-identity') =>
    tokenVolumes.some((v) => v.mechanism === m) ||
    shapes.some((s) => s.kind !== 'ephemeral' && (m === 'irsa' ? s.irsa : s.podIdentity));
  const irsa = mutatedBy('irsa');
  const podIdentity = mutatedBy('pod-identity');
  const mechanism: PodMechanism = irsa && podIdentity ? 'both' : irsa ? 'irsa' : podIdentity ? 'pod-identity' : 'none';

  const containers = shapes.map((s): ContainerMutation => {
    const injected =
      mechanism === 'irsa'
        ? s.irsa && s.irsaMount
        : mechanism === 'pod-identity'
          ? s.podIdentity && s.podIdentityMount
          : mechanism === 'both'
            ? (s.irsa && s.irsaMount) || (s.podIdentity && s.podIdentityMount)
            : false;
    const skip = injected || mechanism === 'none' ? undefined : skipReasonOf(s, s.kind, mechanism, skipContainers);
    return {
      name: s.container.name,
      kind: s.kind,
      irsa: s.irsa,
      podIdentity: s.podIdentity,
      irsaMount: s.irsaMount,
      podIdentityMount: s.podIdentityMount,
      roleArn: s.roleArn,
      injected,
      skipReason: skip?.reason,
      why: skip?.why,
      usesEnvFrom: (s.container.envFrom ?? []).length > 0,
      targetContainerName: s.container.targetContainerName,
    };
  });
  return {
    mechanism,
    tokenVolumes,
    containers,
    notInjected: containers.filter((c) => c.kind !== 'ephemeral' && !c.injected && mechanism !== 'none'),
    skipContainers,
    skipNamesUntrimmed: skipContainers.filter(
      (name) =>
        !all.some(({ container }) => container.name === name) &&
        all.some(({ container }) => container.name === name.trim()),
    ),
    overriddenVolumes: tokenVolumes.filter(
      (v) => !v.projectedToken && (mechanism === v.mechanism || mechanism === 'both'),
    ),
    hostNetwork: spec.hostNetwork === true,
    skipLabel: pod.metadata?.labels?.[SKIP_WEBHOOK_LABEL] !== undefined,
  };
}

interface ContainerShape {
  readonly irsa: boolean;
  readonly podIdentity: boolean;
  readonly irsaMount: boolean;
  readonly podIdentityMount: boolean;
  readonly roleArn: string | undefined;
  readonly names: ReadonlySet<string>;
}

function shapeOf(container: ContainerLike): ContainerShape {
  const names = new Set((container.env ?? []).map((e) => e.name));
  const mounts = new Set((container.volumeMounts ?? []).map((m) => m.name));
  return {
    irsa: names.has(AWS_ROLE_ARN) && names.has(AWS_WEB_IDENTITY_TOKEN_FILE),
    podIdentity: names.has(AWS_CONTAINER_CREDENTIALS_FULL_URI) && names.has(AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE),
    irsaMount: mounts.has(IRSA_VOLUME),
    podIdentityMount: mounts.has(POD_IDENTITY_VOLUME),
    roleArn: container.env?.find((e) => e.name === AWS_ROLE_ARN)?.value,
    names,
  };
}

function skipReasonOf(
  shape: ContainerShape & { container: ContainerLike },
  kind: ContainerKind,
  mechanism: Exclude<PodMechanism, 'none'>,
  skipContainers: readonly string[],
): { reason: SkipReason; why: string } {
  if (kind === 'ephemeral') {
    return {
      reason: 'ephemeral',
      why: 'ephemeral (kubectl debug) container: the webhook only mutates pod creation, never ephemeral containers',
    };
  }
  if (skipContainers.includes(shape.container.name)) {
    return { reason: 'skip-containers', why: `listed in the pod annotation ${SKIP_CONTAINERS_ANNOTATION}` };
  }
  const pair: readonly [string, string] =
    mechanism === 'pod-identity'
      ? [AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE]
      : [AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE];
  const handSet = pair.filter((n) => shape.names.has(n));
  if (handSet.length === 1) {
    // The webhook adds the pair only when neither name is defined: one hand-set variable blocks both
    // (docs/mechanics.md 1.3, fixture rawPodHasAll).
    const [present] = handSet;
    const missing = pair.find((n) => n !== present);
    return {
      reason: 'pair-rule',
      why: `sets ${present} by hand, so the webhook added neither it nor ${missing} (it injects the pair only when neither is defined)`,
    };
  }
  if (handSet.length === 2) {
    return {
      reason: 'no-mount',
      why: `has ${pair.join(' and ')} but no ${mechanism === 'pod-identity' ? POD_IDENTITY_VOLUME : IRSA_VOLUME} mount: the variables were set by hand and the token file does not exist in this container`,
    };
  }
  const envFrom =
    (shape.container.envFrom ?? []).length > 0
      ? ' It uses envFrom, which the webhook does not look at: variables from a ConfigMap/Secret do not stop the injection.'
      : '';
  return {
    reason: 'unknown',
    why: `not mutated for no visible reason: an older webhook, or the container was added to the spec by another mutating webhook that ran after it.${envFrom}`,
  };
}

/**
 * Which container of the pod this process most likely runs in. The API does not say, so this matches the
 * process environment against each container's literal `env` values: a container is a candidate when every
 * literal value it declares is in this environment with the same value. The webhook writes AWS_ROLE_ARN etc.
 * as literal values, so an injected app container is never a candidate for a process that lacks them.
 * A `kubectl debug` container declares no env and is a candidate for any process.
 *
 * Heuristic for EPHEMERAL_CONTAINER: the pod has ephemeral containers, no init/regular container is a
 * candidate, and an ephemeral one is (the newest such is returned). HOSTNAME equals the pod name in every
 * container of a pod without hostNetwork, so it tells the pod, not the container.
 */
export function locateOwnContainer(
  pod: PodLike,
  env: Env,
): { ephemeral: ContainerLike | undefined; candidates: string[] } {
  const spec = pod.spec ?? { containers: [] };
  const matches = (c: ContainerLike) =>
    (c.env ?? []).every((e) => e.value === undefined || e.valueFrom !== undefined || env[e.name] === e.value);
  const regular = [...(spec.initContainers ?? []), ...spec.containers].filter(matches);
  const ephemeral = (spec.ephemeralContainers ?? []).filter(matches);
  const candidates = [...regular, ...ephemeral].map((c) => c.name);
  if (regular.length > 0 || ephemeral.length === 0) return { ephemeral: undefined, candidates };
  return { ephemeral: ephemeral[ephemeral.length - 1], candidates };
}

/** The controller that owns the pod, as ownerReferences state it (a ReplicaSet is resolved by the caller). */
export function controllerOf(object: {
  readonly metadata?: { readonly ownerReferences?: readonly OwnerReferenceLike[] };
}): OwnerReferenceLike | undefined {
  const refs = object.metadata?.ownerReferences ?? [];
  return refs.find((r) => r.controller === true) ?? refs[0];
}
