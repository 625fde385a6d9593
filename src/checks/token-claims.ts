import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { JWTPayload, ProtectedHeaderParameters } from 'jose';
import { IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE } from '../aws/env-names';
import { readPodSelf } from '../context/pod-self';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { TokenClaimsOutput } from './outputs';
import type { PodRef } from './remedies';
import { LINKS, clockRemedy, podRemedy, recreateWorkload, remedy, replacePod } from './remedies';
import { namespaceArg, pathArg, podArg, serviceAccountArg, sh } from './shell';

/** Tolerated clock difference for nbf/iat in the future. */
export const SKEW_TOLERANCE_S = 60;
const DAY_S = 24 * 3600;
/**
 * The kubelet rewrites the token when it is older than 80% of its TTL or 24 h, with up to 10 s of jitter
 * (docs/mechanics.md 2.2). It evaluates that on its volume sync, which runs about every minute, so a token can be that
 * much older before the kubelet is late: the allowance below keeps a healthy pod from a false warning.
 */
const KUBELET_JITTER_S = 10;
const KUBELET_SYNC_ALLOWANCE_S = 120;

const SA_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** "5h 3m", "2d 4h", "42s": a duration for people. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const d = Math.floor(s / DAY_S);
  const h = Math.floor((s % DAY_S) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  return `${m}m`;
}

function relative(epochS: number, nowS: number): string {
  return epochS >= nowS ? `in ${humanDuration(epochS - nowS)}` : `${humanDuration(nowS - epochS)} ago`;
}

function iso(epochS: number): string {
  const ms = epochS * 1000;
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(epochS);
}

/** Why a string is not a compact JWS, in terms of its shape only (the content is never echoed). */
export function jwtShapeProblem(token: string): string | undefined {
  const segments = token.split('.');
  if (token.startsWith('{')) return 'it looks like JSON, not a JWT (three base64url segments separated by dots)';
  if (segments.length === 5) return 'it has five segments: an encrypted JWE, not the signed JWT Kubernetes issues';
  if (segments.length !== 3) {
    return `a JWT has three base64url segments separated by dots; this has ${segments.length}`;
  }
  const names = ['header', 'payload', 'signature'];
  for (const [i, segment] of segments.entries()) {
    if (segment === '') return `its ${names[i]} segment is empty`;
    if (!/^[A-Za-z0-9_-]+$/.test(segment)) return `its ${names[i]} segment is not base64url`;
  }
  return undefined;
}

interface Decoded {
  readonly header: ProtectedHeaderParameters;
  readonly claims: JWTPayload;
}

function decode(token: string): Decoded | string {
  const shape = jwtShapeProblem(token);
  if (shape) return shape;
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return 'its header segment does not decode to a JSON object';
  }
  try {
    return { header, claims: decodeJwt(token) };
  } catch {
    return 'its payload segment does not decode to a JSON object of claims';
  }
}

function claimProblems(claims: JWTPayload): string[] {
  const problems: string[] = [];
  for (const name of ['iss', 'sub'] as const) {
    if (claims[name] === undefined) problems.push(`"${name}" is missing`);
    else if (typeof claims[name] !== 'string') problems.push(`"${name}" is not a string`);
  }
  if (claims.exp === undefined) problems.push('"exp" is missing');
  else if (typeof claims.exp !== 'number') problems.push('"exp" is not a number');
  for (const name of ['iat', 'nbf'] as const) {
    if (claims[name] !== undefined && typeof claims[name] !== 'number') problems.push(`"${name}" is not a number`);
  }
  const aud = claims.aud;
  if (aud === undefined) problems.push('"aud" is missing');
  else if (!(typeof aud === 'string' || (Array.isArray(aud) && aud.every((a) => typeof a === 'string')))) {
    problems.push('"aud" is neither a string nor an array of strings');
  }
  return problems;
}

function podUidOf(claims: JWTPayload): string | undefined {
  const k8s = claims['kubernetes.io'];
  if (!k8s || typeof k8s !== 'object' || !('pod' in k8s)) return undefined;
  const pod = (k8s as { pod?: unknown }).pod;
  return pod && typeof pod === 'object' && 'uid' in pod && typeof pod.uid === 'string' ? pod.uid : undefined;
}

function podNameOf(claims: JWTPayload): string | undefined {
  const k8s = claims['kubernetes.io'];
  if (!k8s || typeof k8s !== 'object' || !('pod' in k8s)) return undefined;
  const pod = (k8s as { pod?: unknown }).pod;
  return pod && typeof pod === 'object' && 'name' in pod && typeof pod.name === 'string' ? pod.name : undefined;
}

