import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseReport } from '../helpers/reports';

/**
 * A Bun executable loads .env and bunfig.toml from the working directory unless it is built with
 * --no-compile-autoload-dotenv / --no-compile-autoload-bunfig: a stray .env in the user's directory would then
 * change the AWS variables under diagnosis (docs/packaging.md). This runs the built binary in a directory
 * holding both and checks that neither reached it.
 */
import { BINARY, HANG_TIMER_SCALE, binaryCommand } from '../helpers/binary';
const dir = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-autoload-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(BINARY))('the built binary in a directory with .env and bunfig.toml', () => {
  it('reads neither: the env under diagnosis is the process env only', () => {
    const marker = path.join(dir, 'preloaded');
    writeFileSync(
      path.join(dir, '.env'),
      'AWS_ROLE_ARN=arn:aws:iam::999999999999:role/from-dotenv\nAWS_WEB_IDENTITY_TOKEN_FILE=/from-dotenv\nAWS_REGION=eu-north-1\n',
    );
    writeFileSync(path.join(dir, 'preload.ts'), `require('node:fs').writeFileSync(${JSON.stringify(marker)}, 'x');\n`);
    writeFileSync(path.join(dir, 'bunfig.toml'), 'preload = ["./preload.ts"]\n');
    const run = spawnSync(...binaryCommand(['--offline', '--output', 'json']), {
      cwd: dir,
      env: { PATH: '/usr/bin:/bin', HOME: dir },
      encoding: 'utf8',
      timeout: 20_000 * HANG_TIMER_SCALE,
    });
    const report = parseReport(run.stdout) as unknown as {
      mechanism: string;
      identity: { expectedRoleArn: string | null };
    };
    expect(report.mechanism).toBe('none');
    expect(report.identity.expectedRoleArn).toBeNull();
    expect(run.stdout).not.toContain('from-dotenv');
    expect(run.stdout).not.toContain('eu-north-1');
    expect(existsSync(marker)).toBe(false);
  });
});
