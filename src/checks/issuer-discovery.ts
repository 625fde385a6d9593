import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import net from 'node:net';
import type { HttpAnswer } from '../aws/http';
import { ADDRESS_REFUSED, NetError, describeNetFailure } from '../aws/http';
import { issuerHostOf } from '../aws/trust-policy';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { IssuerOutput } from './outputs';
import { LINKS, podRemedy, remedy, replacePod } from './remedies';
import { placeholder, sh, urlArg } from './shell';

const OIDC_TIMEOUT_MS = 3_000;
/** Discovery documents and JWKS are a few KiB; anything far larger is not one. */
const OIDC_MAX_BYTES = 256 * 1024;

/**
 * The issuer without its scheme and trailing slash: what IAM names the provider after and what the trust
 * policy's condition keys start with, e.g. oidc.eks.us-west-2.amazonaws.com/id/XXXX (docs/mechanics.md 3.2, 3.4).
 */
export const issuerHostPath = issuerHostOf;

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** docs/cli.md, "Environment": http:// is fetched only on loopback (local testing); everything else needs https. */
export function fetchableIssuerUrl(url: string): { ok: true; url: URL } | { ok: false; why: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, why: `"${url.slice(0, 200)}" is not a URL` };
  }
  if (parsed.protocol === 'https:') return { ok: true, url: parsed };
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return { ok: true, url: parsed };
  return { ok: false, why: `${parsed.protocol}// is only fetched on loopback; an issuer must be https://` };
}

