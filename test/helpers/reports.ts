import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { expect } from 'vitest';
import type { CheckResult, Finding, Report, Stage, Status } from '../../src/run/types';
import { STATUSES } from '../../src/run/types';
import type { Coverage } from '../../src/run/verification';
import { verificationOf } from '../../src/run/verification';
import type { ShellCommand } from '../../src/checks/shell';
import { sh } from '../../src/checks/shell';

/** Fixture Reports for the renderers: hand-built, so a renderer test does not depend on any check's wording. */

const base: Omit<Report, 'verdict' | 'rootCause' | 'findings' | 'checks' | 'verification'> = {
  schemaVersion: 1,
  tool: { name: 'irsa-doctor', version: '0.1.0' },
  startedAt: '2026-11-22T10:00:00.000Z',
  durationMs: 42,
  mechanism: 'irsa',
  identity: {
    expectedRoleArn: 'arn:aws:iam::111122223333:role/cart-role',
    callerArn: 'arn:aws:sts::111122223333:assumed-role/cart-role/botocore-session-1',
    source: 'irsa',
    nodeRoleArn: null,
  },
};

const ids = ['env.mechanism', 'env.irsa', 'token.file', 'token.claims', 'sts.assume-role'] as const;

function check(index: number, status: Status, summary: string): CheckResult {
  return {
    id: ids[index]!,
    title: `title of ${ids[index]}`,
    status,
    summary,
    durationMs: index,
    dependsOn: index === 0 ? [] : [ids[index - 1]!],
  };
}

/**
 * The verdict and `verification` the runner would derive from the fixture's checks and findings (a check's link
 * is its id's prefix; a skip counts as not checked, with its summary as the reason).
 */
export function withVerification(report: Omit<Report, 'verdict' | 'verification'>): Report {
  const coverage = (c: CheckResult): Coverage => {
    if (c.status === 'skip') return { kind: 'not-checked', cause: 'unavailable', reason: c.summary };
    if (c.status === 'error') return { kind: 'not-checked', cause: 'error', reason: c.summary };
    return { kind: 'ran' };
  };
  const covered = report.checks.map((c) => ({
    id: c.id,
    stage: c.id.split('.')[0] as Stage,
    result: c,
    coverage: coverage(c),
    published: c.status === 'pass' || c.status === 'warn',
  }));
  return { ...report, ...verificationOf(report.mechanism, covered, report.findings, report.checks) };
}

export function healthyReport(): Report {
  return withVerification({
    ...base,
    rootCause: null,
    findings: [],
    checks: [
      { ...check(0, 'pass', 'IRSA variables set'), details: { mechanism: 'irsa' } },
      check(1, 'pass', 'role arn:aws:iam::111122223333:role/cart-role'),
      check(2, 'pass', 'token file readable'),
      check(3, 'pass', 'claims ok, expires in 23 h'),
      check(4, 'pass', 'assumed cart-role'),
    ],
  });
}

const tokenExpired: Finding = {
  code: 'TOKEN_EXPIRED',
  severity: 'error',
  checkId: 'token.claims',
  summary: 'The token expired 2 h ago',
  evidence: { exp: '2026-11-22T08:00:00Z' },
  remedy: {
    summary: 'Recreate the pod so the kubelet mounts a fresh token',
    commands: [sh`kubectl delete pod cart-7d9f -n shop`, sh`kubectl get pod -n shop -l app=cart`],
    links: ['https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html'],
  },
};

const regionMissing: Finding = {
  code: 'REGION_MISSING',
  severity: 'warning',
  checkId: 'env.mechanism',
  summary: 'No AWS_REGION',
  evidence: {},
  remedy: { summary: 'Set AWS_REGION on the container', commands: [], links: [] },
};

const forbidden: Finding = {
  code: 'K8S_API_FORBIDDEN',
  severity: 'info',
  checkId: 'env.irsa',
  summary: 'The SA may not read pods',
  evidence: {},
  remedy: { summary: 'Grant get on pods', commands: [sh`kubectl apply -f examples/rbac.yaml`], links: [] },
};

/** Broken with a root cause, one finding of each severity, and every status among its checks. */
export function brokenReport(): Report {
  const statuses: Status[] = ['warn', 'pass', 'skip', 'fail', 'error'];
  const summaries = {
    pass: 'IRSA variables set',
    warn: 'no region set',
    fail: 'token expired',
    skip: 'skipped: depends on token.claims which failed',
    error: 'did not finish within its 5000 ms timeout',
  } satisfies Record<Status, string>;
  if (STATUSES.some((s) => !statuses.includes(s))) throw new Error('fixture must cover every status');
  return withVerification({
    ...base,
    identity: { ...base.identity, callerArn: null, source: 'unknown' },
    rootCause: {
      code: tokenExpired.code,
      checkId: tokenExpired.checkId,
      summary: tokenExpired.summary,
      remedy: tokenExpired.remedy,
    },
    findings: [regionMissing, forbidden, tokenExpired],
    checks: statuses.map((status, i) => check(i, status, summaries[status])),
  });
}

