#!/usr/bin/env node
import { main } from './cli/main';

// chalk (inside Ink) ignores NO_COLOR; FORCE_COLOR=0 is what it honours (docs/packaging.md, Ink behaviour).
if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') process.env.FORCE_COLOR = '0';

const write = (stream: NodeJS.WriteStream) => (text: string) =>
  new Promise<void>((resolve) => {
    stream.write(text, () => resolve());
  });

const code = await main(process.argv.slice(2), {
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
});
// Exit now: a check abandoned at its timeout may still hold a socket open, and must not keep the pod waiting.
process.exit(code);
