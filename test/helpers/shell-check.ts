import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Fix commands given to bash as a user would paste them: each must parse (`bash -n`) and, run with PATH
 * pointing only at stub programs that exit 0 (kubectl, aws, curl, ...), run no payload that a hostile value
 * carried. Payloads write marker files with absolute paths (/usr/bin/touch), so they would work whatever PATH
 * is; the stubs record their arguments, so a value read as a flag (`--kubeconfig=...`) shows too.
 */

/** Every program a printed command may start; each stub records its argv and exits 0. */
const STUBS = [
  'kubectl',
  'aws',
  'eksctl',
  'curl',
  'getent',
  'ls',
  'date',
  'env',
  'grep',
  'sed',
  'chronyc',
  'irsa-doctor',
  'cat',
];

export interface ShellLab {
  /** Where payloads write their markers: every hostile value below names a file in it. */
  readonly markers: string;
  /** Hostile values: each runs `touch MARKERS/<name>` if a shell ever executes it. */
  readonly payloads: readonly string[];
  /** The same, without spaces (for places that only take one word, such as URLs and ARN paths). */
  readonly wordPayloads: readonly string[];
  /** A flag a value must never become in argv. */
  readonly flag: string;
  check(commands: readonly string[]): ShellVerdict;
}

export interface ShellVerdict {
  /** Commands bash -n rejects. */
  readonly syntaxErrors: readonly string[];
  /** Marker files that appeared: a payload ran. */
  readonly markers: readonly string[];
  /** Stub invocations that received the hostile flag as an argument. */
  readonly flagArguments: readonly string[];
  /** How many stub invocations there were (so a test can tell the commands ran at all). */
  readonly invocations: number;
}

/** A placeholder, <LIKE_THIS>, stands for what the user types in: a plain word. */
const PLACEHOLDER = /<[A-Z][A-Z0-9_]*>/g;

export function shellLab(): ShellLab {
  const root = mkdtempSync(path.join(tmpdir(), 'irsa-shell-lab-'));
  const markers = path.join(root, 'markers');
  const bin = path.join(root, 'bin');
  const argvLog = path.join(root, 'argv');
  const cwd = path.join(root, 'cwd');
  for (const dir of [markers, bin, argvLog, cwd]) mkdirSync(dir);
  for (const name of STUBS) {
    const file = path.join(bin, name);
    // Each invocation writes its arguments, NUL-separated, to a file of its own; stdin is drained.
    writeFileSync(
      file,
      `#!/bin/sh\nf=$(/usr/bin/mktemp '${argvLog}/${name}.XXXXXX')\nprintf '%s\\0' "$@" > "$f"\n/bin/cat > /dev/null\nexit 0\n`,
    );
    chmodSync(file, 0o755);
  }
  if (!existsSync(path.join(bin, 'touch'))) symlinkSync('/usr/bin/touch', path.join(bin, 'touch'));
  const touch = (name: string) => `/usr/bin/touch ${markers}/${name}`;
  const flag = `--kubeconfig=${markers}/flag`;
  const payloads = [
    `x$(${touch('dollar')})`,
    `x\`${touch('backtick')}\``,
    `x;${touch('semicolon')}`,
    `x\n${touch('newline')}`,
    `x|${touch('pipe')}`,
    `x&&${touch('and')}`,
    `x'$(${touch('quote')})'`,
    `"$(${touch('dquote')})"`,
    `$(${touch('bare')})`,
    flag,
    `-x$(${touch('dash')})`,
  ];
  const wordPayloads = [
    `x$(/usr/bin/touch\${IFS}${markers}/w-dollar)`,
    `x\`/usr/bin/touch\${IFS}${markers}/w-backtick\``,
    `x;/usr/bin/touch\${IFS}${markers}/w-semicolon`,
    `x|/usr/bin/touch\${IFS}${markers}/w-pipe`,
  ];

  return {
    markers,
    payloads,
    wordPayloads,
    flag,
    check(commands) {
      const unique = [...new Set(commands)].map((c) => c.replace(PLACEHOLDER, 'PLACEHOLDER'));
      const list = path.join(root, `commands-${Date.now()}-${Math.random().toString(36).slice(2)}`);
      writeFileSync(list, unique.map((c) => `${c}\0`).join(''));
      // One bash reads the list: each command is checked with bash -n, then run by eval in a subshell, as
      // pasting it would run it, with only the stubs on PATH and a scratch working directory.
      const script = `
        cd '${cwd}'
        while IFS= read -r -d '' cmd; do
          if ! /bin/bash -n -c "$cmd" 2>/dev/null; then printf '%s\\0' "$cmd"; continue; fi
          ( PATH='${bin}'; eval "$cmd" ) </dev/null >/dev/null 2>&1
        done < '${list}'`;
      const out = execFileSync('/bin/bash', ['--norc', '--noprofile', '-c', script], {
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin' },
      });
      const logs = readdirSync(argvLog);
      const flagArguments = logs.filter((f) =>
        readFileSync(path.join(argvLog, f), 'utf8')
          .split('\0')
          .some((arg) => arg.startsWith('--kubeconfig=') && arg.includes(markers)),
      );
      return {
        syntaxErrors: out.split('\0').filter((c) => c !== ''),
        markers: readdirSync(markers),
        flagArguments,
        invocations: logs.length,
      };
    },
  };
}
