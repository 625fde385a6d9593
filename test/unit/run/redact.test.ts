import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret, SecretRegistry, withSecretRegistry } from '../../../src/aws/secrets';
import { sh } from '../../../src/checks/shell';
import { MAX_TEXT, redactReport, redactText, redactValue, registerEnvSecrets } from '../../../src/run/redact';
import { brokenReport, expectValidReport } from '../../helpers/reports';

/** A registry with these values made as Secrets, and the redaction of `text` against it. */
function redactWith(secrets: readonly string[], text: string): string {
  const registry = new SecretRegistry();
  return withSecretRegistry(registry, () => {
    for (const s of secrets) new Secret(s);
    return redactText(text);
  });
}

/** Whether any 12-character piece of `secret` appears in `text`. */
function showsPiece(text: string, secret: string): boolean {
  for (let i = 0; i + 12 <= secret.length; i++) if (text.includes(secret.slice(i, i + 12))) return true;
  return false;
}

const b64url = (n: number) => randomBytes(n).toString('base64url');
const jwt = () => `eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.${b64url(300)}.${b64url(256)}`;

describe('redactText: values the run knows to be secret', () => {
  it('replaces a token an STS error message quotes, whole or cut off, by its fingerprint', () => {
    const token = jwt();
    const fingerprint = new Secret(token).fingerprint;
    const whole = redactWith([token], `InvalidIdentityToken: the token ${token} is not valid`);
    expect(whole).toBe(`InvalidIdentityToken: the token [secret ${fingerprint}] is not valid`);
    // STS messages are cut at 500 characters: the piece of the token left is still found.
    const cut = `InvalidIdentityToken: the token ${token}`.slice(0, 500);
    expect(redactWith([token], `${cut}...`)).toBe(`InvalidIdentityToken: the token [secret ${fingerprint} (part)]...`);
  });

  it("replaces the token's signature alone (an echo of the segment that proves it)", () => {
    const token = jwt();
    const signature = token.split('.')[2]!;
    expect(redactWith([token], `signature ${signature} does not verify`)).not.toContain(signature.slice(0, 16));
  });

  it('replaces a session token a GetCallerIdentity error echoes, also JSON-escaped or shell-quoted', () => {
    const session = `IQoJb3JpZ2luX2VjE${randomBytes(200).toString('base64')}`;
    const secretKey = `abc'def"ghi/${randomBytes(20).toString('base64')}`;
    const message = `InvalidClientTokenId: The security token ${session} included in the request is invalid`;
    expect(showsPiece(redactWith([session], message), session)).toBe(false);
    expect(showsPiece(redactWith([secretKey], JSON.stringify({ k: secretKey })), secretKey.slice(12))).toBe(false);
    expect(showsPiece(redactWith([secretKey], sh`echo ${secretKey}`), secretKey.slice(12))).toBe(false);
  });

  it('leaves short and unrelated text alone', () => {
    expect(redactWith(['abc'], 'abc is not a secret of six characters')).toBe('abc is not a secret of six characters');
    expect(redactWith([jwt()], 'arn:aws:iam::111122223333:role/shop-checkout')).toBe(
      'arn:aws:iam::111122223333:role/shop-checkout',
    );
  });
});

