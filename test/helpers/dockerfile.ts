import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One instruction of the Dockerfile: `COPY --from=build /rootfs/ /` is { keyword: 'COPY', args: '--from=build /rootfs/ /' }. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  /** The FROM line's arguments, e.g. `--platform=$BUILDPLATFORM ${NODE_IMAGE} AS build`. */
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

export const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

/**
 * The Dockerfile's stages, its instructions with line continuations joined and comments dropped (Dockerfile
 * reference: "Format", "Parser directives"). Enough for the instructions this project writes; not a general
 * Dockerfile parser (no heredocs, no escape directive).
 */
export function dockerfileStages(text = readFileSync(DOCKERFILE, 'utf8')): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    // Comments, also those between the lines of a continued instruction, are not part of it.
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, '').trim()} `;
    if (continued) continue;
    const joined = pending.trim();
    pending = '';
    if (joined === '') continue;
    const keyword = joined.split(/\s+/, 1)[0] ?? '';
    instructions.push({ keyword: keyword.toUpperCase(), args: joined.slice(keyword.length).trim() });
  }
  const stages: { from: string; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') stages.push({ from: instruction.args, instructions: [] });
    else stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

/** What the image sets for the process: the final stage's ENV (KEY=value pairs) and USER. */
export function imageRuntime(stage: Stage): { env: Record<string, string>; user: string | undefined } {
  const env: Record<string, string> = {};
  let user: string | undefined;
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'ENV') {
      for (const pair of args.split(/\s+/)) {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`ENV ${args}: only KEY=value pairs are supported here`);
        env[pair.slice(0, at)] = pair.slice(at + 1);
      }
    }
    if (keyword === 'USER') user = args;
  }
  return { env, user };
}
