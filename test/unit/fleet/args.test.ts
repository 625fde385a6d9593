import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../../src/cli/args';

describe('fleet arguments', () => {
  it('parses -A / -n, -l, --parallel, --static, --cluster and the options passed to the doctor', () => {
    expect(parseCommand(['fleet', '-A'])).toMatchObject({
      kind: 'fleet',
      parallel: 4,
      staticOnly: false,
      timeoutMs: 120_000,
      demo: false,
    });
    expect(parseCommand(['fleet', '-A'])).not.toHaveProperty('namespace');
    expect(
      parseCommand([
        'fleet',
        '-n',
        'shop',
        '-l',
        'team=x,tier!=db',
        '--parallel',
        '16',
        '--static',
        '--cluster',
        'prod-1',
        '--offline',
        '--json',
      ]),
    ).toMatchObject({
      kind: 'fleet',
      namespace: 'shop',
      selector: 'team=x,tier!=db',
      parallel: 16,
      staticOnly: true,
      cluster: 'prod-1',
      doctorArgs: ['--offline'],
      output: 'json',
    });
    expect(parseCommand(['demo', 'fleet', '--output', 'text'])).toMatchObject({
      kind: 'fleet',
      demo: true,
      output: 'text',
    });
  });

  it.each([
    [['fleet'], 'fleet needs -A (every namespace) or -n NS (one namespace)'],
    [['fleet', '-A', '-n', 'shop'], '-A and -n exclude each other'],
    [['fleet', '-A', '--parallel', '0'], '--parallel takes a number of Jobs from 1 to 50 (got "0")'],
    [['fleet', '-A', '--parallel', '51'], '--parallel takes a number of Jobs from 1 to 50 (got "51")'],
    [['fleet', '-A', '--parallel', 'many'], '--parallel takes a number of Jobs from 1 to 50 (got "many")'],
    [['fleet', '-A', '-l', ''], '--selector is not a label selector: ""'],
    [['fleet', '-A', '-l', 'a=\u001b[2J'], '--selector is not a label selector'],
    [['fleet', '-A', '--cluster', 'no such'], '--cluster is not an EKS cluster name: "no such"'],
    [['fleet', '-A', 'extra'], 'fleet takes no argument (got "extra")'],
    [['fleet', '-A', '--service-account', 'x'], '--service-account does not apply to fleet'],
    [['fleet', '-n', 'Not_A_Name'], '--namespace is not a Kubernetes name'],
    [['fleet', '-A', '--timeout', '5'], '--timeout takes milliseconds between 1000 and 3600000'],
    [['demo', 'fleet', '-n', 'shop'], '--namespace does not apply to demo fleet'],
    [['check', '--static'], '--static belongs to the fleet command'],
    [['job', '--service-account', 'x', '-A'], '--all-namespaces belongs to the fleet command'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
