import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { mintToken, segmentsOf } from '../helpers/tokens';
import { parseReport } from '../helpers/reports';

/**
 * The local scenarios, through the built binary with an explicit env (never the developer's
 * AWS_* variables), --offline, in JSON and in TTY-less text. `npm test` builds dist/irsa-doctor first.
 */
import { BINARY, binaryCommand } from '../helpers/binary';
const ROLE = 'arn:aws:iam::111122223333:role/cart-role';
const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'FwoGZXIvYXdzEXAMPLESESSIONTOKENdoNotPrintMe0123456789';
const NOBODY = 65534;

const base = mkdtempSync(`${tmpdir()}/irsa-e2e-local-`);
// The unreadable scenario runs the binary as nobody, which must traverse to its HOME and the token directory.
chmodSync(base, 0o755);
const home = `${base}/home`;
const tokens: Record<string, string> = {};

function tokenPath(name: string): string {
  const dir = `${base}/${name}`;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return `${dir}/token`;
}

async function writeToken(name: string, text: string | Promise<string>, mode = 0o644): Promise<string> {
  const path = tokenPath(name);
  const value = await text;
  tokens[name] = value;
  writeFileSync(path, value);
  chmodSync(path, mode);
  return path;
}

const now = Math.floor(Date.now() / 1000);
let paths: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(home, { mode: 0o755 });
  paths = {
    valid: await writeToken('valid', mintToken({ namespace: 'shop', iat: now - 600 })),
    ownedByRoot: await writeToken('owned-by-root', mintToken({ namespace: 'shop', iat: now - 600 }), 0o600),
    expired: await writeToken('expired', mintToken({ namespace: 'shop', iat: now - 90_000, ttl: 86_400 })),
    // No audience at all: wrong whatever the ServiceAccount and the provider say. Another audience is not judged
    // offline (the ServiceAccount's eks.amazonaws.com/audience and STS decide: test/unit/kube/webhook-upstream).
    noAud: await writeToken('no-aud', mintToken({ namespace: 'shop', iat: now - 600, aud: [] })),
    otherNs: await writeToken('other-ns', mintToken({ namespace: 'billing', iat: now - 600 })),
    garbage: await writeToken('garbage', 'this is not a token, just some text\n'),
    missing: `${base}/not-mounted/token`,
    huge: tokenPath('huge'),
  };
  writeFileSync(paths.huge as string, '');
  truncateSync(paths.huge as string, 100 * 1024 * 1024);
});

interface Scenario {
  readonly name: string;
  readonly env: () => Record<string, string>;
  readonly code: string | null;
  readonly verdict: 'healthy' | 'degraded' | 'broken';
  readonly exit: 0 | 1;
  readonly uid?: number;
}

const IRSA_BASE = {
  AWS_REGION: 'us-west-2',
  AWS_DEFAULT_REGION: 'us-west-2',
  AWS_STS_REGIONAL_ENDPOINTS: 'regional',
  POD_NAMESPACE: 'shop',
};
const irsa = (file: string | undefined, extra: Record<string, string> = {}) => ({
  ...IRSA_BASE,
  AWS_ROLE_ARN: ROLE,
  AWS_WEB_IDENTITY_TOKEN_FILE: file as string,
  ...extra,
});

const SCENARIOS: readonly Scenario[] = [
  // --offline never calls STS: nothing wrong, but no credentials obtained, so not healthy (docs/report.md).
  { name: 'healthy IRSA env + valid token', env: () => irsa(paths.valid), code: null, verdict: 'degraded', exit: 0 },
  { name: 'no env at all', env: () => ({}), code: 'IRSA_ENV_MISSING', verdict: 'broken', exit: 1 },
  {
    name: 'only AWS_ROLE_ARN',
    env: () => ({ ...IRSA_BASE, AWS_ROLE_ARN: ROLE }),
    code: 'IRSA_ENV_PARTIAL',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'invalid ARN',
    env: () => irsa(paths.valid, { AWS_ROLE_ARN: 'arn:aws:iam::1111222233:role/cart-role' }),
    code: 'ROLE_ARN_INVALID',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'token file missing',
    env: () => irsa(paths.missing),
    code: 'TOKEN_FILE_MISSING',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'token file 0600 owned by another uid',
    env: () => irsa(paths.ownedByRoot),
    code: 'TOKEN_FILE_UNREADABLE',
    verdict: 'broken',
    exit: 1,
    uid: NOBODY,
  },
  { name: 'expired token', env: () => irsa(paths.expired), code: 'TOKEN_EXPIRED', verdict: 'broken', exit: 1 },
  {
    name: 'no audience',
    env: () => irsa(paths.noAud),
    code: 'TOKEN_AUDIENCE_MISMATCH',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'sub of another namespace',
    env: () => irsa(paths.otherNs),
    code: 'TOKEN_SUBJECT_MISMATCH',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'static keys beside IRSA',
    env: () =>
      irsa(paths.valid, {
        AWS_ACCESS_KEY_ID: KEY_ID,
        AWS_SECRET_ACCESS_KEY: SECRET_KEY,
        AWS_SESSION_TOKEN: SESSION_TOKEN,
      }),
    code: 'STATIC_CREDENTIALS_OVERRIDE',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'Pod Identity env without its token file',
    env: () => ({
      ...IRSA_BASE,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
    }),
    code: 'POD_IDENTITY_ENV_PARTIAL',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'garbage in the token file',
    env: () => irsa(paths.garbage),
    code: 'TOKEN_MALFORMED',
    verdict: 'broken',
    exit: 1,
  },
  {
    name: 'a 100 MB token file',
    env: () => irsa(paths.huge),
    code: 'TOKEN_FILE_TOO_LARGE',
    verdict: 'broken',
    exit: 1,
  },
];