/** The 16 bytes of an IPv6 address, or undefined when it is not one. */
function ipv6Bytes(address: string): number[] | undefined {
  if (net.isIPv6(address) === false) return undefined;
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    text = text.slice(0, -dotted.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/**
 * Why an address must not be fetched from: link-local (169.254.0.0/16, fe80::/10) and the EC2 IPv6 metadata
 * range (fd00:ec2::/32) hold IMDS, the ECS agent and the Pod Identity agent, which hand out credentials; an OIDC
 * issuer is never there (STS could not reach it), so a token or discovery document naming one is pointing the
 * doctor at them. IPv4-mapped IPv6 forms count as their IPv4 address.
 */
export function refusedIssuerAddress(address: string): string | undefined {
  let v4 = net.isIPv4(address) ? address : undefined;
  const v6 = ipv6Bytes(address);
  if (v6 && v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff) v4 = v6.slice(12).join('.');
  if (v4 !== undefined)
    return v4.startsWith('169.254.')
      ? `${address}, a link-local address (instance metadata, the ECS and Pod Identity agents)`
      : undefined;
  if (!v6) return undefined;
  if (v6[0] === 0xfe && ((v6[1] ?? 0) & 0xc0) === 0x80) return `${address}, a link-local address`;
  if (v6[0] === 0xfd && v6[1] === 0x00 && v6[2] === 0x0e && v6[3] === 0xc2) {
    return `${address}, in the EC2 IPv6 metadata range fd00:ec2::/32`;
  }
  return undefined;
}

/** The port a URL connects to. */
function effectivePort(url: URL): string {
  return url.port || (url.protocol === 'https:' ? '443' : url.protocol === 'http:' ? '80' : '');
}

const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();

/**
 * Whether the discovery document's jwks_uri may be fetched: it must be on the issuer's own host and port. The
 * document comes from a server the token names, so a jwks_uri elsewhere (another host, another port of
 * loopback, a metadata address) would have the doctor request whatever that server chose. STS fetches the keys
 * itself from the AWS side; not fetching them here only means the signature is not checked from the pod.
 */
export function jwksUriProblem(jwksUri: string, issuer: string): string | undefined {
  let jwks: URL;
  let iss: URL;
  try {
    jwks = new URL(jwksUri);
    iss = new URL(issuer);
  } catch {
    return undefined; // not a URL: fetchJson says so
  }
  const literal = bareHost(jwks);
  const metadata = net.isIP(literal) !== 0 ? refusedIssuerAddress(literal) : undefined;
  if (metadata) return `it names ${metadata}`;
  if (bareHost(jwks) !== bareHost(iss))
    return `it names another host (${jwks.host.slice(0, 200)}) than the issuer (${iss.host})`;
  if (effectivePort(jwks) !== effectivePort(iss)) {
    return `it names another port (${effectivePort(jwks)}) of the issuer's host than the issuer's (${effectivePort(iss)})`;
  }
  return undefined;
}

type Fetched =
  | { ok: true; json: Record<string, unknown> }
  | { ok: false; why: string; refused?: undefined }
  /** Not fetched by policy: the address is a metadata address. */
  | { ok: false; why: string; refused: true };

async function fetchJson(ctx: Parameters<Check['run']>[0], url: string, signal: AbortSignal): Promise<Fetched> {
  const allowed = fetchableIssuerUrl(url);
  if (!allowed.ok) return allowed;
  let answer: HttpAnswer;
  try {
    answer = await ctx.net.request(allowed.url.href, {
      headers: { accept: 'application/json' },
      timeoutMs: OIDC_TIMEOUT_MS,
      signal,
      maxBytes: OIDC_MAX_BYTES,
      refuseAddress: refusedIssuerAddress,
    });
  } catch (error) {
    if (error instanceof NetError && error.code === ADDRESS_REFUSED) {
      return { ok: false, refused: true, why: error.message };
    }
    if (error instanceof NetError) return { ok: false, why: describeNetFailure(error) };
    throw error;
  }
  if (answer.status !== 200) return { ok: false, why: `${allowed.url.host} answered HTTP ${answer.status}` };
  if (answer.truncated) return { ok: false, why: `the answer is larger than ${OIDC_MAX_BYTES} bytes` };
  try {
    const json: unknown = JSON.parse(answer.body.toString('utf8'));
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return { ok: false, why: 'the answer is JSON but not an object' };
    }
    return { ok: true, json: json as Record<string, unknown> };
  } catch {
    const type = answer.headers['content-type']?.split(';')[0]?.trim();
    return {
      ok: false,
      why: `${allowed.url.host} answered HTTP 200 with ${type ?? 'no content type'} that is not JSON`,
    };
  }
}

/**
 * issuer.discovery: the token's issuer as the pod sees it. Discovery and JWKS unreachable from the pod is only a
 * warning: with the EKS VPC endpoint the public issuer often does not resolve in-VPC, while STS fetches the
 * keys from the AWS side (docs/mechanics.md 3.1). A mismatched issuer or a bad signature is a real break.
 */
export const issuerDiscovery: Check<'issuer.discovery'> = {
  id: 'issuer.discovery',
  title: 'OIDC issuer discovery and token signature',
  stage: 'issuer',
  dependsOn: ['token.claims'],
  uses: ['token.file'],
  needs: 'network',
  timeoutMs: 2 * OIDC_TIMEOUT_MS + 500,
  async run(ctx, upstream, signal): Promise<CheckOutcome<IssuerOutput>> {
    const claims = upstream.output('token.claims');
    if (!claims) return { status: 'skip', summary: 'skipped: no token claims' };
    const iss = claims.iss;
    const issuerHost = issuerHostPath(iss);
    const discoveryUrl = `${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const details = { issuer: iss, conditionKeys: `${issuerHost}:sub, ${issuerHost}:aud` };
    const unreachable = (why: string, url: string): CheckOutcome<IssuerOutput> => ({
      status: 'warn',
      // Which of the two fetches failed: a JWKS on another host than discovery is a different thing to fix.
      summary: `${url === discoveryUrl ? 'issuer' : "the issuer's JWKS"} not reachable from this pod (${why}); often normal in private VPCs, STS fetches the keys itself`,
      details,
      findings: [
        {
          code: 'OIDC_DISCOVERY_UNREACHABLE',
          summary: `The issuer's ${url.endsWith('openid-configuration') ? 'discovery document' : 'JWKS'} could not be fetched from this pod: ${why}. This alone does not break IRSA on EKS: STS fetches the keys from the AWS side, and in private VPCs the public issuer often does not resolve. It matters only for a self-hosted issuer, which STS must reach from the internet.`,
          evidence: { url, reason: why },
          remedy: remedy(
            'Nothing to do on EKS unless STS reports OIDC_KEYS_UNRETRIEVABLE; for a self-hosted issuer make discovery and JWKS publicly reachable over https.',
            [sh`curl -sS --max-time 5 ${urlArg(discoveryUrl, 'DISCOVERY_URL')}`],
            [LINKS.oidcTroubleshoot],
          ),
        },
      ],
    });

    const notFetched = (url: string, why: string): CheckOutcome<IssuerOutput> => ({
      status: 'warn',
      summary: `${url === discoveryUrl ? 'issuer' : "the issuer's jwks_uri"} not fetched: ${why}`,
      details,
      findings: [
        {
          code: 'OIDC_URL_NOT_FETCHED',
          summary: `${url === discoveryUrl ? `The token's issuer (iss) ${iss}` : `The discovery document's jwks_uri ${url}`} was not fetched: ${why}. The token and the discovery document come from outside this tool, so it does not request what they point at there; the token's signature was not checked from this pod. STS fetches the issuer's keys itself; if STS refuses the token, this is where to look.`,
          evidence: { url, reason: why, fetched: false },
          remedy: remedy(
            url === discoveryUrl
              ? "Check the cluster's service-account issuer: on EKS it is https://oidc.eks.REGION.amazonaws.com/id/ID; a token with another iss was not minted by this cluster's API server."
              : "A Kubernetes issuer serves its keys next to its discovery document (ISSUER/openid/v1/jwks on EKS, ISSUER/keys for a self-hosted S3 issuer); publish a discovery document whose jwks_uri is on the issuer's own host.",
            [sh`curl -sS --max-time 5 ${urlArg(discoveryUrl, 'DISCOVERY_URL')}`],
            [LINKS.oidcTroubleshoot],
          ),
        },
      ],
    });

    const discovery = await fetchJson(ctx, discoveryUrl, signal);
    if (!discovery.ok) {
      return discovery.refused ? notFetched(discoveryUrl, discovery.why) : unreachable(discovery.why, discoveryUrl);
    }
    const advertised = discovery.json.issuer;
    if (advertised !== iss) {
      const shown = typeof advertised === 'string' ? advertised.slice(0, 300) : String(advertised);
      return {
        status: 'fail',
        summary: `the discovery document names issuer "${shown}", not the token's "${iss}"`,
        details,
        findings: [
          {
            code: 'OIDC_ISSUER_MISMATCH',
            summary: `The issuer's discovery document says issuer "${shown}", but the token's iss is "${iss}". STS and every OIDC verifier require an exact match (scheme, host, path, trailing slash, case). The cluster's --service-account-issuer or the published discovery document is wrong.`,
            evidence: { tokenIss: iss, discoveryIssuer: shown, discoveryUrl },
            remedy: remedy(
              "Publish a discovery document whose issuer equals the API server's --service-account-issuer exactly (on EKS this is managed: check that the token really comes from this cluster).",
              [
                sh`curl -sS ${urlArg(discoveryUrl, 'DISCOVERY_URL')}`,
                sh`aws eks describe-cluster --name ${placeholder('CLUSTER')} --query cluster.identity.oidc.issuer`,
              ],
              [LINKS.oidcTroubleshoot],
            ),
          },
        ],
      };
    }
    const jwksUri = typeof discovery.json.jwks_uri === 'string' ? discovery.json.jwks_uri : undefined;
    if (!jwksUri) return unreachable('the discovery document has no jwks_uri', discoveryUrl);
    const elsewhere = jwksUriProblem(jwksUri, iss);
    if (elsewhere) return notFetched(jwksUri.slice(0, 500), elsewhere);
    const jwks = await fetchJson(ctx, jwksUri, signal);
    if (!jwks.ok) return jwks.refused ? notFetched(jwksUri.slice(0, 500), jwks.why) : unreachable(jwks.why, jwksUri);
    const keys = Array.isArray(jwks.json.keys) ? (jwks.json.keys as unknown[]) : undefined;
    if (!keys) return unreachable('the JWKS has no keys array', jwksUri);
    const kids = keys
      .map((k) => (typeof k === 'object' && k !== null ? (k as { kid?: unknown }).kid : undefined))
      .filter((k): k is string => typeof k === 'string');

    const token = upstream.output('token.file')?.token;
    if (!token) {
      return {
        status: 'pass',
        summary: `issuer reachable, ${keys.length} signing key(s); signature not checked (token unavailable)`,
        details,
        output: { issuerHost, jwksUri, signatureVerified: false },
      };
    }
    const bad = await verifySignature(token.reveal(), jwks.json as unknown as JSONWebKeySet, claims);
    if (bad) {
      const finding: FindingInput = {
        code: 'TOKEN_SIGNATURE_INVALID',
        summary: bad.summary,
        evidence: { kid: claims.kid ?? null, alg: claims.alg ?? null, jwksKids: kids.slice(0, 20), jwksUri },
        ...podRemedy({ namespace: claims.namespace, podName: claims.podName }, (pod) =>
          remedy(
            'Use a token minted by this cluster for this issuer: replace the pod so the kubelet projects a fresh token, and check that AWS_WEB_IDENTITY_TOKEN_FILE points at the projected token, not a copied one.',
            [sh`curl -sS ${urlArg(jwksUri, 'JWKS_URI')}`, ...replacePod(pod)],
            [LINKS.oidcTroubleshoot],
          ),
        ),
      };
      return { status: 'fail', summary: bad.short, details, findings: [finding] };
    }
    return {
      status: 'pass',
      summary: `issuer matches, token signed by key ${claims.kid ?? '(no kid)'} of ${keys.length} in the JWKS`,
      details,
      output: { issuerHost, jwksUri, signatureVerified: true },
    };
  },
};

