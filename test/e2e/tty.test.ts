import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { BINARY, HANG_TIMER_SCALE, binaryCommand, binaryCommandLine } from '../helpers/binary';
import { parseReport } from '../helpers/reports';

/**
 * The built binary on a real pseudo-terminal (the Ink path) and on pipes (the text path). `script -qec CMD
 * /dev/null` gives the child a pty, and -e makes script exit with the child's code.
 */
const HOME = mkdtempSync(`${tmpdir()}/irsa-e2e-tty-`);
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
if (!SCRIPT) console.warn('tty.test.ts: util-linux `script` not found, skipping the pseudo-terminal tests');

// A pod with no IRSA or Pod Identity env at all, and nothing from the developer's machine.
const BASE_ENV = { PATH: '/usr/bin:/bin', HOME, TERM: 'xterm-256color' };
const COLOUR_SGR = /\u001b\[(?:[0-9;]*;)?(?:3[0-7]|9[0-7])(?:;[0-9;]*)?m/;

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: run "npm run build" first (npm test does)`);
});

function onTerminal(args: string[], env: Record<string, string> = {}) {
  const command = binaryCommandLine(args);
  const result = spawnSync(SCRIPT!, ['-qec', command, '/dev/null'], {
    env: { ...BASE_ENV, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000 * HANG_TIMER_SCALE,
  });
  return { code: result.status, out: result.stdout };
}

function onPipe(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(...binaryCommand(args), {
    env: { ...BASE_ENV, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000 * HANG_TIMER_SCALE,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe.skipIf(!SCRIPT)('on a terminal (Ink TUI)', () => {
  it('prints the verdict box with the root cause and exits 1', () => {
    const { code, out } = onTerminal(['--offline']);
    expect(out).toContain('BROKEN: this pod is not set up for IRSA or EKS Pod Identity');
    expect(out).toMatch(/Root cause: (\u001b\[[0-9;]*m)*IRSA_ENV_MISSING/);
    expect(out).toContain('╭');
    expect(out).toMatch(/\$ kubectl annotate serviceaccount/);
    // Colour is on for a TERM=xterm-256color terminal: the NO_COLOR test below is not vacuous.
    expect(out).toMatch(COLOUR_SGR);
    expect(code).toBe(1);
  });

  it('never waits on stdin: exits with stdin an open pipe that sends nothing (kubectl exec -i)', async () => {
    const child = spawn(SCRIPT!, ['-qec', binaryCommandLine(['--offline']), '/dev/null'], {
      env: BASE_ENV,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // stdin is never written to nor closed until the child is gone.
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 15_000 * HANG_TIMER_SCALE);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    child.stdin.end();
    expect(out).toContain('IRSA_ENV_MISSING');
    expect(code).toBe(1);
  });

  it('has no colour with NO_COLOR=1, glyphs and verdict still there', () => {
    const { code, out } = onTerminal(['--offline'], { NO_COLOR: '1' });
    expect(out).toContain('IRSA_ENV_MISSING');
    expect(out).toContain('✖ BROKEN');
    expect(out).not.toMatch(COLOUR_SGR);
    expect(code).toBe(1);
  });
});

describe('without a terminal', () => {
  it('prints plain text with zero ESC bytes', () => {
    const { code, out } = onPipe(['--offline']);
    expect(out).toContain('Root cause: IRSA_ENV_MISSING (env.mechanism)');
    expect(out).not.toContain('\u001b');
    expect(code).toBe(1);
  });

  it('prints zero ESC bytes even with --output tui: Ink is non-interactive on a pipe', () => {
    const { code, out } = onPipe(['--offline', '--output', 'tui']);
    expect(out).toContain('IRSA_ENV_MISSING');
    expect(out).not.toContain('\u001b');
    expect(code).toBe(1);
  });

  it('prints JSON with zero ESC bytes', () => {
    const { code, out } = onPipe(['--offline', '--output', 'json']);
    expect(parseReport(out).rootCause?.code).toBe('IRSA_ENV_MISSING');
    expect(out).not.toContain('\u001b');
    expect(code).toBe(1);
  });
});
