import { maskAccessKeyId } from '../aws/secrets';

/**
 * The last word on what `explain` prints: a pasted log may hold the very secrets the doctor never shows
 * (docs/report.md, "Secrets"), and any value copied from it into a meaning or a command passes here. Each
 * expression is bounded, so this is linear in the text.
 */
const RULES: readonly [RegExp, (match: string, ...groups: string[]) => string][] = [
  // JSON Web Tokens (service account tokens, OIDC id tokens): header.payload.signature.
  [/eyJ[\w-]{8,4096}\.[\w-]{8,8192}\.[\w-]{0,2048}/g, () => '<redacted JWT>'],
  // Authorization headers and bearer tokens.
  [
    /\b(Authorization|X-Amz-Security-Token|X-aws-ec2-metadata-token)(["']?\s{0,4}[:=]\s{0,4}["']?)[^\s"',}]{1,4096}/gi,
    (_m, name, sep) => `${name}${sep}<redacted>`,
  ],
  [/\bBearer\s{1,4}[\w.~+/=-]{8,4096}/gi, () => 'Bearer <redacted>'],
  // Secret keys and session tokens under their usual names (env, JSON, XML, INI, query strings).
  [
    /\b(aws_secret_access_key|secret_?access_?key|secretKey|aws_session_token|session_?token|SessionToken|Token|password|passwd)(["'>]?\s{0,4}[:=>]\s{0,4}["']?)[^\s"'<,&}]{4,4096}/gi,
    (_m, name, sep) => `${name}${sep}<redacted>`,
  ],
  // Passwords in URLs: scheme://user:password@host.
  [/\b([a-z][a-z0-9+.-]{0,20}:\/\/)[^\s/:@]{1,256}:[^\s/@]{1,256}@/gi, (_m, scheme) => `${scheme}<redacted>@`],
  // Access key ids: shown masked, as everywhere in the doctor.
  [/\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,16}\b/g, (m) => maskAccessKeyId(m)],
];

export function redactSecrets(text: string): string {
  return RULES.reduce((out, [pattern, replace]) => out.replace(pattern, replace as (m: string) => string), text);
}
