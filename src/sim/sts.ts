import http from 'node:http';
import https from 'node:https';
import { compactVerify, createLocalJWKSet, decodeJwt, decodeProtectedHeader } from 'jose';
import type { JSONWebKeySet } from 'jose';
import type { CallerIdentity, CredentialBook } from './identities';
import { requestId, uniqueIdBody } from './identities';
import type { LoopbackServer } from './loopback';
import { blackHole, listenLoopback, readBody } from './loopback';
import { AWS_SIDE_HEADER, AWS_SIDE_VALUE } from './oidc';
import { evaluateTrust } from './trust';

/*
 * STS on loopback, speaking the AWS Query protocol: form-encoded POST (or GET query) in, text/xml out, with
 * the response and ErrorResponse shapes, HTTP statuses, wire codes and messages of the real service
 * (docs/mechanics.md 3.2, 3.3, 7). AssumeRoleWithWebIdentity really validates the token: the
 * issuer against the account's IAM OIDC providers, the audience against the provider's client-id list, the
 * signature against the JWKS fetched over HTTP from the issuer named in `iss`, the expiry against STS's own
 * clock, and the role's trust policy. GetCallerIdentity maps the SigV4 access key id to whoever it was issued
 * to (the signature itself is not verified: nothing here is a security boundary).
 */

export const STS_VERSION = '2011-06-15';
const XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** An IAM OIDC identity provider of one account: its URL as IAM stores it (no https://) and client ids. */
export interface OidcProviderEntry {
  readonly url: string;
  readonly clientIds: readonly string[];
}

export interface RoleEntry {
  readonly arn: string;
  readonly trustPolicy: unknown;
  /** Seconds, 3600 by default like IAM's. */
  readonly maxSessionDuration?: number;
}

/**
 * `blackhole` accepts and never answers, `throttle` answers every call 400 Throttling, `region-disabled`
 * 403 RegionDisabledException (STS deactivated in the region the endpoint serves).
 */
export type StsFault = 'none' | 'blackhole' | 'throttle' | 'region-disabled';

export interface StsOptions {
  readonly book: CredentialBook;
  /** Account id to the IAM OIDC providers registered in it. */
  readonly providers: Readonly<Record<string, readonly OidcProviderEntry[]>>;
  readonly roles: readonly RoleEntry[];
  readonly fault?: StsFault;
  /** STS's clock minus the real one, in seconds: positive when STS thinks it is later than the pod does. */
  readonly clockSkewSeconds?: number;
  /** The region this endpoint serves, for RegionDisabledException's message. */
  readonly region?: string;
  /** How long STS waits for the issuer's discovery document and JWKS. */
  readonly keyFetchTimeoutMs?: number;
  /** An issuer URL as AWS's network reaches it (see the issuer's podRoute); unchanged by default. */
  readonly issuerRoute?: (url: string) => string;
}

export interface SimulatedSts {
  readonly url: string;
  /** The Action of every request received, in order (tests assert what a client asked for). */
  readonly actions: readonly string[];
  setFault(fault: StsFault): void;
  close(): Promise<void>;
}

/** An STS error: sent as ErrorResponse with Type Sender. */
class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 64 * 1024;
const ROLE_ARN = /^arn:(aws[a-z0-9-]*):iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]*$/;