/** Control characters where a hostile env value, claim or server body could put them. */
export function hostileReport(): Report {
  const report = brokenReport();
  const hostile = 'evil\u001b[2J\rgone\u0007';
  return {
    ...report,
    identity: { ...report.identity, expectedRoleArn: `arn:aws:iam::1:role/x\u001b[31m` },
    checks: report.checks.map((c, i) =>
      i === 0 ? { ...c, summary: `summary ${hostile}`, details: { [`key\u001b[1m`]: `value ${hostile}` } } : c,
    ),
    findings: report.findings.map((f) => ({
      ...f,
      summary: `finding ${hostile}`,
      evidence: { claim: `claim ${hostile}` },
      // Raw on purpose (sh would quote them): the renderers must escape even a command that bypassed sh.
      remedy: { ...f.remedy, commands: [`echo ${hostile}` as ShellCommand] },
    })),
    rootCause: report.rootCause && {
      ...report.rootCause,
      summary: `cause ${hostile}`,
      remedy: {
        ...report.rootCause.remedy,
        commands: [`kubectl ${hostile}` as ShellCommand],
        links: [`https://x/${hostile}`],
      },
    },
  };
}

// --- the JSON Schemas of docs/ ------------------------------------------------------------------------------

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const schemaOf = (file: string) =>
  ajv.compile(JSON.parse(readFileSync(new URL(`../../docs/${file}`, import.meta.url), 'utf8')) as object);
const SCHEMA_FILES = {
  report: 'report.schema.json',
  explain: 'explain.schema.json',
  listChecks: 'list-checks.schema.json',
  fleet: 'fleet.schema.json',
} as const;
const validators = {
  report: schemaOf(SCHEMA_FILES.report),
  explain: schemaOf(SCHEMA_FILES.explain),
  listChecks: schemaOf(SCHEMA_FILES.listChecks),
  // After report: it refers to report.schema.json by its $id.
  fleet: schemaOf(SCHEMA_FILES.fleet),
};

function expectSchema(which: keyof typeof validators, value: unknown): void {
  const validate = validators[which];
  const ok = validate(value);
  const errors = (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
  );
  expect(errors, `not a valid ${which}: docs/${SCHEMA_FILES[which]}`).toEqual([]);
  expect(ok).toBe(true);
}

const LABELS: Record<Report['verdict'], readonly string[]> = {
  healthy: ['HEALTHY'],
  degraded: ['DEGRADED', 'INCOMPLETE'],
  broken: ['BROKEN'],
};

/**
 * Every JSON report a test parses goes through here: it must validate against docs/report.schema.json and keep
 * the rules docs/report.md states across fields (a headline that matches the verdict, "healthy" only with the
 * credentials obtained, a root cause exactly when there is an error finding).
 */
export function expectValidReport(value: unknown): asserts value is Report {
  expectSchema('report', value);
  const report = value as Report;
  const label = report.verification.headline.split(':')[0] ?? '';
  expect(LABELS[report.verdict], report.verification.headline).toContain(label);
  if (report.verdict === 'healthy') expect(report.verification.credentials).toBe('obtained');
  const errors = report.findings.filter((f) => f.severity === 'error');
  expect(report.rootCause === null, 'rootCause exactly when an error finding exists').toBe(errors.length === 0);
  if (report.rootCause) {
    expect(errors.map((f) => `${f.code} ${f.checkId}`)).toContain(
      `${report.rootCause.code} ${report.rootCause.checkId}`,
    );
  }
}

/** Parses a report printed by --output json and validates it (expectValidReport). */
export function parseReport(json: string): Report {
  const value: unknown = JSON.parse(json);
  expectValidReport(value);
  return value;
}

export function expectValidExplain(value: unknown): void {
  expectSchema('explain', value);
}

/** `fleet --output json`: the fleet schema, and every per-ServiceAccount report as expectValidReport checks it. */
export function expectValidFleet(value: unknown): void {
  expectSchema('fleet', value);
  for (const row of (value as { serviceAccounts: { report: unknown }[] }).serviceAccounts)
    if (row.report !== null) expectValidReport(row.report);
}

export function expectValidListChecks(value: unknown): void {
  expectSchema('listChecks', value);
}

/** Parses what explain --output json printed and validates it (docs/explain.schema.json); typed as JSON.parse. */
export function parseExplain(json: string): ReturnType<typeof JSON.parse> {
  const value: unknown = JSON.parse(json);
  expectValidExplain(value);
  return value;
}