/**
 * token.claims: the token decoded (not verified: the signature is issuer.discovery's) and checked against
 * what the mechanism needs: times, audience, and that the subject is this pod's ServiceAccount
 * (docs/mechanics.md 2.1, 2.2). Only claims and the fingerprint are shown, never a segment of the token.
 */
export const tokenClaims: Check<'token.claims'> = {
  id: 'token.claims',
  title: 'Token claims',
  stage: 'token',
  dependsOn: ['token.file'],
  async run(ctx, upstream): Promise<CheckOutcome<TokenClaimsOutput>> {
    const file = upstream.output('token.file');
    if (!file) return { status: 'skip', summary: 'skipped: no token was read (see token.file)' };
    const self = await readPodSelf(ctx);
    const podRef: PodRef = { namespace: self.namespace, podName: self.podName };

    const decoded = decode(file.token.reveal());
    if (typeof decoded === 'string') return malformed(file.path, decoded, file.token.fingerprint, podRef);
    const problems = claimProblems(decoded.claims);
    if (problems.length > 0) return malformed(file.path, problems.join(', '), file.token.fingerprint, podRef);

    const { header, claims } = decoded;
    const iss = claims.iss as string;
    const sub = claims.sub as string;
    const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud as string[]);
    const exp = claims.exp as number;
    const iat = claims.iat;
    const nbf = claims.nbf;
    const subject = SA_SUBJECT.exec(sub);
    const output: TokenClaimsOutput = {
      alg: typeof header.alg === 'string' ? header.alg : undefined,
      kid: typeof header.kid === 'string' ? header.kid : undefined,
      iss,
      sub,
      aud,
      exp,
      iat,
      nbf,
      namespace: subject?.[1],
      serviceAccount: subject?.[2],
      podName: podNameOf(claims),
      podUid: podUidOf(claims),
    };
    const nowS = ctx.clock.now() / 1000;
    const details: Record<string, string> = {
      alg: output.alg ?? '(none)',
      kid: output.kid ?? '(none)',
      iss,
      sub,
      aud: aud.join(', '),
      exp: `${iso(exp)} (${exp >= nowS ? 'expires' : 'expired'} ${relative(exp, nowS)})`,
      ...(iat !== undefined ? { iat: `${iso(iat)} (${relative(iat, nowS)})` } : {}),
      namespace: output.namespace ?? '(not a ServiceAccount subject)',
      serviceAccount: output.serviceAccount ?? '(not a ServiceAccount subject)',
      pod: output.podName ?? '(none)',
      fingerprint: file.token.fingerprint,
    };

    const findings: FindingInput[] = [];
    const times = { exp: iso(exp), iat: iat !== undefined ? iso(iat) : null, now: iso(nowS) };
    if (exp < nowS) {
      findings.push({
        code: 'TOKEN_EXPIRED',
        summary: `The token in ${file.path} expired ${humanDuration(nowS - exp)} ago (exp ${iso(exp)}). The kubelet rewrites a projected token long before it expires, so this file is not being refreshed: it is mounted with subPath (never updated), it is a copy (a Secret or baked into the image), the pod is terminating, or this node's clock is wrong. STS answers ExpiredTokenException.`,
        evidence: { ...times, mtime: file.mtimeMs === undefined ? null : new Date(file.mtimeMs).toISOString() },
        ...podRemedy(podRef, (pod) =>
          remedy(
            'Mount the webhook-projected volume directly (no subPath, no copy) and replace the pod so the kubelet writes a fresh token; check the node clock if the token looks fresh.',
            [sh`date -u`, sh`ls -la --time-style=full-iso ${pathArg(file.path, 'TOKEN_FILE')}`, ...replacePod(pod)],
            [LINKS.tokenPermissions],
          ),
        ),
      });
    }
    const future = [
      ...(nbf !== undefined && nbf > nowS + SKEW_TOLERANCE_S ? [['nbf', nbf] as const] : []),
      ...(iat !== undefined && iat > nowS + SKEW_TOLERANCE_S ? [['iat', iat] as const] : []),
    ];
    if (future.length > 0) {
      const [name, value] = future[0] as readonly [string, number];
      findings.push({
        code: 'TOKEN_NOT_YET_VALID',
        summary: `The token's ${name} (${iso(value)}) is ${humanDuration(value - nowS)} in the future of this pod's clock (tolerance ${SKEW_TOLERANCE_S} s): clock skew between this node and the API server. STS and the Pod Identity agent reject a token that is not yet valid.`,
        evidence: { ...times, nbf: nbf !== undefined ? iso(nbf) : null, skewSeconds: Math.round(value - nowS) },
        remedy: clockRemedy(),
      });
    }

    const needed = file.mechanism === 'irsa' ? IRSA_AUDIENCE : POD_IDENTITY_AUDIENCE;
    // An IRSA token carries the ServiceAccount's eks.amazonaws.com/audience when it has one (cache.go addSA):
    // any audience works that the IAM OIDC provider lists as a client ID and the trust policy's :aud names.
    // The token alone cannot tell, so kube.serviceaccount (the annotation) and sts.assume-role (what STS
    // did) judge it; only Pod Identity, whose agent accepts pods.eks.amazonaws.com alone, is judged here.
    const customIrsaAudience = file.mechanism === 'irsa' && aud.length > 0 && !aud.includes(needed);
    if (customIrsaAudience) {
      details.aud = `${aud.join(', ')} (not ${IRSA_AUDIENCE}: the ServiceAccount's eks.amazonaws.com/audience; it works when the IAM OIDC provider lists it as a client ID and the trust policy's :aud names it${aud.includes('sts.amazon.com') ? '; "sts.amazon.com" looks like a typo of sts.amazonaws.com' : ''})`;
    }
    if (!aud.includes(needed) && !customIrsaAudience) {
      const typo = aud.find((a) => a === 'sts.amazon.com');
      findings.push({
        code: 'TOKEN_AUDIENCE_MISMATCH',
        summary: `The token's audience is ${aud.map((a) => `"${a}"`).join(', ') || 'empty'}, but ${file.mechanism === 'irsa' ? `IRSA needs "${needed}" (unless the IAM OIDC provider lists this audience as a client ID and the trust policy's :aud matches it)` : `Pod Identity needs "${needed}"`}.${typo === 'sts.amazon.com' ? ' "sts.amazon.com" is a common typo of sts.amazonaws.com.' : ''} ${file.mechanism === 'irsa' ? 'The audience comes from the ServiceAccount annotation eks.amazonaws.com/audience; STS answers "InvalidIdentityToken: Incorrect token audience".' : 'The agent gets a token of the wrong audience: the token volume was not made by the webhook.'}`,
        evidence: { aud, expected: needed },
        ...podRemedy(podRef, (pod) =>
          remedy(
            file.mechanism === 'irsa'
              ? 'Give the token an audience: remove (or correct) the eks.amazonaws.com/audience annotation of the ServiceAccount, then recreate the pod.'
              : 'Let the webhook create the Pod Identity token volume (remove hand-made volumes), then recreate the pod.',
            [
              ...(file.mechanism === 'irsa'
                ? [
                    sh`kubectl annotate serviceaccount ${serviceAccountArg(output.serviceAccount)} -n ${namespaceArg(output.namespace ?? self.namespace)} eks.amazonaws.com/audience-`,
                  ]
                : []),
              ...recreateWorkload(pod),
            ],
            [LINKS.irsaTroubleshoot],
          ),
        ),
      });
    }

    if (!subject) {
      findings.push({
        code: 'TOKEN_SUBJECT_MISMATCH',
        summary: `The token's sub "${sub.slice(0, 200)}" is not a ServiceAccount subject (system:serviceaccount:NAMESPACE:NAME): this is not a projected ServiceAccount token.`,
        evidence: { sub: sub.slice(0, 300) },
        ...podRemedy(podRef, (pod) =>
          remedy(
            'Let the webhook project the ServiceAccount token; remove hand-made token files.',
            recreateWorkload(pod),
            [LINKS.irsa],
          ),
        ),
      });
    } else {
      const [, tokenNs = '', tokenSa = ''] = subject;
      const nsDiffers = self.namespace !== undefined && self.namespace !== tokenNs;
      const saDiffers = self.serviceAccount !== undefined && self.serviceAccount !== tokenSa;
      if (nsDiffers || saDiffers) {
        const parts = [
          nsDiffers
            ? `namespace "${tokenNs}" while this pod runs in "${self.namespace}" (from ${self.namespaceSource})`
            : '',
          saDiffers ? `ServiceAccount "${tokenSa}" while this pod runs as "${self.serviceAccount}"` : '',
        ].filter(Boolean);
        findings.push({
          code: 'TOKEN_SUBJECT_MISMATCH',
          summary: `The token's sub names ${parts.join(' and ')}. It is not this pod's own projected token (copied from elsewhere, or a hand-set variable points at another pod's file); the role's trust policy is written for one namespace and ServiceAccount, so STS answers AccessDenied.`,
          evidence: {
            sub,
            tokenNamespace: tokenNs,
            tokenServiceAccount: tokenSa,
            podNamespace: self.namespace ?? null,
            podServiceAccount: self.serviceAccount ?? null,
          },
          ...podRemedy(podRef, (pod) =>
            remedy(
              "Use the token the webhook projects for this pod's own ServiceAccount (remove hand-set token paths or copied files), then recreate the pod.",
              [
                sh`kubectl get pod ${podArg(self.podName)} -n ${namespaceArg(self.namespace)} -o jsonpath='{.spec.serviceAccountName}{"\\n"}'`,
                ...recreateWorkload(pod),
              ],
              [LINKS.irsa],
            ),
          ),
        });
      }
    }

    if (exp >= nowS) {
      const stale = file.mtimeMs === undefined ? undefined : staleness(file.mtimeMs / 1000, iat, exp, nowS);
      if (stale) {
        findings.push({
          code: 'TOKEN_STALE',
          summary: `${stale} The kubelet rewrites the token when it is older than 80% of its lifetime or 24 h, so it has stopped refreshing it: a subPath mount, a copied file, or kubelet trouble on this node. The token still works until ${iso(exp)}.`,
          evidence: { ...times, mtime: file.mtimeMs === undefined ? null : new Date(file.mtimeMs).toISOString() },
          ...podRemedy(podRef, (pod) =>
            remedy(
              'Mount the projected token volume directly (no subPath); if it is, look at the kubelet on this node; replace the pod so the kubelet writes a fresh token.',
              [
                sh`ls -la --time-style=full-iso ${pathArg(file.path.slice(0, file.path.lastIndexOf('/')) || '/', 'TOKEN_DIR')}`,
                ...replacePod(pod),
              ],
              [LINKS.tokenPermissions],
            ),
          ),
        });
      }
    }

    const errors = findings.filter((f) => f.code !== 'TOKEN_STALE');
    return {
      status: errors.length > 0 ? 'fail' : findings.length > 0 ? 'warn' : 'pass',
      summary:
        findings.length === 0
          ? `${sub}, aud ${aud.join(',')}, expires ${relative(exp, nowS)}`
          : findings.map((f) => shortOf(f.code)).join('; '),
      details,
      output,
      findings,
    };
  },
};

