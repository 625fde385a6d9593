/**
 * AWS's clock as its answers show it. STS sends a `Date` header (RFC 7231, second resolution) with every
 * answer, and states its own time in two error messages: ExpiredTokenException ("Token expired: current
 * date/time 1624482533 must be before the expiration date/time 1624482335", awslabs/aws-orbit-workbench#707)
 * and SigV4's SignatureDoesNotMatch ("Signature expired: 20220127T001427Z is now earlier than
 * 20220127T014428Z (20220127T015928Z - 15 min.)", aws/aws-cli#6676; "Signature not yet current: ... is still
 * later than ... (NOW + 15 min.)"). The Pod Identity agent's Date header is no help: it runs on this node and
 * shares this pod's clock.
 */

/** Beyond this the difference is not latency or a Date header's rounding: the clocks disagree (by minutes). */
export const CLOCK_SKEW_THRESHOLD_S = 120;

/** `20220127T015928Z` (SigV4's X-Amz-Date form) as epoch milliseconds. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isFinite(ms) ? ms : undefined;
}

/** AWS's "now" stated in an STS error message, as epoch milliseconds. */
export function awsNowFromMessage(message: string): number | undefined {
  const signature = /\((\d{8}T\d{6}Z) [-+] \d+ min\.\)/.exec(message);
  if (signature?.[1]) return parseAmzDate(signature[1]);
  const expired = /current date\/time\s*(\d{9,13})\b/.exec(message);
  if (expired?.[1]) {
    const n = Number(expired[1]);
    return expired[1].length >= 13 ? n : n * 1000;
  }
  return undefined;
}

/** The token's exp as STS states it in ExpiredTokenException, epoch seconds. */
export function expirationFromMessage(message: string): number | undefined {
  const m = /expiration date\/time\s*(\d{9,13})\b/.exec(message);
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  return m[1].length >= 13 ? Math.floor(n / 1000) : n;
}

/** SigV4's own words for a request signed with a clock off by more than the service allows. */
export function isSignatureTimeError(message: string): boolean {
  return /Signature (expired|not yet current)/i.test(message);
}

/** AWS's clock minus this machine's, in seconds (positive: AWS is ahead, this clock is behind). */
export function skewSeconds(awsNowMs: number, localNowMs: number): number {
  return Math.round((awsNowMs - localNowMs) / 1000);
}

/** "4 min 10 s ahead of", "2 h 3 min behind": this clock against AWS's, for people. */
export function describeSkew(seconds: number): string {
  const abs = Math.abs(seconds);
  // The Date header rounds down to the second: beyond a few minutes the seconds are noise.
  const minutes = Math.round(abs / 60);
  const amount =
    abs >= 3600
      ? `${Math.floor(minutes / 60)} h ${minutes % 60} min`
      : abs >= 300
        ? `${minutes} min`
        : abs >= 60
          ? `${Math.floor(abs / 60)} min ${abs % 60} s`
          : `${abs} s`;
  return `${amount} ${seconds > 0 ? 'behind' : 'ahead of'}`;
}
