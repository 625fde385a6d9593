#!/usr/bin/env node
import { fstatSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { StdinRead } from './explain/index';
import { StdinNotReadableError } from './explain/index';
import { startupProblem } from './cli/limits';
import { main } from './cli/main';
import { programName } from './cli/program';
import { unsupportedNode } from './cli/runtime';
import { sealProcessEnv } from './context/process-env';

// The npm package runs this under the user's Node: refuse a too-old one with a message, not a crash at the first
// import of undici (src/cli/runtime.ts). The compiled binary embeds its runtime and skips this.
const tooOld = unsupportedNode(process.versions);
if (tooOld) {
  process.stderr.write(`irsa-doctor: ${tooOld}\n`);
  process.exit(2);
}

// Before anything builds a client: the Context gets the launch env, the libraries an env without AWS_* etc.
sealProcessEnv();

// Before any work starts threads: a shortage is exit 2 and one line, not a runtime abort (src/cli/limits.ts).
const problem = startupProblem();
if (problem !== undefined) {
  process.stderr.write(`irsa-doctor: ${problem}\n`);
  process.exit(2);
}

// chalk (inside Ink) ignores NO_COLOR; FORCE_COLOR=0 is what it honours (docs/packaging.md, Ink behaviour).
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';

// As the first process of a container (a Job's pod), a process without a SIGTERM handler ignores SIGTERM
// (pid_namespaces(7)), and the kubelet waits out the pod's whole grace period before SIGKILL. The doctor has
// nothing to flush: it exits, unless a command has its own handler (the launchers clean up first).
process.on('SIGTERM', () => {
  if (process.listenerCount('SIGTERM') <= 1) process.exit(143);
});

const write = (stream: NodeJS.WriteStream) => (text: string) =>
  new Promise<void>((resolve) => {
    stream.write(text, () => resolve());
  });

const code = await main(process.argv.slice(2), {
  program: programName(process.argv0, process.argv[1]),
  stdoutIsTTY: Boolean(process.stdout.isTTY),
  write: write(process.stdout),
  writeError: write(process.stderr),
  stdinIsTTY: Boolean(process.stdin.isTTY),
  readStdin: async (maxBytes = Number.POSITIVE_INFINITY) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= maxBytes) break; // leaving the loop stops reading: a huge pipe is not buffered whole
    }
    return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
  },
  streamStdin,
});
// Exit now: a check abandoned at its timeout may still hold a socket open, and must not keep the pod waiting.
process.exit(code);

/**
 * `explain -`: stdin chunk by chunk (a 100 MB log is never held whole), decoded as UTF-8 across chunk
 * boundaries. Ends at EOF, or when nothing arrived for idleMs: an open pipe that never writes must not keep
 * the doctor waiting forever. A directory on stdin (`explain - < DIR`) is refused before any read.
 */
function streamStdin(onText: (text: string) => void, idleMs: number): Promise<StdinRead> {
  try {
    if (fstatSync(0).isDirectory()) {
      return Promise.reject(
        new StdinNotReadableError('stdin is a directory, not a log: pipe a file or a command into it'),
      );
    }
  } catch {
    // fd 0 closed or not stat-able: reading below reports it as an empty input.
  }
  return new Promise((resolve) => {
    const decoder = new StringDecoder('utf8');
    const stdin = process.stdin;
    let bytes = 0;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (idle: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
      stdin.pause();
      const rest = decoder.end();
      if (rest !== '') onText(rest);
      resolve({ bytes, idle });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(true), idleMs);
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      onText(decoder.write(chunk));
      arm();
    };
    const onEnd = () => finish(false);
    const onError = () => finish(false);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
    arm();
  });
}
