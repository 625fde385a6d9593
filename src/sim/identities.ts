import { randomBytes, randomUUID } from 'node:crypto';

/** Who a set of credentials belongs to, as GetCallerIdentity reports it (docs/mechanics.md 7). */
export interface CallerIdentity {
  readonly arn: string;
  /** AROA...:session for roles, AIDA... for IAM users. */
  readonly userId: string;
  readonly account: string;
}

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Absent for long-term IAM user keys (AKIA...). */
  readonly sessionToken: string | undefined;
  /** ISO 8601 without milliseconds, as STS writes it. */
  readonly expiration: string;
}

/**
 * Every credential the simulated EKS hands out, and who it belongs to: STS (assumed roles), IMDS (the node
 * role), the Pod Identity agent and static keys placed in the scenario. GetCallerIdentity looks keys up here,
 * the way AWS maps an access key id to its principal. Every secret part is also recorded in `secrets`, so
 * tests can assert none of them ever reaches an output.
 */
export class CredentialBook {
  readonly secrets: string[] = [];
  /** Every access key id handed out: not secret, but shown only masked (docs/report.md). */
  readonly accessKeyIds: string[] = [];
  readonly #byKey = new Map<string, { identity: CallerIdentity; sessionToken: string | undefined }>();

  /** Temporary credentials (ASIA...) for an identity, valid for `seconds`. */
  mintTemporary(identity: CallerIdentity, seconds: number, now: number = Date.now()): IssuedCredentials {
    const credentials: IssuedCredentials = {
      accessKeyId: `ASIA${keyIdBody()}`,
      secretAccessKey: secretKey(),
      sessionToken: sessionToken(),
      expiration: isoSeconds(now + seconds * 1000),
    };
    this.register(credentials, identity);
    return credentials;
  }

  /** Long-term IAM user keys (AKIA...), e.g. the static keys of the static-keys-override scenario. */
  mintStatic(identity: CallerIdentity): IssuedCredentials {
    const credentials: IssuedCredentials = {
      accessKeyId: `AKIA${keyIdBody()}`,
      secretAccessKey: secretKey(),
      sessionToken: undefined,
      expiration: '',
    };
    this.register(credentials, identity);
    return credentials;
  }

  /** The identity of an access key id; a temporary key is only valid with its own session token. */
  lookup(accessKeyId: string, sessionToken: string | undefined): CallerIdentity | undefined {
    const entry = this.#byKey.get(accessKeyId);
    if (!entry) return undefined;
    if (entry.sessionToken !== undefined && entry.sessionToken !== sessionToken) return undefined;
    return entry.identity;
  }

  /** Records a value the sim minted that must never be printed (tokens, IMDS session tokens). */
  recordSecret(value: string): void {
    if (value !== '' && !this.secrets.includes(value)) this.secrets.push(value);
  }

  private register(credentials: IssuedCredentials, identity: CallerIdentity): void {
    this.#byKey.set(credentials.accessKeyId, { identity, sessionToken: credentials.sessionToken });
    this.accessKeyIds.push(credentials.accessKeyId);
    this.recordSecret(credentials.secretAccessKey);
    if (credentials.sessionToken) this.recordSecret(credentials.sessionToken);
  }
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 16 characters of the base32 alphabet AWS key ids use after their 4-letter prefix. */
function keyIdBody(): string {
  return [...randomBytes(16)].map((b) => KEY_ALPHABET[b % 32]).join('');
}

/** A unique-id body for AROA.../AIDA... (21 characters after the prefix, like AWS's). */
export function uniqueIdBody(): string {
  return [...randomBytes(17)].map((b) => KEY_ALPHABET[b % 32]).join('');
}

function secretKey(): string {
  return randomBytes(30).toString('base64');
}

function sessionToken(): string {
  return `IQoJb3JpZ2luX2VjE${randomBytes(180).toString('base64')}`;
}

/** 2026-11-22T10:00:00Z: STS and IMDS write times without milliseconds. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function requestId(): string {
  return randomUUID();
}
