import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  heredoc,
  namespaceArg,
  pathArg,
  placeholder,
  podArg,
  roleArnArg,
  roleNameArg,
  sh,
  shellQuote,
  urlArg,
  yamlScalar,
} from '../../../src/checks/shell';

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

describe('sh writes each value for where it lands', () => {
  /** What bash runs for a whole command line: the command replaced by printf, so nothing is executed. */
  function bashArgs(command: string): string[] {
    const out = execFileSync(
      'bash',
      ['-c', `printf() { builtin printf '%s\\0' "$@"; }; ${command.replace(/^\S+/, 'printf')}`],
      {
        encoding: 'utf8',
      },
    );
    return out.split('\0').slice(0, -1);
  }

  it('keeps a value one argument, whatever it holds', () => {
    const pod = "x$(touch /tmp/pwned)`id`; echo 'hi'\n-rf";
    expect(bashArgs(sh`kubectl get pod ${pod} -n shop`)).toEqual(['get', 'pod', pod, '-n', 'shop']);
  });

  it('never lets a value start an argument with "-": it becomes a placeholder', () => {
    expect(sh`kubectl get pod ${'--kubeconfig=/tmp/evil'} -n shop`).toBe('kubectl get pod <VALUE> -n shop');
    // Inside a word the dash is only text.
    expect(bashArgs(sh`kubectl set env deployment/x NAME=${'-x'}`)).toEqual(['set', 'env', 'deployment/x', 'NAME=-x']);
  });

  it('escapes a value inside a comment, where a newline would end the comment and start a command', () => {
    const command = sh`kubectl delete pod p   # ReplicaSet ${'rs\ntouch /tmp/pwned'} creates a new one`;
    expect(command).not.toContain('\n');
    expect(bashArgs(command)).toEqual(['delete', 'pod', 'p']);
  });

  it("closes and reopens the template's own quotes around a value", () => {
    expect(bashArgs(sh`kubectl get pod -o 'jsonpath=${"a'b"}'`)).toEqual(['get', 'pod', '-o', "jsonpath=a'b"]);
    expect(bashArgs(sh`kubectl get pod -o "x${'$(id)!'}y"`)).toEqual(['get', 'pod', '-o', 'x$(id)!y']);
  });

  it('writes a list as that many words', () => {
    expect(bashArgs(sh`kubectl set env deployment/x ${['A-', 'B C-']}`)).toEqual([
      'set',
      'env',
      'deployment/x',
      'A-',
      'B C-',
    ]);
  });

  it('picks a here-document terminator that no line of the body equals', () => {
    const command = heredoc(sh`cat`, 'a\nEOF\ntouch /tmp/pwned\nEOF1');
    expect(command.split('\n')[0]).toBe("cat <<'EOF2'");
    expect(execFileSync('bash', ['-c', command], { encoding: 'utf8' })).toBe('a\nEOF\ntouch /tmp/pwned\nEOF1\n');
  });

  it('quotes YAML values that would not read back as the same string', () => {
    expect(yamlScalar('checkout')).toBe('checkout');
    for (const value of ['yes', 'on', 'null', '123', 'a: b', 'x\n---\nkind: ClusterRoleBinding', "it's"]) {
      expect(yamlScalar(value)).toBe(JSON.stringify(value));
    }
    expect(yamlScalar(placeholder('NAMESPACE'))).toBe('<NAMESPACE>');
  });

  it('offers names only when they are valid, else their placeholder', () => {
    expect(String(podArg('checkout-7d9f8b6c5-x2k4q'))).toBe('checkout-7d9f8b6c5-x2k4q');
    expect(String(podArg('x$(id)'))).toBe('<POD>');
    expect(String(namespaceArg('-n'))).toBe('<NAMESPACE>');
    expect(String(roleNameArg('shop-checkout'))).toBe('shop-checkout');
    expect(String(roleNameArg('-x'))).toBe('<ROLE_NAME>');
    expect(String(roleArnArg('arn:aws:iam::111122223333:role/x'))).toBe('arn:aws:iam::111122223333:role/x');
    expect(String(roleArnArg('arn:aws:iam::1:role/x;id'))).toBe('arn:aws:iam::<ACCOUNT_ID>:role/<ROLE_NAME>');
    expect(String(urlArg('https://oidc.eks.us-west-2.amazonaws.com/id/ABC', 'ISSUER_URL'))).toBe(
      'https://oidc.eks.us-west-2.amazonaws.com/id/ABC',
    );
    expect(String(urlArg('https://x y', 'ISSUER_URL'))).toBe('<ISSUER_URL>');
    expect(String(pathArg('-rf', 'FILE'))).toBe('./-rf');
  });
});
