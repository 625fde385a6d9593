import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The executable `npm run build` makes; the end-to-end tests run it as a user would. */
export const BINARY = fileURLToPath(new URL('../../dist/irsa-doctor', import.meta.url));

export interface BinaryRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

/**
 * Spawns the built binary with exactly the given env (nothing inherited). Asynchronous, so that loopback
 * servers of the same test process keep answering while it runs; killed after killAfterMs as a last resort.
 */
export function runBinary(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  killAfterMs = 30_000,
): Promise<BinaryRun> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(BINARY, [...args], { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}
