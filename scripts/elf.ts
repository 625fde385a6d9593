import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The few facts of an ELF executable or shared object that packaging needs, read from its headers: the
 * architecture (e_machine), the program interpreter (PT_INTERP) and the shared objects it links (DT_NEEDED).
 * Only 64-bit little-endian files (x86-64, AArch64): anything else is an error, not a guess.
 * Layout: the System V gABI, "ELF Header", "Program Header", "Dynamic Section".
 */
export interface ElfFacts {
  /** 'x86-64' (EM_X86_64 = 62) or 'aarch64' (EM_AARCH64 = 183). */
  readonly machine: ElfMachine;
  readonly interpreter: string | undefined;
  readonly needed: readonly string[];
}

export type ElfMachine = 'x86-64' | 'aarch64';

const MACHINES: Record<number, ElfMachine> = { 62: 'x86-64', 183: 'aarch64' };
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

export function readElf(file: string): ElfFacts {
  const fd = openSync(file, 'r');
  try {
    const read = (offset: number, length: number, exact = true): Buffer => {
      const buffer = Buffer.alloc(length);
      const got = readSync(fd, buffer, 0, length, offset);
      if (exact && got !== length) throw new Error(`${file}: truncated ELF (wanted ${length} bytes at ${offset})`);
      return buffer.subarray(0, got);
    };
    const header = read(0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
    if (header[4] !== 2 || header[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`);
    const machine = MACHINES[header.readUInt16LE(18)];
    if (!machine) throw new Error(`${file}: ELF machine ${header.readUInt16LE(18)} is neither x86-64 nor aarch64`);
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);

    interface Segment {
      type: number;
      offset: number;
      vaddr: number;
      filesz: number;
    }
    const segments: Segment[] = [];
    for (let i = 0; i < phnum; i++) {
      const ph = read(phoff + i * phentsize, 56);
      segments.push({
        type: ph.readUInt32LE(0),
        offset: Number(ph.readBigUInt64LE(8)),
        vaddr: Number(ph.readBigUInt64LE(16)),
        filesz: Number(ph.readBigUInt64LE(32)),
      });
    }
    const interp = segments.find((s) => s.type === PT_INTERP);
    const interpreter = interp
      ? read(interp.offset, interp.filesz).toString('latin1').replace(/\0.*$/s, '')
      : undefined;

    const dynamic = segments.find((s) => s.type === PT_DYNAMIC);
    if (!dynamic) return { machine, interpreter, needed: [] };
    const entries: [bigint, bigint][] = [];
    const table = read(dynamic.offset, dynamic.filesz);
    for (let at = 0; at + 16 <= table.length; at += 16) {
      const tag = table.readBigInt64LE(at);
      if (tag === DT_NULL) break;
      entries.push([tag, table.readBigUInt64LE(at + 8)]);
    }
    // DT_STRTAB is an address: the file offset is found through the PT_LOAD segment that maps it.
    const strtabAddress = Number(entries.find(([tag]) => tag === DT_STRTAB)?.[1] ?? -1);
    const load = segments.find(
      (s) => s.type === PT_LOAD && strtabAddress >= s.vaddr && strtabAddress < s.vaddr + s.filesz,
    );
    if (!load) throw new Error(`${file}: DT_STRTAB is not in any PT_LOAD segment`);
    const strtab = strtabAddress - load.vaddr + load.offset;
    const stringAt = (offset: number): string => {
      const bytes = read(strtab + offset, 4096, false);
      const end = bytes.indexOf(0);
      if (end < 0) throw new Error(`${file}: unterminated string in DT_STRTAB`);
      return bytes.subarray(0, end).toString('latin1');
    };
    const needed = entries.filter(([tag]) => tag === DT_NEEDED).map(([, value]) => stringAt(Number(value)));
    return { machine, interpreter, needed };
  } finally {
    closeSync(fd);
  }
}