function diagnose(scenario: Scenario, output: 'json' | 'text') {
  const result = spawnSync(...binaryCommand(['--offline', '--output', output]), {
    // Explicit env: PATH and HOME only, plus the scenario's variables.
    env: { PATH: '/usr/bin:/bin', HOME: home, ...scenario.env() },
    cwd: base,
    encoding: 'utf8',
    timeout: 20_000,
    ...(scenario.uid !== undefined ? { uid: scenario.uid, gid: scenario.uid } : {}),
  });
  if (result.error) throw result.error;
  return result;
}

/** Every value that must never reach stdout or stderr: the tokens' payload and signature, and secret env values. */
function secretsOf(): string[] {
  const values = [SECRET_KEY, SESSION_TOKEN, KEY_ID];
  for (const token of Object.values(tokens)) {
    const { payload, signature } = segmentsOf(token);
    if (payload.length > 8) values.push(payload);
    if (signature.length > 8) values.push(signature);
  }
  return values;
}

describe('local scenarios through the built binary', () => {
  it('has a built binary (npm test runs npm run build first)', () => {
    expect(existsSync(BINARY), `${BINARY} is missing: run "npm run build"`).toBe(true);
  });

  describe.each(SCENARIOS)('$name', (scenario) => {
    it(`JSON: rootCause ${scenario.code}, verdict ${scenario.verdict}, exit ${scenario.exit}`, () => {
      const result = diagnose(scenario, 'json');
      const report = parseReport(result.stdout) as unknown as {
        verdict: string;
        rootCause: { code: string } | null;
        checks: { id: string; status: string }[];
      };
      expect(report.rootCause?.code ?? null).toBe(scenario.code);
      expect(report.verdict).toBe(scenario.verdict);
      expect(result.status).toBe(scenario.exit);
      for (const secret of secretsOf()) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
    });

    it('text without a TTY: the same root cause and exit code, no ANSI, no secrets', () => {
      const result = diagnose(scenario, 'text');
      expect(result.status).toBe(scenario.exit);
      expect(result.stdout).not.toContain('\u001b[');
      if (scenario.code === null) {
        expect(result.stdout).toContain('\nINCOMPLETE: no problem in env and token; STS not called: --offline;');
        expect(result.stdout).not.toMatch(/HEALTHY|gets the AWS credentials/);
      } else expect(result.stdout).toContain(`Root cause: ${scenario.code} (`);
      for (const secret of secretsOf()) {
        expect(result.stdout).not.toContain(secret);
        expect(result.stderr).not.toContain(secret);
      }
    });
  });

  it('shows the static key only masked', () => {
    const scenario = SCENARIOS.find((s) => s.code === 'STATIC_CREDENTIALS_OVERRIDE') as Scenario;
    expect(diagnose(scenario, 'text').stdout).toContain('AKIA****MPLE');
  });

  it('reports the unreadable file with its mode and both identities', () => {
    const scenario = SCENARIOS.find((s) => s.code === 'TOKEN_FILE_UNREADABLE') as Scenario;
    const report = parseReport(diagnose(scenario, 'json').stdout) as unknown as {
      findings: { code: string; evidence: Record<string, unknown> }[];
    };
    const finding = report.findings.find((f) => f.code === 'TOKEN_FILE_UNREADABLE');
    expect(finding?.evidence).toMatchObject({ mode: '0600', ownerUid: 0, processUid: NOBODY, processGid: NOBODY });
  });
});
