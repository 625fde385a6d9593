import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readElf } from '../../scripts/elf';

/**
 * `npm run release` (scripts/release.sh), run here into a directory of its own (DIST=...), so that it races
 * with no other test over dist/: the files it makes, their architectures from their ELF headers, the checksums
 * (recomputed, and by sha256sum -c), the krew archives and manifest, and the npm package.
 */
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const RELEASED = [
  'irsa-doctor-linux-x64',
  'irsa-doctor-linux-arm64',
  'kubectl-irsa_doctor-linux-amd64.tar.gz',
  'kubectl-irsa_doctor-linux-arm64.tar.gz',
  `irsa-doctor-${VERSION}.tgz`,
  'THIRD-PARTY-NOTICES.txt',
];
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

let dist = '';
let release: { status: number | null; output: string } = { status: null, output: '' };

beforeAll(() => {
  dist = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-release-'));
  const run = spawnSync('bash', ['scripts/release.sh'], {
    cwd: REPO,
    env: { ...process.env, DIST: dist, IRSA_DOCTOR_RELEASE_URL: 'https://example.com/irsa-doctor/v1/' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  release = { status: run.status, output: `${run.stdout}${run.stderr}` };
}, 620_000);

afterAll(() => {
  if (dist) rmSync(dist, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The entries of a .tar.gz, and one entry's bytes, through tar itself. */
function tarList(archive: string): string[] {
  const listed = spawnSync('tar', ['-tzf', archive], { encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(listed.stderr);
  return listed.stdout.trim().split('\n').sort();
}
function tarExtract(archive: string, entry: string, into: string): string {
  const extracted = spawnSync('tar', ['-xzf', archive, '-C', into, entry], { encoding: 'utf8' });
  if (extracted.status !== 0) throw new Error(extracted.stderr);
  return path.join(into, entry);
}

describe('npm run release', () => {
  it('succeeds and makes exactly the release files', () => {
    expect(release.status, release.output).toBe(0);
    expect(
      readdirSync(dist)
        .filter((f) => f !== 'meta' && f !== 'npm')
        .sort(),
    ).toEqual([...RELEASED, 'SHA256SUMS', 'irsa-doctor.krew.yaml'].sort());
  });

  it('SHA256SUMS holds the sha256 of each file, and sha256sum -c agrees', () => {
    const lines = readFileSync(path.join(dist, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const sums = Object.fromEntries(lines.map((line) => /^([0-9a-f]{64}) {2}(\S+)$/.exec(line)!.slice(1).reverse()));
    expect(Object.keys(sums).sort()).toEqual([...RELEASED].sort());
    for (const file of RELEASED) expect(sums[file], file).toBe(sha256(path.join(dist, file)));
    const check = spawnSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: dist, encoding: 'utf8' });
    expect(check.stdout.trim().split('\n').sort()).toEqual(RELEASED.map((f) => `${f}: OK`).sort());
    expect(check.status).toBe(0);
  });

  it('the executables are Linux x86-64 and aarch64 ELF files linking only glibc', () => {
    for (const [file, machine, interpreter] of [
      ['irsa-doctor-linux-x64', 'x86-64', '/lib64/ld-linux-x86-64.so.2'],
      ['irsa-doctor-linux-arm64', 'aarch64', '/lib/ld-linux-aarch64.so.1'],
    ] as const) {
      const elf = readElf(path.join(dist, file));
      expect(elf.machine, file).toBe(machine);
      expect(elf.interpreter, file).toBe(interpreter);
      expect([...elf.needed].sort(), file).toEqual(
        ['libc.so.6', 'libdl.so.2', 'libm.so.6', 'libpthread.so.0', path.basename(interpreter)].sort(),
      );
    }
  });

  it('each krew archive holds the plugin executable of its architecture, the LICENSE and the notices', () => {
    const work = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-krew-'));
    try {
      for (const [arch, machine, binary] of [
        ['amd64', 'x86-64', 'irsa-doctor-linux-x64'],
        ['arm64', 'aarch64', 'irsa-doctor-linux-arm64'],
      ] as const) {
        const archive = path.join(dist, `kubectl-irsa_doctor-linux-${arch}.tar.gz`);
        expect(tarList(archive)).toEqual(['LICENSE', 'THIRD-PARTY-NOTICES.txt', 'kubectl-irsa_doctor']);
        const plugin = tarExtract(archive, 'kubectl-irsa_doctor', mkdtempSync(path.join(work, arch)));
        expect(readElf(plugin).machine).toBe(machine);
        expect(sha256(plugin)).toBe(sha256(path.join(dist, binary)));
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('the krew manifest names each archive with its sha256, the version and the release URL', () => {
    const manifest = load(readFileSync(path.join(dist, 'irsa-doctor.krew.yaml'), 'utf8')) as {
      kind: string;
      metadata: { name: string };
      spec: {
        version: string;
        platforms: {
          selector: { matchLabels: { os: string; arch: string } };
          uri: string;
          sha256: string;
          bin: string;
        }[];
      };
    };
    expect(manifest.kind).toBe('Plugin');
    expect(manifest.metadata.name).toBe('irsa-doctor');
    expect(manifest.spec.version).toBe(`v${VERSION}`);
    const platforms = manifest.spec.platforms.map((p) => ({ ...p.selector.matchLabels, uri: p.uri, sha256: p.sha256 }));
    expect(platforms).toEqual(
      ['amd64', 'arm64'].map((arch) => ({
        os: 'linux',
        arch,
        uri: `https://example.com/irsa-doctor/v1/kubectl-irsa_doctor-linux-${arch}.tar.gz`,
        sha256: sha256(path.join(dist, `kubectl-irsa_doctor-linux-${arch}.tar.gz`)),
      })),
    );
    expect(manifest.spec.platforms.every((p) => p.bin === 'kubectl-irsa_doctor')).toBe(true);
    expect(readFileSync(path.join(dist, 'irsa-doctor.krew.yaml'), 'utf8')).not.toContain('{{');
  });

  it('the npm package holds the Node bundle, both bins, the notices, and nothing of the sources', () => {
    const entries = tarList(path.join(dist, `irsa-doctor-${VERSION}.tgz`));
    expect(entries).toContain('package/dist/npm/irsa-doctor.mjs');
    expect(entries).toContain('package/dist/npm/kubectl-irsa_doctor.mjs');
    expect(entries).toContain('package/dist/npm/THIRD-PARTY-NOTICES.txt');
    expect(entries).toContain('package/LICENSE');
    const outside = entries.filter(
      (e) => !/^package\/(dist\/npm\/(chunks\/)?[\w.-]+|LICENSE|README\.md|package\.json)$/.test(e),
    );
    expect(outside).toEqual([]);
  });

  it.skipIf(!existsSync(QEMU) || !existsSync(ARM64_SYSROOT))(
    'the arm64 executable runs (under qemu-aarch64-static) and prints its version',
    () => {
      const run = spawnSync(QEMU, ['-L', ARM64_SYSROOT, path.join(dist, 'irsa-doctor-linux-arm64'), '--version'], {
        encoding: 'utf8',
        env: {},
        timeout: 60_000,
      });
      expect(run.stdout).toBe(`irsa-doctor ${VERSION}\n`);
      expect(run.status).toBe(0);
    },
  );

  it("the README's install commands work against this release, served on 127.0.0.1", async () => {
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('\n## Install\n'),
      readme.indexOf('\n## ', readme.indexOf('\n## Install\n') + 1),
    );
    const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(([, block]) =>
      block!.split('\n').filter((line) => line.trim() !== ''),
    );
    // Exactly these cannot run here, and say so in the README.
    const notRun = lines.filter((line) => line.includes('# not run here'));
    expect(notRun.map((line) => line.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'docker buildx',
      'kubectl krew',
      'npx --yes',
    ]);
    // The release's files, downloadable as from the release URL.
    const server = http.createServer((req, res) => {
      const file = path.join(dist, path.basename(new URL(req.url ?? '/', 'http://x').pathname));
      if (!existsSync(file) || !RELEASED.concat('SHA256SUMS').includes(path.basename(file))) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200);
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const work = mkdtempSync(path.join(tmpdir(), 'irsa-doctor-install-'));
    mkdirSync(path.join(work, 'home'));
    try {
      const script = lines
        .filter((line) => !line.includes('# not run here'))
        .map((line) => (line.startsWith('RELEASE_URL=') ? `RELEASE_URL=${url}` : line))
        .join('\n');
      expect(script).toContain('sha256sum --check');
      const result = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'bash',
          ['-euo', 'pipefail', '-c', script],
          {
            cwd: work,
            // A user's machine: Node 22.19+ (the project's, v24) and the system tools, nothing of the repository.
            env: {
              PATH: `${path.join(REPO, 'node_modules', 'node', 'bin')}:/usr/bin:/bin`,
              HOME: path.join(work, 'home'),
            },
            encoding: 'utf8',
            timeout: 120_000,
          },
          (error, stdout, stderr) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout + stderr }),
        );
      });
      expect(result.code, result.out).toBe(0);
      expect(result.out).toMatch(/irsa-doctor-linux-x64: OK/);
      // The binary's demo, then the npm package's: both healthy.
      expect(result.out.match(/HEALTHY: this pod gets the AWS credentials it is set up for/g)).toHaveLength(2);
      expect(result.out).toContain(path.join(work, 'home', '.local', 'bin', 'kubectl-irsa_doctor'));
      expect(result.out).toContain(`irsa-doctor ${VERSION}\n`);
    } finally {
      server.close();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
