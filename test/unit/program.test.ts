import { describe, expect, it } from 'vitest';
import { HELP } from '../../src/cli/args';
import { forProgram, programName } from '../../src/cli/program';
import { MIN_NODE, unsupportedNode } from '../../src/cli/runtime';

describe('programName', () => {
  it.each([
    // kubectl execs the plugin by its path on PATH (argv[0]); the compiled binary sees it as process.argv0.
    ['/home/me/.krew/bin/kubectl-irsa_doctor', '/$bunfs/root/irsa-doctor', 'kubectl irsa-doctor'],
    ['kubectl-irsa_doctor', undefined, 'kubectl irsa-doctor'],
    ['C:\\Users\\me\\bin\\kubectl-irsa_doctor.exe', undefined, 'kubectl irsa-doctor'],
    // Under Node, argv0 is node and argv[1] the bin npm linked (a symlink, or the .mjs behind a .cmd shim).
    ['node', '/usr/local/bin/kubectl-irsa_doctor', 'kubectl irsa-doctor'],
    ['node', 'C:\\npm\\node_modules\\irsa-doctor\\dist\\npm\\kubectl-irsa_doctor.mjs', 'kubectl irsa-doctor'],
    ['node', '/usr/local/bin/irsa-doctor', 'irsa-doctor'],
    ['./dist/irsa-doctor', '/$bunfs/root/irsa-doctor', 'irsa-doctor'],
    ['/tmp/irsa-doctor-linux-arm64', undefined, 'irsa-doctor'],
    [undefined, undefined, 'irsa-doctor'],
  ])('%s %s -> %s', (argv0, script, name) => {
    expect(programName(argv0, script)).toBe(name);
  });
});

describe('forProgram', () => {
  it('names every usage line and the title after the plugin, and nothing else changes', () => {
    const help = forProgram(HELP, 'kubectl irsa-doctor');
    // The Usage block's command lines (their descriptions, when long, continue on lines indented further).
    const usage = help
      .split('Usage:\n')[1]!
      .split('\n\n')[0]!
      .split('\n')
      .filter((line) => /^ {2}\S/.test(line));
    expect(usage.length).toBeGreaterThanOrEqual(3);
    for (const line of usage) expect(line.trim()).toMatch(/^kubectl irsa-doctor /);
    expect(help.startsWith('kubectl irsa-doctor: ')).toBe(true);
    expect(help.replaceAll('kubectl irsa-doctor', 'irsa-doctor')).toBe(HELP);
    expect(help).not.toMatch(/(^|[^l] )irsa-doctor /m);
  });

  it('leaves the help alone for irsa-doctor', () => {
    expect(forProgram(HELP, 'irsa-doctor')).toBe(HELP);
  });
});

describe('unsupportedNode', () => {
  it(`accepts Node ${MIN_NODE} and later, and Bun whatever node version it reports`, () => {
    expect(unsupportedNode({ node: MIN_NODE })).toBeUndefined();
    expect(unsupportedNode({ node: '22.20.1' })).toBeUndefined();
    expect(unsupportedNode({ node: '24.21.0' })).toBeUndefined();
    expect(unsupportedNode({ node: '26.0.0' })).toBeUndefined();
    expect(unsupportedNode({ node: '20.0.0', bun: '1.4.5' })).toBeUndefined();
  });

  it('refuses older Node with a message naming both versions', () => {
    expect(unsupportedNode({ node: '20.20.2' })).toBe(`needs Node.js ${MIN_NODE} or later; this is Node.js 20.20.2`);
    expect(unsupportedNode({ node: '22.18.9' })).toContain('this is Node.js 22.18.9');
    expect(unsupportedNode({ node: '18.0.0' })).toContain('needs Node.js');
  });
});
