import { CredentialBook } from '../../src/sim/identities';
import type { IssuerFault, SimulatedIssuer } from '../../src/sim/oidc';
import { startIssuer } from '../../src/sim/oidc';
import type { OidcProviderEntry, SimulatedSts, StsOptions } from '../../src/sim/sts';
import { startSts } from '../../src/sim/sts';

export const ACCOUNT = '111122223333';
export const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/team/app`;

/** An issuer and an STS that trusts it for shop/api, as most STS tests need. */
export interface StsHarness {
  readonly book: CredentialBook;
  readonly issuer: SimulatedIssuer;
  readonly sts: SimulatedSts;
  token(overrides?: Partial<Parameters<SimulatedIssuer['mintToken']>[0]>): Promise<string>;
  close(): Promise<void>;
}

export function trustFor(issuer: SimulatedIssuer, condition: Record<string, Record<string, unknown>>): unknown {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.hostPath}` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: condition,
      },
    ],
  };
}

export async function startHarness(
  init: {
    readonly issuerFaults?: { pod?: IssuerFault; aws?: IssuerFault };
    readonly providers?: (issuer: SimulatedIssuer) => Record<string, readonly OidcProviderEntry[]>;
    readonly trust?: (issuer: SimulatedIssuer) => unknown;
    readonly sts?: Partial<StsOptions>;
  } = {},
): Promise<StsHarness> {
  const book = new CredentialBook();
  const issuer = await startIssuer({ ...init.issuerFaults, onSecret: (s) => book.recordSecret(s) });
  const providers = init.providers?.(issuer) ?? {
    [ACCOUNT]: [{ url: issuer.hostPath, clientIds: ['sts.amazonaws.com'] }],
  };
  const trustPolicy =
    init.trust?.(issuer) ??
    trustFor(issuer, {
      StringEquals: {
        [`${issuer.hostPath}:sub`]: 'system:serviceaccount:shop:api',
        [`${issuer.hostPath}:aud`]: 'sts.amazonaws.com',
      },
    });
  const sts = await startSts({ book, providers, roles: [{ arn: ROLE_ARN, trustPolicy }], ...init.sts });
  return {
    book,
    issuer,
    sts,
    token: (overrides = {}) => issuer.mintToken({ namespace: 'shop', serviceAccount: 'api', ...overrides }),
    async close() {
      await Promise.all([sts.close(), issuer.close()]);
    },
  };
}

/** The text of the first <name> element, or undefined. */
export function tag(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
}

export async function stsPost(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; contentType: string | null; body: string; requestId: string | null }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...headers },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(5_000),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: await response.text(),
    requestId: response.headers.get('x-amzn-requestid'),
  };
}

export function assumeParams(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE_ARN,
    RoleSessionName: 'sim-session',
    WebIdentityToken: token,
    ...extra,
  };
}

/** A SigV4-shaped Authorization header (the sim reads the key id, not the signature). */
export function sigv4(accessKeyId: string): string {
  return `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20261122/us-west-2/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=${'0'.repeat(64)}`;
}
