/**
 * The oldest Node.js the npm package runs on: undici 8 (under @kubernetes/client-node, which the launchers and
 * exec-plugin kubeconfigs load) declares engines ">=22.19.0" and fails at import on older Node
 * (zlib.createZstdDecompress is missing: docs/packaging.md, "Dependency facts" 1); Ink 8 and chalk 6 declare
 * ">=22". package.json's engines says the same.
 */
export const MIN_NODE = '22.19.0';

/** Why this runtime cannot run the tool, or undefined. Bun (the compiled binary) always can. */
export function unsupportedNode(versions: Readonly<Record<string, string | undefined>>): string | undefined {
  if (versions.bun !== undefined) return undefined;
  const have = (versions.node ?? '0').split('.').map(Number);
  const need = MIN_NODE.split('.').map(Number);
  for (let i = 0; i < need.length; i++) {
    const a = have[i] ?? 0;
    const b = need[i]!;
    if (a > b) return undefined;
    if (a < b) return `needs Node.js ${MIN_NODE} or later; this is Node.js ${versions.node ?? 'unknown'}`;
  }
  return undefined;
}
