import { AWS_CONTAINER_AUTHORIZATION_TOKEN } from '../aws/env-names';
import { Secret } from '../aws/secrets';
import type { ProcessUser } from '../context/context';
import type { FileStat } from '../context/files';
import { MAX_SYMLINK_HOPS, errnoCode } from '../context/files';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome } from '../run/types';
import type { TokenFileOutput } from './outputs';
import { LINKS, patchTemplateCommands, podRemedy, recreateWorkload, remedy } from './remedies';
import { namespaceArg, pathArg, podArg, sh } from './shell';

/** A projected ServiceAccount token is 1-2 KiB; 64 KiB is far beyond any JWT the API server issues. */
export const MAX_TOKEN_BYTES = 64 * 1024;

const LOOP = `a loop of symbolic links (more than ${MAX_SYMLINK_HOPS})`;

export function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * Whether `user` may read a file with this mode and ownership, by the classic owner/group/other rule
 * (docs/mechanics.md 2.3: the kubelet makes the token 0600 to runAsUser, 0640 to fsGroup, or 0644). uid 0 reads
 * everything (CAP_DAC_OVERRIDE).
 */
export function canRead(stat: FileStat, user: ProcessUser): boolean {
  if (user.uid === 0) return true;
  if (stat.uid === user.uid) return (stat.mode & 0o400) !== 0;
  if (stat.gid === user.gid || user.groups.includes(stat.gid)) return (stat.mode & 0o040) !== 0;
  return (stat.mode & 0o004) !== 0;
}

interface Target {
  readonly path: string;
  readonly mechanism: 'irsa' | 'pod-identity';
  readonly variable: string;
}

/**
 * token.file: the projected token the SDK will read: exists, is a file (the kubelet's `token -> ..data/token`
 * symlink chain is fine), readable by the app's uid/groups, of a sane size (read at most 64 KiB, so a huge file
 * is never read whole), not empty and text.
 */
