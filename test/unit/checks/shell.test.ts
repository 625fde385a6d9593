import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { placeholder, sh, shellQuote } from '../../../src/checks/shell';

/** What bash makes of a command line: its words, NUL-separated, with nothing run (printf only). */
function bashWords(commandLine: string): string[] {
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${commandLine}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shellQuote and sh', () => {
  const hostile = [
    'x$(touch /tmp/pwned)',
    '`id`',
    "it's",
    'a b',
    '',
    '-n',
    '; rm -rf /',
    '$HOME',
    'a\nb',
    '*',
    '~root',
    '!!',
    '{a,b}',
    "'\\''",
  ];
  it.each(hostile)('bash reads %j back as exactly one word, unchanged', (value) => {
    expect(bashWords(shellQuote(value))).toEqual([value]);
  });

  it('keeps plain names bare so ordinary commands read naturally', () => {
    expect(shellQuote('checkout-7d9f8b6c5-x2k4q')).toBe('checkout-7d9f8b6c5-x2k4q');
    expect(shellQuote('arn:aws:iam::111122223333:role/shop/checkout')).toBe(
      'arn:aws:iam::111122223333:role/shop/checkout',
    );
  });

  it('quotes every interpolated value and leaves placeholders as the user must fill them in', () => {
    const pod = 'x$(id)';
    expect(sh`kubectl get pod ${pod} -n ${placeholder('NAMESPACE')}`).toBe("kubectl get pod 'x$(id)' -n <NAMESPACE>");
  });
});