/** Why the token file looks older than the kubelet allows, or undefined when it is fresh enough. */
function staleness(mtimeS: number, iat: number | undefined, exp: number, nowS: number): string | undefined {
  const ttl = iat !== undefined ? exp - iat : undefined;
  const refreshAfter =
    Math.min(ttl !== undefined ? 0.8 * ttl : DAY_S, DAY_S) + KUBELET_JITTER_S + KUBELET_SYNC_ALLOWANCE_S;
  const fileAge = nowS - mtimeS;
  if (fileAge > refreshAfter) {
    return `The token file was last written ${humanDuration(fileAge)} ago; it should have been rewritten after ${humanDuration(refreshAfter - KUBELET_SYNC_ALLOWANCE_S)}.`;
  }
  if (iat !== undefined && nowS - iat > DAY_S + KUBELET_JITTER_S + KUBELET_SYNC_ALLOWANCE_S) {
    return `The token was issued ${humanDuration(nowS - iat)} ago; the kubelet replaces tokens older than 24 h.`;
  }
  return undefined;
}

function shortOf(code: FindingInput['code']): string {
  switch (code) {
    case 'TOKEN_EXPIRED':
      return 'expired';
    case 'TOKEN_NOT_YET_VALID':
      return 'not yet valid (clock skew)';
    case 'TOKEN_AUDIENCE_MISMATCH':
      return 'wrong audience';
    case 'TOKEN_SUBJECT_MISMATCH':
      return "subject is not this pod's ServiceAccount";
    case 'TOKEN_STALE':
      return 'not refreshed by the kubelet';
    default:
      return code;
  }
}

function malformed(path: string, why: string, fingerprint: string, podRef: PodRef): CheckOutcome<TokenClaimsOutput> {
  return {
    status: 'fail',
    summary: `not a usable JWT: ${why}`,
    details: { path, fingerprint },
    findings: [
      {
        code: 'TOKEN_MALFORMED',
        summary: `The token in ${path} is not a usable ServiceAccount JWT: ${why}. The SDK sends it anyway and STS answers InvalidIdentityToken (the agent: "Service account token cannot be parsed").`,
        evidence: { path, problem: why, fingerprint },
        ...podRemedy(podRef, (pod) =>
          remedy(
            `Let the webhook's projected volume provide ${path} (remove whatever writes or mounts something else there), then recreate the pod.`,
            [sh`ls -la ${pathArg(path, 'TOKEN_FILE')}`, ...recreateWorkload(pod)],
            [LINKS.tokenPermissions],
          ),
        ),
      },
    ],
  };
}
