import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

/**
 * The secret values one diagnosis holds: every Secret made while it runs, and the secret env values and URL
 * passwords the runner adds. The redaction pass (src/run/redact.ts) replaces each of them wherever it shows up
 * in the report or on stderr, so a value a server reflects back (an STS error quoting the token, an agent body
 * echoing its Authorization header) is never printed even where no pattern would recognise it.
 */
export class SecretRegistry {
  readonly #secrets = new Map<string, string>();

  add(value: string, fingerprint = fingerprintOf(value)): void {
    if (value.length < MIN_KNOWN_SECRET) return;
    if (this.#secrets.size >= MAX_KNOWN_SECRETS) return;
    this.#secrets.set(value, fingerprint);
  }

  /** Each secret with the fingerprint it is shown as. */
  entries(): ReadonlyMap<string, string> {
    return this.#secrets;
  }
}

/**
 * Shorter values are not looked for as such: a two-letter "secret" would blank out every occurrence of those
 * letters. Credentials are far longer (a secret key is 40 characters, a session token hundreds); short values
 * that are secret by their place (a URL password, a "SecretAccessKey" field) are redacted by pattern.
 */
export const MIN_KNOWN_SECRET = 6;
/** A hostile input could make thousands of values secret; the registry stays small enough to scan quickly. */
const MAX_KNOWN_SECRETS = 512;

const scope = new AsyncLocalStorage<SecretRegistry>();
/** Secrets made outside any run (the CLI's own code paths, tests calling a client directly). */
const unscoped = new SecretRegistry();

/** Runs `fn` with `registry` as the registry every Secret made inside it (across awaits) is added to. */
export function withSecretRegistry<T>(registry: SecretRegistry, fn: () => T): T {
  return scope.run(registry, fn);
}

/** The registry of the run this code is part of, or the process-wide one outside a run. */
export function currentSecretRegistry(): SecretRegistry {
  return scope.getStore() ?? unscoped;
}

/**
 * Registers a value that is secret without being held as a Secret (an env value, a URL password, a bearer
 * token client-node sends); a JWT with its segments, as a Secret does.
 */
export function registerSecret(value: string, fingerprint = fingerprintOf(value)): void {
  const registry = currentSecretRegistry();
  registry.add(value, fingerprint);
  const segments = value.split('.');
  if (segments.length === 3) for (const segment of segments) registry.add(segment, fingerprint);
}

function fingerprintOf(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`;
}

/**
 * A credential held in memory. It has no toString/toJSON that shows it: printing, logging or serialising it
 * by mistake gives the fingerprint. The one way to the raw value is `reveal()`, used only where the value is
 * sent to the service that needs it (STS, the Pod Identity agent). Making one registers it with the current
 * run, so the redaction pass also finds it where a server echoes it back; a JWT registers its payload and
 * signature segments too (they are what a truncated echo still shows).
 */
export class Secret {
  readonly #value: string;
  readonly fingerprint: string;

  constructor(value: string) {
    this.#value = value;
    this.fingerprint = fingerprintOf(value);
    registerSecret(value, this.fingerprint);
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return `[secret ${this.fingerprint}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** `ASIA****WXYZ`: enough to tell two keys apart, never enough to use one (docs/report.md). */
export function maskAccessKeyId(id: string): string {
  return id.length <= 8 ? '****' : `${id.slice(0, 4)}****${id.slice(-4)}`;
}

/** A secret env value as shown: its presence and length only. */
export function maskSecretValue(value: string): string {
  return `<set, ${value.length} chars, hidden>`;
}
