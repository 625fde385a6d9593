import { describe, expect, it } from 'vitest';
import { LAUNCH_TIMEOUT_MS, parseCommand } from '../../../src/cli/args';
import { UsageError } from '../../../src/run/select';

describe('parseCommand: pod and job', () => {
  it('pod POD with its options, passing the diagnosis options on to the doctor', () => {
    expect(
      parseCommand([
        'pod',
        'web-1',
        '-n',
        'shop',
        '-c',
        'app',
        '--image',
        'reg/irsa-doctor:1',
        '--only',
        'token.file,token.claims',
        '--no-kube',
        '--json',
      ]),
    ).toEqual({
      kind: 'pod',
      pod: 'web-1',
      container: 'app',
      namespace: 'shop',
      image: 'reg/irsa-doctor:1',
      imagePullSecrets: [],
      timeoutMs: LAUNCH_TIMEOUT_MS,
      output: 'json',
      exitZero: false,
      verbose: false,
      doctorArgs: ['--only', 'token.file,token.claims', '--no-kube'],
    });
  });

  it('job --service-account SA, with pull secrets, --context, --kubeconfig and --timeout', () => {
    expect(
      parseCommand([
        'job',
        '--service-account',
        'checkout',
        '--image-pull-secret',
        'a',
        '--image-pull-secret',
        'b',
        '--context',
        'prod',
        '--kubeconfig',
        '/k',
        '--timeout',
        '30000',
      ]),
    ).toMatchObject({
      kind: 'job',
      serviceAccount: 'checkout',
      imagePullSecrets: ['a', 'b'],
      context: 'prod',
      kubeconfig: '/k',
      timeoutMs: 30_000,
      output: 'auto',
    });
  });

  it('demo pod|job [SCENARIO] is the launcher against the simulated cluster', () => {
    expect(parseCommand(['demo', 'pod'])).toMatchObject({ kind: 'pod', demo: { scenario: 'healthy-irsa' } });
    expect(parseCommand(['demo', 'job', 'trust-sub-mismatch', '--output', 'text'])).toMatchObject({
      kind: 'job',
      demo: { scenario: 'trust-sub-mismatch' },
      output: 'text',
    });
    expect(parseCommand(['demo', 'trust-sub-mismatch'])).toMatchObject({
      kind: 'demo',
      scenario: 'trust-sub-mismatch',
    });
  });

  it.each([
    [['pod'], "pod takes one argument: the pod's name"],
    [['pod', 'a', 'b'], "pod takes one argument: the pod's name"],
    [['pod', 'Web_1'], 'the pod is not a Kubernetes name'],
    [['job'], 'job needs --service-account SA'],
    [['job', 'x', '--service-account', 'sa'], 'job takes no argument'],
    [['job', '--service-account', 'sa', '-c', 'app'], '--container belongs to pod'],
    [['pod', 'web', '--service-account', 'sa'], '--service-account belongs to job'],
    [
      ['pod', 'web', '--image-pull-secret', 's'],
      "--image-pull-secret belongs to job: an ephemeral container pulls with the pod's own imagePullSecrets",
    ],
    [['pod', 'web', '--target', 'auto'], '--target does not apply to pod'],
    [['job', '--service-account', 'sa', '--trust-policy', 'f'], '--trust-policy does not apply to job'],
    [['pod', 'web', '--timeout', '10'], '--timeout takes milliseconds between 1000 and 3600000 for pod'],
    [['pod', 'web', '--image', 'a b'], '--image is not an image reference'],
    [['pod', 'web', '--only', 'rm -rf'], 'not a check id'],
    [['demo', 'pod', '--kubeconfig', '/k'], '--kubeconfig does not apply to demo pod'],
    [['demo', 'job', 'a', 'b'], 'demo job takes at most one scenario name'],
    [['-c', 'app'], '--container belongs to the pod and job commands'],
    [['--image', 'x'], '--image belongs to the pod and job commands'],
    [['nonsense'], 'unknown command "nonsense" (commands: check, pod, job, demo, explain)'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(message);
  });
});