export const tokenFile: Check<'token.file'> = {
  id: 'token.file',
  title: 'Token file',
  stage: 'token',
  dependsOn: ['env.mechanism'],
  uses: ['env.irsa', 'env.pod-identity'],
  async run(ctx, upstream): Promise<CheckOutcome<TokenFileOutput>> {
    const mechanism = upstream.output('env.mechanism');
    const irsa = upstream.output('env.irsa');
    const podIdentity = upstream.output('env.pod-identity');
    let target: Target;
    if (mechanism?.mechanism === 'irsa' && irsa) {
      target = { path: irsa.tokenFile, mechanism: 'irsa', variable: 'AWS_WEB_IDENTITY_TOKEN_FILE' };
    } else if (podIdentity?.tokenFile) {
      target = {
        path: podIdentity.tokenFile,
        mechanism: 'pod-identity',
        variable: 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
      };
    } else if (podIdentity) {
      // No file: the token itself still goes to the claims and agent checks (env.pod-identity warns that an
      // inline token is never refreshed).
      const token = new Secret((ctx.env[AWS_CONTAINER_AUTHORIZATION_TOKEN] ?? '').trim());
      return {
        status: 'pass',
        summary: `no file: the token is inline in ${AWS_CONTAINER_AUTHORIZATION_TOKEN} (${token.fingerprint})`,
        details: { source: AWS_CONTAINER_AUTHORIZATION_TOKEN, fingerprint: token.fingerprint },
        output: { path: AWS_CONTAINER_AUTHORIZATION_TOKEN, mechanism: 'pod-identity', token, mtimeMs: undefined },
      };
    } else if (mechanism?.mechanism === 'irsa') {
      return { status: 'skip', summary: 'skipped: the IRSA variables are incomplete or invalid (see env.irsa)' };
    } else if (mechanism?.podIdentity) {
      return { status: 'skip', summary: 'skipped: the Pod Identity variables are incomplete (see env.pod-identity)' };
    } else {
      return {
        status: 'skip',
        skipReason: 'not-applicable',
        summary: `skipped: no token file for this mechanism (${mechanism?.mechanism ?? 'unknown'})`,
      };
    }

    const { path } = target;
    const self = await readPodSelf(ctx);
    const details: Record<string, string | number> = { path };

    let link: FileStat;
    try {
      link = await ctx.files.lstat(path);
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'EACCES') {
        return unreadable(ctx.user, target, details, self, undefined, 'EACCES on a parent directory');
      }
      return missing(
        target,
        details,
        self,
        code === 'ENOTDIR' ? 'a parent of the path is not a directory' : code === 'ELOOP' ? LOOP : undefined,
      );
    }
    let linkTarget: string | undefined;
    if (link.kind === 'symlink') {
      linkTarget = await ctx.files.readlink(path).catch(() => undefined);
      // With --target a link is followed inside the app's root, as the app's own open would follow it.
      if (linkTarget !== undefined)
        details.symlink = `-> ${linkTarget}${ctx.options.targetPid === undefined ? '' : " (inside the app's root)"}`;
    }
    let stat: FileStat;
    try {
      stat = link.kind === 'symlink' ? await ctx.files.stat(path) : link;
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'EACCES') return unreadable(ctx.user, target, details, self, undefined, 'EACCES');
      if (code === 'ELOOP') return missing(target, details, self, LOOP);
      return missing(target, details, self, `it is a symlink to ${linkTarget ?? 'a target'} that does not exist`);
    }
    if (stat.resolvedPath !== undefined && stat.resolvedPath !== path) details.resolved = stat.resolvedPath;
    details.mode = octalMode(stat.mode);
    details.owner = `${stat.uid}:${stat.gid}`;
    details.size = stat.size;
    details.mtime = new Date(stat.mtimeMs).toISOString();

    if (stat.kind !== 'file') {
      const what = stat.kind === 'directory' ? 'a directory' : 'not a regular file (a device, socket or pipe)';
      return {
        status: 'fail',
        summary: `${path} is ${what}`,
        details,
        findings: [
          {
            code: 'TOKEN_FILE_NOT_REGULAR',
            summary: `${target.variable} points at ${path}, which is ${what}. ${stat.kind === 'directory' ? `The variable must name the token file inside the mounted directory (the webhook uses ${target.mechanism === 'irsa' ? '.../eks.amazonaws.com/serviceaccount/token' : '.../pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token'}); a mountPath that ends with the file name also makes a directory there.` : ''}`,
            evidence: { path, kind: stat.kind, mode: octalMode(stat.mode) },
            ...podRemedy(self, (pod) =>
              remedy(
                `Point ${target.variable} at the token file (or fix the volumeMount), then recreate the pod.`,
                [
                  sh`ls -la ${pathArg(path, 'TOKEN_FILE')}`,
                  sh`kubectl get pod ${podArg(self.podName)} -n ${namespaceArg(self.namespace)} -o jsonpath='{range .spec.containers[*]}{.name}{": "}{range .volumeMounts[*]}{.mountPath}{" "}{end}{"\\n"}{end}'`,
                  ...recreateWorkload(pod),
                ],
                [LINKS.tokenPermissions],
              ),
            ),
          },
        ],
      };
    }

    const computedReadable = canRead(stat, ctx.user);
    let head: { bytes: Buffer; truncated: boolean } | undefined;
    let readError: string | undefined;
    try {
      head = await ctx.files.readHead(path, MAX_TOKEN_BYTES);
    } catch (error) {
      readError = errnoCode(error) ?? 'read failed';
    }
    if (!computedReadable || readError === 'EACCES' || readError === 'EPERM') {
      return unreadable(ctx.user, target, details, self, stat, readError);
    }
    if (!head) {
      return { status: 'error', summary: `could not read ${path}: ${readError ?? 'unknown error'}`, details };
    }
    if (head.truncated || stat.size > MAX_TOKEN_BYTES) {
      return {
        status: 'fail',
        summary: `${path} is ${stat.size} bytes: not a token`,
        details,
        findings: [
          {
            code: 'TOKEN_FILE_TOO_LARGE',
            summary: `${path} is ${stat.size} bytes; a ServiceAccount token is 1-2 KiB. It was not read past ${MAX_TOKEN_BYTES / 1024} KiB. Something else was written or mounted at this path.`,
            evidence: { path, size: stat.size, limit: MAX_TOKEN_BYTES },
            ...podRemedy(self, (pod) =>
              remedy(
                `Point ${target.variable} at the projected token (the webhook sets it), and make sure nothing else is mounted there; then recreate the pod.`,
                [sh`ls -la ${pathArg(path, 'TOKEN_FILE')}`, ...recreateWorkload(pod)],
              ),
            ),
          },
        ],
      };
    }

    const text = head.bytes.toString('latin1');
    const trimmed = text.trim();
    // A JWT is base64url and dots only (RFC 7519); any other byte means this is not a token. The content is
    // never shown: only the offset and the count.
    const badOffset = trimmed.search(/[^\x21-\x7e]/);
    if (trimmed === '' || badOffset >= 0) {
      const why =
        trimmed === ''
          ? 'the file is empty'
          : `it has ${countBad(trimmed)} byte(s) that are not printable ASCII (first at offset ${badOffset}): a JWT is text of base64url and dots`;
      return {
        status: 'fail',
        summary: `${path}: ${why}`,
        details,
        findings: [
          {
            code: 'TOKEN_MALFORMED',
            summary: `The token file ${path} is not a token: ${why}. The kubelet writes the token atomically, so this file was written by something else (a hand-made Secret or a copy).`,
            evidence: { path, size: stat.size },
            ...podRemedy(self, (pod) =>
              remedy(
                `Let the webhook's projected volume provide the file: remove whatever mounts or writes ${path}, then recreate the pod.`,
                [sh`ls -la ${pathArg(path, 'TOKEN_FILE')}`, ...recreateWorkload(pod)],
                [LINKS.tokenPermissions],
              ),
            ),
          },
        ],
      };
    }

    const token = new Secret(trimmed);
    details.fingerprint = token.fingerprint;
    const output: TokenFileOutput = { path, mechanism: target.mechanism, token, mtimeMs: stat.mtimeMs };
    return {
      status: 'pass',
      summary: `${path} (${stat.size} bytes, ${octalMode(stat.mode)}, ${token.fingerprint})`,
      details,
      output,
    };
  },
};