describe('redactText: credential-shaped text whatever its value', () => {
  it.each([
    // [input, what must be gone]
    ['http://user:pass@127.0.0.1:8080', 'user:pass'],
    ['AWS_ENDPOINT_URL_STS=https://admin:s3cr3t@sts.example.com/', 's3cr3t'],
    ['http://user:pa/ss/word@proxy.internal:3128', 'pa/ss'],
    ['HTTPS_PROXY: bob:hunter2@proxy:3128', 'hunter2'],
    ['proxy http://u:p%40ss@10.0.0.1:3128 refused', 'p%40ss'],
    ['GET https://example.com/x?X-Amz-Security-Token=FwoGZXIvYXdzEabc&X-Amz-Signature=deadbeef', 'deadbeef'],
    ['https://oidc.example.com/keys?access_token=tok123', 'tok123'],
    ['{"AccessKeyId":"ASIAX","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","Token":"tok-value"}', 'wJalrXUtnFEMI'],
    ['{"AccessKeyId":"ASIAX","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG","Token":"tok-value"}', 'tok-value'],
    ['{"\\u0053ecretAccessKey":"escaped-key-value"}', 'escaped-key-value'],
    ['{"SecretAccessKey":"cut-off-in-the-middl', 'cut-off'],
    ['<Credentials><SecretAccessKey>xmlsecret</SecretAccessKey><SessionToken>xmltok</SessionToken>', 'xmlsecret'],
    ['<SessionToken>xmltok</SessionToken>', 'xmltok'],
    ['[default]\naws_secret_access_key = inisecret\naws_session_token=initoken', 'inisecret'],
    ['[default]\naws_secret_access_key = inisecret\naws_session_token=initoken', 'initoken'],
    ['secret_access_key: yamlsecret', 'yamlsecret'],
    ["{'token': 'python-repr-token'}", 'python-repr-token'],
    ['Authorization: Bearer abcdefghijklmnop', 'abcdefghijklmnop'],
    ['authorization=rawagenttoken123', 'rawagenttoken123'],
    ['/app/server --db-password=hunter22 --token abcdef', 'hunter22'],
    ['/app/server --db-password=hunter22 --token abcdef', 'abcdef'],
    ['token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected', 'eyJzdWIiOiJ4In0'],
    ['Status: Unauthorized: token eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ is invalid', 'eyJhbGci'],
    ['IQoJb3JpZ2luX2VjEBAaCXVzLWVhc3QtMSJHMEUCIQ', 'IQoJb3JpZ2lu'],
  ])('%j loses %j', (input, secret) => {
    expect(redactWith([], input)).not.toContain(secret);
  });

  it.each([
    'arn:aws:iam::111122223333:user/alice@example.com',
    'system:serviceaccount:shop:checkout',
    'https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE',
    'token file /var/run/secrets/eks.amazonaws.com/serviceaccount/token (1162 bytes, 0644, sha256:81f3addce21b)',
    'the token: expired 2 h ago',
    'fingerprint: sha256:81f3addce21b',
    'AWS_SECRET_ACCESS_KEY=<set, 40 chars, hidden>',
    'AWS_ACCESS_KEY_ID=ASIA****WXYZ',
    'kubectl set env deployment/<DEPLOYMENT> -n shop AWS_ACCESS_KEY_ID- AWS_SECRET_ACCESS_KEY- AWS_SESSION_TOKEN-',
    'env | grep -E "^AWS_" | sed -E "s/(SECRET_ACCESS_KEY|SESSION_TOKEN)=.*/\\1=<hidden>/"',
    'irsa-doctor --target auto',
    'aws ec2 modify-instance-metadata-options --instance-id i-0a1b2c3d --http-put-response-hop-limit 1 --http-tokens required',
    '--token-file=/var/run/secrets/token',
  ])('leaves %j as it is', (text) => {
    expect(redactWith([], text)).toBe(text);
  });

  it('bounds a huge value, and still finds a secret the bound cuts', () => {
    const secret = b64url(3000);
    const text = `${'x'.repeat(MAX_TEXT - 100)}${secret}`;
    const out = redactWith([secret], text);
    expect(out.length).toBeLessThan(MAX_TEXT + 200);
    expect(out).not.toContain(secret.slice(0, 16));
  });

  it('stays fast on adversarial text (every pattern is bounded per character)', () => {
    const inputs = [
      'a:'.repeat(20_000) + '@',
      'x:y='.repeat(10_000) + '@h',
      'a://'.repeat(10_000) + '@',
      '?token'.repeat(10_000),
      ' -token'.repeat(10_000),
      '"SecretAccessKey":"'.repeat(2_000),
      '<Token>'.repeat(10_000),
    ];
    for (const input of inputs) {
      const started = performance.now();
      redactWith([jwt()], input);
      // Generous (2 CPUs shared); a backtracking pattern takes seconds here.
      expect(performance.now() - started, input.slice(0, 20)).toBeLessThan(1_500);
    }
  });
});

describe('redactValue and env secrets', () => {
  it('redacts string values under credential-named keys and walks nested values', () => {
    expect(
      withSecretRegistry(new SecretRegistry(), () =>
        redactValue({ SecretAccessKey: 'plain', nested: [{ Token: 'x1' }, 'http://u:p@h'], count: 3 }),
      ),
    ).toEqual({ SecretAccessKey: '<redacted>', nested: [{ Token: '<redacted>' }, 'http://<redacted>@h'], count: 3 });
  });

  it('knows the secret env values and URL passwords of the diagnosed env', () => {
    const registry = new SecretRegistry();
    const secretKey = randomBytes(30).toString('base64');
    withSecretRegistry(registry, () =>
      registerEnvSecrets({
        AWS_SECRET_ACCESS_KEY: secretKey,
        HTTPS_PROXY: 'proxyuser:longproxypassword@proxy:3128',
        MY_APP_DB_PASSWORD: 'app-db-password',
        AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      }),
    );
    const known = [...registry.entries().keys()];
    expect(known).toEqual(expect.arrayContaining([secretKey, 'longproxypassword', 'app-db-password']));
    expect(known).not.toContain('/var/run/secrets/eks.amazonaws.com/serviceaccount/token');
    const out = redactText(`echo reflected longproxypassword and ${secretKey}`, registry);
    expect(out).not.toContain('longproxypassword');
    expect(showsPiece(out, secretKey)).toBe(false);
  });
});

describe("redactReport keeps what is the tool's own", () => {
  it('a hostile "secret" equal to common words breaks no link, headline start or JSON Schema', () => {
    const registry = new SecretRegistry();
    withSecretRegistry(registry, () =>
      registerEnvSecrets({ AWS_SECRET_ACCESS_KEY: 'https://', AWS_SESSION_TOKEN: 'BROKEN', HTTPS_PROXY: 'https:@//x' }),
    );
    const report = brokenReport();
    const redacted = redactReport(report, registry);
    expect(redacted.findings.flatMap((f) => f.remedy.links)).toEqual(report.findings.flatMap((f) => f.remedy.links));
    expect(redacted.verification.headline.startsWith(report.verification.headline.split(': ')[0]!)).toBe(true);
    expectValidReport(redacted);
  });
});