/** undefined when the signature verifies; else what is wrong, saying whether the kid or the signature failed. */
export async function verifySignature(
  jwt: string,
  jwks: JSONWebKeySet,
  claims: { readonly kid: string | undefined; readonly alg: string | undefined; readonly iat: number | undefined },
): Promise<{ short: string; summary: string } | undefined> {
  try {
    const keySet = createLocalJWKSet(jwks);
    // Expiry is token.claims' business: verify the signature as of the token's own issue time.
    await jwtVerify(jwt, keySet, {
      algorithms: claims.alg ? [claims.alg] : undefined,
      currentDate: claims.iat !== undefined ? new Date(claims.iat * 1000) : undefined,
      clockTolerance: 10 * 365 * 24 * 3600,
    });
    return undefined;
  } catch (error) {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (code === 'ERR_JWKS_NO_MATCHING_KEY') {
      return {
        short: `kid ${claims.kid ?? '(none)'} is not in the issuer's JWKS`,
        summary: `The token's signing key id (kid ${claims.kid ?? 'absent'}, alg ${claims.alg ?? 'absent'}) is not in the issuer's JWKS: the token was minted by another cluster or issuer, or the keys were rotated. STS will reject it too.`,
      };
    }
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      return {
        short: `the signature does not verify with key ${claims.kid ?? '(no kid)'}`,
        summary: `The JWKS has the token's key id (${claims.kid ?? 'no kid'}), but the signature does not verify with it: the token was altered or signed by a different key under the same kid.`,
      };
    }
    const reason = error instanceof Error ? error.message.slice(0, 200) : String(error);
    return {
      short: `the signature cannot be verified: ${reason}`,
      summary: `The token's signature cannot be verified against the issuer's JWKS (${reason}).`,
    };
  }
}