function countBad(text: string): number {
  return (text.match(/[^\x21-\x7e]/g) ?? []).length;
}

function missing(
  target: Target,
  details: Record<string, string | number>,
  self: { namespace: string | undefined; podName: string | undefined },
  why: string | undefined,
): CheckOutcome<TokenFileOutput> {
  const volume = target.mechanism === 'irsa' ? 'aws-iam-token' : 'eks-pod-identity-token';
  return {
    status: 'fail',
    summary: `${target.path} does not exist${why ? ` (${why})` : ''}`,
    details,
    findings: [
      {
        code: 'TOKEN_FILE_MISSING',
        summary: `${target.variable} names ${target.path}, which does not exist${why ? ` (${why})` : ''}. The token volume "${volume}" is not mounted in this container at that path. Usual causes: the variables were set by hand in a container the webhook did not mutate (it leaves a container untouched, mount included, when the role, region and AWS_STS_REGIONAL_ENDPOINTS variables are all already there), the container is listed in eks.amazonaws.com/skip-containers, the volume is mounted with subPath, or the path differs from the mountPath.`,
        evidence: { path: target.path, variable: target.variable, volume },
        ...podRemedy(self, (pod) =>
          remedy(
            `Let the webhook inject both the variable and the "${volume}" volumeMount (remove hand-set AWS variables and volume mounts), then recreate the pod.`,
            [
              sh`kubectl get pod ${podArg(self.podName)} -n ${namespaceArg(self.namespace)} -o jsonpath='{range .spec.containers[*]}{.name}{": "}{range .volumeMounts[*]}{.name}{"="}{.mountPath}{" "}{end}{"\\n"}{end}'`,
              sh`ls -la ${pathArg(target.path.slice(0, target.path.lastIndexOf('/')) || '/', 'TOKEN_DIR')}`,
              ...recreateWorkload(pod),
            ],
            [LINKS.irsaTroubleshoot],
          ),
        ),
      },
    ],
  };
}

function unreadable(
  user: ProcessUser,
  target: Target,
  details: Record<string, string | number>,
  self: { namespace: string | undefined; podName: string | undefined },
  stat: FileStat | undefined,
  readError: string | undefined,
): CheckOutcome<TokenFileOutput> {
  const mode = stat ? octalMode(stat.mode) : undefined;
  const who = `uid ${user.uid}, gid ${user.gid}, groups [${user.groups.join(', ')}]`;
  const owner = stat ? `owned by ${stat.uid}:${stat.gid}` : '';
  const fsGroup = user.gid >= 0 ? user.gid : 65534;
  const patch = { spec: { template: { spec: { securityContext: { fsGroup } } } } };
  return {
    status: 'fail',
    summary: `${target.path} is not readable by ${who}${mode ? ` (${mode} ${owner})` : ''}`,
    details,
    findings: [
      {
        code: 'TOKEN_FILE_UNREADABLE',
        summary: `The token file ${target.path}${mode ? ` is ${mode} ${owner}` : ''} and this process runs as ${who}${readError ? ` (reading it fails with ${readError})` : ''}, so the SDK cannot read it and the credential call fails. The kubelet makes the token 0600 owned by runAsUser when every container of the pod sets the same runAsUser, and 0640 owned by the fsGroup group when the pod has an fsGroup; a container that runs as another uid (e.g. a debug container) cannot read a 0600 token.`,
        evidence: {
          path: target.path,
          mode: mode ?? null,
          ownerUid: stat?.uid ?? null,
          ownerGid: stat?.gid ?? null,
          processUid: user.uid,
          processGid: user.gid,
          processGroups: [...user.groups],
          readError: readError ?? null,
        },
        ...podRemedy(self, (pod) =>
          remedy(
            `Give the pod an fsGroup that this process is in (gid ${fsGroup}) so the token becomes group-readable, or run this container with the same runAsUser${stat ? ` (${stat.uid})` : ''} as the others; then recreate the pod.`,
            [
              sh`# in the pod template: spec.securityContext: { fsGroup: ${fsGroup} }`,
              ...patchTemplateCommands(pod, patch),
              ...(stat
                ? [
                    sh`# or the same uid as the token owner: spec.containers[*].securityContext: { runAsUser: ${stat.uid} }`,
                  ]
                : []),
            ],
            [LINKS.tokenPermissions],
          ),
        ),
      },
    ],
  };
}
