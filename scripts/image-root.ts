/*
 * The image's root filesystem, derived from the binary itself: the executable at /irsa-doctor, its ELF
 * interpreter at the path the binary names (PT_INTERP) and every shared object it links (DT_NEEDED, and theirs in
 * turn) at Debian's multiarch path, copied from a sysroot holding the target architecture's glibc. Nothing else:
 * no shell, no passwd, no CA bundle (the binary carries Bun's own roots; docs/packaging.md).
 *
 * One list for two users: the Dockerfile's build stage writes it with
 *   bun scripts/image-root.ts --binary dist/irsa-doctor-linux-arm64 --sysroot /sysroot --out /rootfs
 * and its final stage is `FROM scratch` + `COPY --from=build /rootfs/ /`; test/e2e/chroot.test.ts builds its
 * root with imageRoot() from the same binary and runs the least-privilege diagnosis in it.
 */
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { ElfMachine } from './elf';
import { readElf } from './elf';

/** One file of the image: where it goes, where it comes from on this machine, its mode. */
export interface ImageFile {
  readonly path: string;
  readonly source: string;
  readonly mode: number;
}

/** Debian's multiarch triplets, the directory glibc lives in (/lib/<triplet>). */
export const MULTIARCH: Readonly<Record<ElfMachine, string>> = {
  'x86-64': 'x86_64-linux-gnu',
  aarch64: 'aarch64-linux-gnu',
};

/** Where the executable goes: the Dockerfile's ENTRYPOINT. */
export const IMAGE_BINARY = '/irsa-doctor';

/**
 * The files of the image for `binary`, with its libraries from `sysroot`: '/' for this machine's own glibc, a
 * cross sysroot such as /usr/aarch64-linux-gnu (libc6-arm64-cross: the libraries directly under lib/), or a
 * Debian libc6 package unpacked with dpkg-deb -x (under lib/<triplet>/).
 */
export function imageRoot(binary: string, sysroot: string): ImageFile[] {
  const elf = readElf(binary);
  if (!elf.interpreter) throw new Error(`${binary}: no ELF interpreter: not a dynamically linked executable`);
  const triplet = MULTIARCH[elf.machine];
  const files: ImageFile[] = [{ path: IMAGE_BINARY, source: binary, mode: 0o755 }];
  const locate = (name: string, exact?: string): string => {
    const candidates = [
      ...(exact ? [exact] : []),
      `lib/${triplet}/${name}`,
      `usr/lib/${triplet}/${name}`,
      `lib64/${name}`,
      `lib/${name}`,
      `usr/lib/${name}`,
    ];
    for (const candidate of candidates) {
      const found = resolveInside(sysroot, candidate);
      if (found === undefined) continue;
      const machine = readElf(found).machine;
      if (machine !== elf.machine) throw new Error(`${found} is ${machine}, the binary ${elf.machine}`);
      return found;
    }
    throw new Error(`${name} (needed by ${binary}) is not in ${sysroot} (looked in ${candidates.join(', ')})`);
  };

  const interpreterName = path.posix.basename(elf.interpreter);
  files.push({ path: elf.interpreter, source: locate(interpreterName, elf.interpreter.slice(1)), mode: 0o755 });
  const seen = new Set([interpreterName]);
  const queue = [...elf.needed];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    const source = locate(name);
    files.push({ path: `/lib/${triplet}/${name}`, source, mode: 0o755 });
    queue.push(...readElf(source).needed);
  }
  return files;
}

/**
 * `relative` inside `sysroot`, its symlinks followed inside it (an unpacked package's absolute links point into
 * the sysroot, not at this machine's files), or undefined when there is no such file.
 */
function resolveInside(sysroot: string, relative: string): string | undefined {
  if (sysroot === '/') return existsSync(`/${relative}`) ? realpathSync(`/${relative}`) : undefined;
  let current = path.posix.normalize(`/${relative}`);
  for (let hops = 0; hops < 40; hops++) {
    const onHost = path.join(sysroot, current);
    let stat;
    try {
      stat = lstatSync(onHost);
    } catch {
      return undefined;
    }
    if (!stat.isSymbolicLink()) return stat.isFile() ? onHost : undefined;
    const target = readlinkSync(onHost);
    current = path.posix.normalize(
      target.startsWith('/') ? target : path.posix.join(path.posix.dirname(current), target),
    );
  }
  throw new Error(`${relative}: too many symlinks in ${sysroot}`);
}

/** Writes the files into `out` (which must not exist yet or be empty), directories 0755. */
export function writeImageRoot(files: readonly ImageFile[], out: string): void {
  for (const file of files) {
    const target = path.join(out, file.path);
    mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
    copyFileSync(file.source, target);
    chmodSync(target, file.mode);
  }
}

function main(argv: readonly string[]): void {
  const option = (name: string) => {
    const at = argv.indexOf(name);
    const value = at >= 0 ? argv[at + 1] : undefined;
    if (!value) throw new Error(`usage: image-root.ts --binary FILE --sysroot DIR --out DIR (missing ${name})`);
    return value;
  };
  const files = imageRoot(option('--binary'), option('--sysroot'));
  writeImageRoot(files, option('--out'));
  for (const file of files) process.stdout.write(`${file.path}\t<- ${file.source}\n`);
}

if (import.meta.main) main(process.argv.slice(2));
