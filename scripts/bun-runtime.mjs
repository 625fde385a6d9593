#!/usr/bin/env node
/*
 * Prints the path of the Bun runtime that `bun build --compile --target=bun-linux-ARCH` embeds, for ARCH x64 or
 * arm64: `node scripts/bun-runtime.mjs arm64`.
 *
 * Bun would download it itself, from the npm registry, at whatever it finds there. Instead the runtime is the
 * package package-lock.json pins (@oven/bun-linux-x64 / @oven/bun-linux-aarch64, optional dependencies of `bun`,
 * with their sha512 integrity): the one npm installed for this machine, or else the tarball `npm pack` fetches,
 * checked against the lockfile's integrity before its bin/bun is used, and kept in node_modules/.cache.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE_ARCH = { x64: 'x64', arm64: 'aarch64' };

const arch = process.argv[2];
if (!(arch in PACKAGE_ARCH)) {
  process.stderr.write('usage: node scripts/bun-runtime.mjs x64|arm64\n');
  process.exit(2);
}
const name = `@oven/bun-linux-${PACKAGE_ARCH[arch]}`;
const lock = JSON.parse(readFileSync(path.join(repo, 'package-lock.json'), 'utf8'));
const pinned = lock.packages?.[`node_modules/${name}`];
if (!pinned?.version || !pinned.integrity?.startsWith('sha512-')) {
  process.stderr.write(`bun-runtime: ${name} with a sha512 integrity is not in package-lock.json\n`);
  process.exit(1);
}

const installed = path.join(repo, 'node_modules', name, 'bin', 'bun');
if (existsSync(installed)) {
  // npm installed it for this machine and checked it against the same integrity.
  process.stdout.write(`${installed}\n`);
  process.exit(0);
}

const cache = path.join(repo, 'node_modules', '.cache', 'irsa-doctor');
const runtime = path.join(cache, `bun-linux-${PACKAGE_ARCH[arch]}-${pinned.version}`);
if (!existsSync(runtime)) {
  mkdirSync(cache, { recursive: true });
  const work = path.join(cache, `fetch-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
  try {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', `${name}@${pinned.version}`, '--pack-destination', work, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const tarball = path.join(work, packed.filename);
    const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (integrity !== pinned.integrity) {
      throw new Error(`${packed.filename}: integrity ${integrity} is not package-lock.json's ${pinned.integrity}`);
    }
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/bin/bun']);
    const bun = path.join(work, 'package', 'bin', 'bun');
    chmodSync(bun, 0o755);
    renameSync(bun, runtime);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
process.stdout.write(`${runtime}\n`);
