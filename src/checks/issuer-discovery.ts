import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import type { HttpAnswer } from '../aws/http';
import { NetError, describeNetFailure } from '../aws/http';
import type { Check, CheckOutcome, FindingInput } from '../run/types';
import type { IssuerOutput } from './outputs';
import { LINKS, deletePodCommand, remedy } from './remedies';

const OIDC_TIMEOUT_MS = 3_000;
/** Discovery documents and JWKS are a few KiB; anything far larger is not one. */
const OIDC_MAX_BYTES = 256 * 1024;

/**
 * The issuer without its scheme and trailing slash: what IAM names the provider after and what the trust
 * policy's condition keys start with, e.g. oidc.eks.us-west-2.amazonaws.com/id/XXXX (docs/mechanics.md 3.2, 3.4).
 */
export function issuerHostPath(iss: string): string {
  return iss.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
}

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

type Fetched = { ok: true; json: Record<string, unknown> } | { ok: false; why: string };

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
    });
  } catch (error) {
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
            [`curl -sS --max-time 5 ${discoveryUrl}`],
            [LINKS.oidcTroubleshoot],
          ),
        },
      ],
    });

    const discovery = await fetchJson(ctx, discoveryUrl, signal);
    if (!discovery.ok) return unreachable(discovery.why, discoveryUrl);
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
                `curl -sS ${discoveryUrl}`,
                'aws eks describe-cluster --name <CLUSTER> --query cluster.identity.oidc.issuer',
              ],
              [LINKS.oidcTroubleshoot],
            ),
          },
        ],
      };
    }
    const jwksUri = typeof discovery.json.jwks_uri === 'string' ? discovery.json.jwks_uri : undefined;
    if (!jwksUri) return unreachable('the discovery document has no jwks_uri', discoveryUrl);
    const jwks = await fetchJson(ctx, jwksUri, signal);
    if (!jwks.ok) return unreachable(jwks.why, jwksUri);
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
        remedy: remedy(
          'Use a token minted by this cluster for this issuer: recreate the pod so the kubelet projects a fresh token, and check that AWS_WEB_IDENTITY_TOKEN_FILE points at the projected token, not a copied one.',
          [
            `curl -sS ${jwksUri}`,
            deletePodCommand(claims.namespace, claims.podName, 'its controller recreates it with a fresh token'),
          ],
          [LINKS.oidcTroubleshoot],
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