export async function startSts(options: StsOptions): Promise<SimulatedSts> {
  let fault: StsFault = options.fault ?? 'none';
  const stsNow = () => Date.now() + (options.clockSkewSeconds ?? 0) * 1000;
  const actions: string[] = [];
  const roleIds = new Map(options.roles.map((r) => [r.arn, `AROA${uniqueIdBody()}`]));
  const pendingFetches = new Set<http.ClientRequest>();

  const server: LoopbackServer = await listenLoopback(async (req, res) => {
    if (fault === 'blackhole') return blackHole(req);
    const id = requestId();
    const send = (status: number, xml: string) => {
      res.writeHead(status, {
        'content-type': 'text/xml',
        'content-length': Buffer.byteLength(xml),
        'x-amzn-requestid': id,
        // STS's clock, skewed as the scenario says (every AWS answer carries it).
        date: new Date(stsNow()).toUTCString(),
      });
      res.end(xml);
    };
    try {
      const params = await readParams(req);
      const action = params.get('Action') ?? '';
      actions.push(action);
      if (fault === 'throttle') throw new StsError(400, 'Throttling', 'Rate exceeded');
      if (fault === 'region-disabled') {
        const caller = callerOf(req, params, options);
        const account =
          ROLE_ARN.exec(params.get('RoleArn') ?? '')?.[2] ?? (typeof caller === 'object' ? caller.account : undefined);
        throw new StsError(
          403,
          'RegionDisabledException',
          `STS is not activated in this region for account:${account ?? 'unknown'}. Your account administrator can activate STS in this region using the IAM Console.`,
        );
      }
      if (action === '') throw new StsError(400, 'MissingAction', 'Missing Action');
      checkSignatureTime(req, params, stsNow());
      const version = params.get('Version');
      if (version !== undefined && version !== STS_VERSION) {
        throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${version}`);
      }
      switch (action) {
        case 'AssumeRoleWithWebIdentity':
          return send(200, await assumeRoleWithWebIdentity(params, id));
        case 'GetCallerIdentity':
          return send(200, getCallerIdentity(req, params, id));
        default:
          throw new StsError(400, 'InvalidAction', `Could not find operation ${action} for version ${STS_VERSION}`);
      }
    } catch (error) {
      const e = error instanceof StsError ? error : new StsError(500, 'InternalFailure', 'An internal error occurred.');
      const type = e.status >= 500 ? 'Receiver' : 'Sender';
      send(
        e.status,
        `<ErrorResponse xmlns="${XMLNS}">\n  <Error>\n    <Type>${type}</Type>\n    <Code>${xml(e.code)}</Code>\n    <Message>${xml(e.message)}</Message>\n  </Error>\n  <RequestId>${id}</RequestId>\n</ErrorResponse>\n`,
      );
    }
  });

  async function assumeRoleWithWebIdentity(params: Params, id: string): Promise<string> {
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    const token = params.get('WebIdentityToken');
    const durationText = params.get('DurationSeconds');
    const duration = durationText === undefined ? 3600 : Number(durationText);
    validate([
      [roleArn, 'roleArn', 20, 2048],
      [sessionName, 'roleSessionName', 2, 64, SESSION_NAME, '[\\w+=,.@-]*'],
      [token, 'webIdentityToken', 4, 20_000],
    ]);
    if (durationText !== undefined && (!Number.isInteger(duration) || duration < 900 || duration > 43_200)) {
      throw new StsError(
        400,
        'ValidationError',
        `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value ${duration > 43_200 ? 'less than or equal to 43200' : 'greater than or equal to 900'}`,
      );
    }
    const arn = ROLE_ARN.exec(roleArn as string);
    if (!arn) throw new StsError(400, 'ValidationError', 'Request ARN is invalid');
    const [, partition = 'aws', account = '', roleName = ''] = arn;

    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token as string);
      decodeProtectedHeader(token as string);
    } catch {
      throw new StsError(
        400,
        'InvalidIdentityToken',
        'The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)',
      );
    }
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    const providerUrl = iss.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const provider = (options.providers[account] ?? []).find((p) => p.url === providerUrl);
    if (!provider || iss === '') {
      throw new StsError(400, 'InvalidIdentityToken', `No OpenIDConnect provider found in your account for ${iss}`);
    }
    const audiences = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    const audience = audiences.find((a): a is string => typeof a === 'string' && provider.clientIds.includes(a));
    if (audience === undefined) throw new StsError(400, 'InvalidIdentityToken', 'Incorrect token audience');

    await verifyAgainstIssuer(token as string, iss);

    const now = Math.floor(stsNow() / 1000);
    const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
    if (exp !== undefined && exp <= now) {
      // The wording STS uses, epoch seconds on both sides (docs/failure-modes.md row 9).
      throw new StsError(
        400,
        'ExpiredTokenException',
        `Token expired: current date/time ${now} must be before the expiration date/time ${exp}`,
      );
    }

    const providerArn = `arn:${partition}:iam::${account}:oidc-provider/${providerUrl}`;
    const role = options.roles.find((r) => r.arn === roleArn);
    const sub = typeof claims.sub === 'string' ? claims.sub : '';
    const decision = role
      ? evaluateTrust(role.trustPolicy, {
          federatedPrincipal: providerArn,
          action: 'sts:AssumeRoleWithWebIdentity',
          context: { [`${providerUrl}:sub`]: sub, [`${providerUrl}:aud`]: audience },
        })
      : 'implicit-deny';
    // A missing role gets the same answer as a denying trust policy: STS does not disclose existence.
    if (decision !== 'allow') {
      throw new StsError(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    }
    if (role && duration > (role.maxSessionDuration ?? 3600)) {
      throw new StsError(
        400,
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }

    const roleId = roleIds.get(role?.arn ?? '') ?? `AROA${uniqueIdBody()}`;
    const identity: CallerIdentity = {
      arn: `arn:${partition}:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      userId: `${roleId}:${sessionName}`,
      account,
    };
    const c = options.book.mintTemporary(identity, duration);
    return `<AssumeRoleWithWebIdentityResponse xmlns="${XMLNS}">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${xml(sub)}</SubjectFromWebIdentityToken>
    <Audience>${xml(audience)}</Audience>
    <AssumedRoleUser>
      <AssumedRoleId>${xml(identity.userId)}</AssumedRoleId>
      <Arn>${xml(identity.arn)}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${c.accessKeyId}</AccessKeyId>
      <SecretAccessKey>${xml(c.secretAccessKey)}</SecretAccessKey>
      <SessionToken>${xml(c.sessionToken ?? '')}</SessionToken>
      <Expiration>${c.expiration}</Expiration>
    </Credentials>
    <Provider>${xml(providerArn)}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>${id}</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
`;
  }

  /** The signature against the keys STS fetches from the issuer, from the AWS side of the network. */
  async function verifyAgainstIssuer(token: string, iss: string): Promise<void> {
    const unretrievable = new StsError(
      400,
      'InvalidIdentityToken',
      // Two spaces after the comma: STS's own text (docs/mechanics.md 3.3, aws-sdk-rust#827).
      "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
    );
    let keys: JSONWebKeySet;
    try {
      const discovery = await fetchJson(`${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`);
      const jwksUri = typeof discovery.jwks_uri === 'string' ? discovery.jwks_uri : `${iss}/keys`;
      const jwks = await fetchJson(jwksUri);
      if (!Array.isArray(jwks.keys)) throw new Error('no keys');
      keys = jwks as unknown as JSONWebKeySet;
    } catch {
      throw unretrievable;
    }
    try {
      await compactVerify(token, createLocalJWKSet(keys));
    } catch (error) {
      const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw unretrievable;
      throw new StsError(
        400,
        'InvalidIdentityToken',
        'The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.',
      );
    }
  }

  function fetchJson(url: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      let parsed: URL;
      try {
        parsed = new URL(options.issuerRoute ? options.issuerRoute(url) : url);
      } catch (error) {
        reject(error);
        return;
      }
      const transport = parsed.protocol === 'https:' ? https : http;
      // node:http directly, no agent and no proxy: Bun's fetch would honour HTTP_PROXY even for loopback.
      const request = transport.get(
        parsed,
        { agent: false, headers: { [AWS_SIDE_HEADER]: AWS_SIDE_VALUE, accept: 'application/json' } },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > 256 * 1024) request.destroy(new Error('too large'));
            else chunks.push(chunk);
          });
          response.on('end', () => {
            if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode}`));
            try {
              const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
              if (typeof body !== 'object' || body === null) throw new Error('not an object');
              resolve(body as Record<string, unknown>);
            } catch (error) {
              reject(error);
            }
          });
          response.on('error', reject);
        },
      );
      pendingFetches.add(request);
      request.setTimeout(options.keyFetchTimeoutMs ?? 2_000, () => request.destroy(new Error('timeout')));
      request.on('error', reject);
      request.on('close', () => pendingFetches.delete(request));
    });
  }

  function getCallerIdentity(req: http.IncomingMessage, params: Params, id: string): string {
    const identity = callerOf(req, params, options);
    if (identity === 'unsigned') {
      throw new StsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    }
    if (identity === undefined) {
      throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    return `<GetCallerIdentityResponse xmlns="${XMLNS}">
  <GetCallerIdentityResult>
    <Arn>${xml(identity.arn)}</Arn>
    <UserId>${xml(identity.userId)}</UserId>
    <Account>${identity.account}</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>${id}</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>
`;
  }

  return {
    url: server.url,
    actions,
    setFault(next) {
      fault = next;
    },
    async close() {
      for (const request of pendingFetches) request.destroy();
      await server.close();
    },
  };
}

type Params = { get(name: string): string | undefined };

/** How far a SigV4 request time may be from STS's clock (its messages say "- 15 min."). */
const SIGNATURE_WINDOW_MS = 15 * 60_000;

function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * SigV4's time check, in STS's words (aws/aws-cli#6676, convox/rack#235): a signed request whose X-Amz-Date is
 * more than 15 minutes from STS's clock is SignatureDoesNotMatch, "Signature expired" or "not yet current".
 */
function checkSignatureTime(req: http.IncomingMessage, params: Params, nowMs: number): void {
  const header = req.headers['x-amz-date'];
  const signed = (Array.isArray(header) ? header[0] : header) ?? params.get('X-Amz-Date');
  if (signed === undefined) return;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(signed);
  if (!m) return;
  const signedMs = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
  if (signedMs < nowMs - SIGNATURE_WINDOW_MS) {
    throw new StsError(
      403,
      'SignatureDoesNotMatch',
      `Signature expired: ${signed} is now earlier than ${amzDate(nowMs - SIGNATURE_WINDOW_MS)} (${amzDate(nowMs)} - 15 min.)`,
    );
  }
  if (signedMs > nowMs + SIGNATURE_WINDOW_MS) {
    throw new StsError(
      403,
      'SignatureDoesNotMatch',
      `Signature not yet current: ${signed} is still later than ${amzDate(nowMs + SIGNATURE_WINDOW_MS)} (${amzDate(nowMs)} + 15 min.)`,
    );
  }
}

/** Query parameters and, for POST, the form body (body wins), as the Query protocol allows both. */
async function readParams(req: http.IncomingMessage): Promise<Params> {
  const url = new URL(req.url ?? '/', 'http://sim');
  const merged = new Map<string, string>(url.searchParams);
  if (req.method === 'POST') {
    const body = await readBody(req, MAX_BODY);
    if (body === undefined) throw new StsError(413, 'RequestEntityTooLarge', 'Request body is too large');
    for (const [k, v] of new URLSearchParams(body)) merged.set(k, v);
  } else if (req.method !== 'GET') {
    throw new StsError(405, 'InvalidHttpRequest', `Method ${req.method ?? ''} is not supported`);
  }
  return { get: (name) => merged.get(name) };
}

/**
 * The identity behind a SigV4-signed request: the access key id from `Credential=AKID/date/region/sts/...`
 * (header or presigned query), with X-Amz-Security-Token for temporary keys. `unsigned` when there is none.
 */
function callerOf(
  req: http.IncomingMessage,
  params: Params,
  options: StsOptions,
): CallerIdentity | 'unsigned' | undefined {
  const authorization = req.headers.authorization ?? '';
  const keyId =
    /Credential=([^/,\s]+)\//.exec(authorization)?.[1] ?? /^([^/]+)\//.exec(params.get('X-Amz-Credential') ?? '')?.[1];
  if (keyId === undefined) return 'unsigned';
  const header = req.headers['x-amz-security-token'];
  const sessionToken = (Array.isArray(header) ? header[0] : header) ?? params.get('X-Amz-Security-Token');
  return options.book.lookup(keyId, sessionToken);
}

type Check = [value: string | undefined, name: string, min: number, max: number, pattern?: RegExp, shown?: string];

/** Parameter constraints, reported all at once in the service's "N validation errors detected" form. */
function validate(checks: readonly Check[]): void {
  const problems: string[] = [];
  for (const [value, name, min, max, pattern, shown] of checks) {
    if (value === undefined) {
      problems.push(`Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    } else if (value.length < min) {
      problems.push(
        `Value '${value.slice(0, 64)}' at '${name}' failed to satisfy constraint: Member must have length greater than or equal to ${min}`,
      );
    } else if (value.length > max) {
      problems.push(
        `Value at '${name}' failed to satisfy constraint: Member must have length less than or equal to ${max}`,
      );
    } else if (pattern && !pattern.test(value)) {
      problems.push(
        `Value '${value.slice(0, 64)}' at '${name}' failed to satisfy constraint: Member must satisfy regular expression pattern: ${shown ?? pattern.source}`,
      );
    }
  }
  if (problems.length > 0) {
    const n = problems.length;
    throw new StsError(
      400,
      'ValidationError',
      `${n} validation error${n === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
    );
  }
}

/** Text content escaped as STS does: only &, < and > (apostrophes stay as they are, e.g. "Couldn't"). */
function xml(value: string): string {
  return value.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));
}
