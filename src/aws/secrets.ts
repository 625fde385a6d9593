import { createHash } from 'node:crypto';

/**
 * A credential held in memory. It has no toString/toJSON that shows it: printing, logging or serialising it
 * by mistake gives the fingerprint. The one way to the raw value is `reveal()`, used only where the value is
 * sent to the service that needs it (STS, the Pod Identity agent).
 */
export class Secret {
  readonly #value: string;
  readonly fingerprint: string;

  constructor(value: string) {
    this.#value = value;
    this.fingerprint = `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`;
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
