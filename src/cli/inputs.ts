import { TrustPolicyError, parseTrustPolicyText } from '../aws/trust-policy';
import { errnoCode, readCommandLineFile } from '../context/files';
import { escapeControl } from '../render/escape';
import { UsageError } from '../run/select';
import type { CheckCommand } from './args';
import type { Io } from './main';

/** IAM caps a trust policy at a few KiB; `aws iam get-role` output with it is far below this. */
export const MAX_TRUST_POLICY_BYTES = 1024 * 1024;
const MAX_KUBECONFIG_BYTES = 1024 * 1024;

/**
 * A file named on the command line is unusable: a usage error of one line that names the file and the problem
 * (no "--help" hint: the option was used right, the file is wrong).
 */
export class InputFileError extends UsageError {
  constructor(option: string, file: string, problem: string) {
    super(`${option} ${escapeControl(file.slice(0, 300))}: ${problem}`);
  }
}

export interface CommandLineInputs {
  readonly trustPolicyText?: string;
  readonly kubeconfigText?: string;
}

/**
 * Reads --trust-policy FILE|- and --kubeconfig PATH before the run, bounded by the run's deadline and a size cap
 * (a pipe, a FIFO or `<(aws iam get-role ...)` work: these are the user's own files, on the tool's side), and
 * turns every problem with them into a usage error: a missing, unreadable, empty or non-JSON policy is a mistake
 * on the command line, not a finding about the pod.
 */
export async function readCommandLineInputs(command: CheckCommand, io: Io): Promise<CommandLineInputs> {
  const deadline = AbortSignal.timeout(command.timeoutMs);
  const inputs: { trustPolicyText?: string; kubeconfigText?: string } = {};
  if (command.trustPolicy !== undefined) {
    const file = command.trustPolicy;
    const text =
      file === '-'
        ? await readStdinPolicy(io, deadline)
        : await readNamed('--trust-policy', file, MAX_TRUST_POLICY_BYTES, deadline);
    try {
      parseTrustPolicyText(text);
    } catch (error) {
      if (error instanceof TrustPolicyError) {
        throw new InputFileError('--trust-policy', file === '-' ? '- (stdin)' : file, error.message);
      }
      throw error;
    }
    inputs.trustPolicyText = text;
  }
  if (command.kubeconfig !== undefined) {
    inputs.kubeconfigText = await readNamed('--kubeconfig', command.kubeconfig, MAX_KUBECONFIG_BYTES, deadline);
  }
  return inputs;
}

async function readNamed(option: string, file: string, maxBytes: number, deadline: AbortSignal): Promise<string> {
  if (file === '') throw new InputFileError(option, '""', 'an empty file name');
  let read: { bytes: Buffer; truncated: boolean };
  try {
    read = await readCommandLineFile(file, maxBytes, deadline);
  } catch (error) {
    throw new InputFileError(option, file, problemOf(error));
  }
  if (read.truncated) throw new InputFileError(option, file, `larger than ${maxBytes / 1024} KiB: not read`);
  return read.bytes.toString('utf8');
}

function problemOf(error: unknown): string {
  switch (errnoCode(error)) {
    case 'ENOENT':
      return 'no such file';
    case 'ENOTDIR':
      return 'a parent of the path is not a directory';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ELOOP':
      return 'a loop of symbolic links';
    case 'ENXIO':
      return 'a socket or device with nothing behind it';
    case 'ETIMEDOUT':
      return 'nothing was written to it before the deadline (--timeout): a FIFO without a writer?';
    default:
      return `cannot be read (${errnoCode(error) ?? (error instanceof Error ? error.message.slice(0, 200) : 'error')})`;
  }
}

/** `--trust-policy -`: the policy piped in (`aws iam get-role ... | kubectl exec -i POD -- irsa-doctor --trust-policy -`). */
async function readStdinPolicy(io: Io, deadline: AbortSignal): Promise<string> {
  if (io.stdinIsTTY) {
    throw new InputFileError(
      '--trust-policy',
      '-',
      'stdin is a terminal: pipe the policy in (aws iam get-role --role-name ROLE | irsa-doctor --trust-policy -)',
    );
  }
  const timedOut = new Promise<never>((_, reject) => {
    const fail = () => reject(Object.assign(new Error('deadline'), { code: 'ETIMEDOUT' }));
    if (deadline.aborted) fail();
    deadline.addEventListener('abort', fail, { once: true });
  });
  let text: string;
  try {
    text = await Promise.race([io.readStdin(MAX_TRUST_POLICY_BYTES + 1), timedOut]);
  } catch (error) {
    throw new InputFileError('--trust-policy', '- (stdin)', problemOf(error));
  }
  if (Buffer.byteLength(text) > MAX_TRUST_POLICY_BYTES) {
    throw new InputFileError(
      '--trust-policy',
      '- (stdin)',
      `larger than ${MAX_TRUST_POLICY_BYTES / 1024} KiB: not read`,
    );
  }
  return text;
}
