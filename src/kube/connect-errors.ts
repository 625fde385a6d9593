/**
 * Error codes (Node's and Bun's) of a connection to the API server that never got an answer: the in-pod
 * Kubernetes checks and the launchers both read them as "unreachable". A module of its own so that the
 * launchers do not load the in-pod client to share it.
 */
export const CONNECT_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'ConnectionRefused',
]);
