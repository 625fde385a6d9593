/**
 * The name the user typed to run this program, for the help text. kubectl runs a plugin named
 * `kubectl-irsa_doctor` (found on PATH) for `kubectl irsa-doctor ...`, with argv[0] the plugin's path: kubectl
 * maps each `-` of the command to `_` in the file name (kubernetes/kubernetes
 * staging/src/k8s.io/kubectl/docs/book/pages/extending_kubectl/plugin_mechanism.md; kubernetes.io, "Extend
 * kubectl with plugins"). The compiled binary sees that path as process.argv0; under Node (the npm package) the
 * script's path is argv[1], whose name is the bin link npm made (kept, not resolved, by Node).
 */
export function programName(argv0: string | undefined, script: string | undefined): string {
  for (const candidate of [argv0, script]) {
    if (!candidate) continue;
    // Windows: npm's .cmd shim runs node on the .mjs, and kubectl finds plugins with an .exe/.cmd extension;
    // both separators, so that the test is the same for Windows paths wherever it runs.
    const base = (candidate.split(/[\\/]/).pop() ?? '').replace(/\.(exe|cmd|mjs|cjs|js)$/i, '');
    const plugin = /^kubectl-(.+)$/.exec(base);
    if (plugin) return `kubectl ${plugin[1]!.replace(/_/g, '-')}`;
  }
  return 'irsa-doctor';
}

/**
 * `text` (the help) with the program named as it was invoked: every `irsa-doctor` that starts a command line
 * or follows a space, i.e. the command, not a word inside another (an image name, a URL).
 */
export function forProgram(text: string, program: string): string {
  if (program === 'irsa-doctor') return text;
  return text.replace(/(^|[ "])irsa-doctor(?=[ :"\n]|$)/gm, `$1${program}`);
}
