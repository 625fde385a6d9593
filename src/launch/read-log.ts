import type { LauncherApi } from './api';
import { LaunchFailure, apiErrorInfo, unexpectedApiFailure } from './failure';
import { interruptedFailure } from './progress';
import { MAX_LOG_BYTES } from './remote-report';

/** Which container's log, and whether to follow it to its end or read what is there. */
export interface LogRead {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly follow: boolean;
}

/**
 * The doctor container's log (followed to its end, or read whole), bounded by MAX_LOG_BYTES. A 403 becomes the
 * launcher's own forbidden failure (`forbidden`, the Role to grant); a 400 on a followed read ("is waiting to
 * start", a read that raced the start) is an empty log: the caller reads again once the container has ended.
 */
export async function readContainerLog(
  api: LauncherApi,
  read: LogRead,
  signal: AbortSignal,
  forbidden: () => Promise<LaunchFailure>,
): Promise<string> {
  const where = `${read.namespace}/${read.pod} -c ${read.container}`;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await api.log(
      read.namespace,
      read.pod,
      read.container,
      { follow: read.follow, limitBytes: MAX_LOG_BYTES },
      (chunk) => {
        size += chunk.length;
        // limitBytes asks the server to stop there; a server that does not is stopped here.
        if (size > MAX_LOG_BYTES)
          throw new LaunchFailure('api', `the log of ${where} is larger than ${MAX_LOG_BYTES} bytes: not a report`, []);
        chunks.push(chunk);
      },
      signal,
    );
  } catch (error) {
    if (signal.aborted) throw interruptedFailure(signal);
    const info = apiErrorInfo(error);
    if (info.status === 403) throw await forbidden();
    if (info.status === 400 && read.follow) return '';
    throw unexpectedApiFailure(`reading the log of ${where}`, error);
  }
  if (signal.aborted) throw interruptedFailure(signal);
  return Buffer.concat(chunks).toString('utf8');
}
