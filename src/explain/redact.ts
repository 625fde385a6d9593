import { maskAccessKeyId } from '../aws/secrets';
import { redactCommand, redactText } from '../run/redact';

/*
 * The last word on what `explain` prints: a pasted log may hold the very secrets the doctor never shows
 * (docs/report.md, "Secrets"), and any value copied from it into a meaning or a command passes here.
 */

/** The unique ids of users and roles a log names: masked like access key ids. */
const PRINCIPAL_IDS = /\b(?:AIDA|AROA)[A-Z0-9]{12,16}\b/g;

/**
 * The pass every output of the doctor goes through (src/run/redact.ts: credential-shaped values, URL passwords,
 * JWTs, session tokens; access key ids masked), and here also the user and role ids a log names.
 */
export function redactSecrets(text: string): string {
  return redactText(text).replace(PRINCIPAL_IDS, (m) => maskAccessKeyId(m));
}

/** A command of a remedy: the same, with markers that keep it a command that parses. */
export function redactCommandSecrets<C extends string>(command: C): C {
  return redactCommand(command).replace(PRINCIPAL_IDS, (m) => maskAccessKeyId(m)) as C;
}
