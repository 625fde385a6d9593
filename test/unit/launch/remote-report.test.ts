import { describe, expect, it } from 'vitest';
import { sh } from '../../../src/checks/shell';
import { asReport, logWithoutReport, reportFromLog } from '../../../src/launch/remote-report';
import { renderJson } from '../../../src/render/json';
import { renderText } from '../../../src/render/text';
import type { Report } from '../../../src/run/types';

const report: Report = {
  schemaVersion: 1,
  tool: { name: 'irsa-doctor', version: '0.1.0' },
  startedAt: '2026-11-22T10:00:00.000Z',
  durationMs: 412,
  mechanism: 'irsa',
  verdict: 'broken',
  rootCause: {
    code: 'TRUST_POLICY_DENIED',
    checkId: 'sts.assume-role',
    summary: 'STS refused',
    remedy: { summary: 'fix the trust policy', commands: [sh`aws iam get-role --role-name r`], links: [] },
  },
  findings: [
    {
      code: 'TRUST_POLICY_DENIED',
      severity: 'error',
      checkId: 'sts.assume-role',
      summary: 'STS refused',
      evidence: { code: 'AccessDenied' },
      remedy: { summary: 'fix the trust policy', commands: [sh`aws iam get-role --role-name r`], links: [] },
    },
  ],
  checks: [
    { id: 'sts.assume-role', title: 'STS', status: 'fail', summary: 'refused', durationMs: 3, dependsOn: ['env.irsa'] },
  ],
  identity: { expectedRoleArn: 'arn:aws:iam::111122223333:role/r', callerArn: null, source: 'none', nodeRoleArn: null },
  verification: {
    credentials: 'not-obtained',
    credentialsCheck: 'sts.assume-role',
    links: [
      {
        link: 'sts',
        state: 'problem',
        verified: [],
        notApplicable: [],
        problems: ['sts.assume-role'],
        notChecked: [{ checkId: 'sts.endpoints', cause: 'only', reason: 'not selected' }],
      },
    ],
    headline: 'BROKEN: this pod will not get the AWS credentials it is set up for',
  },
};

describe(reportFromLog, () => {
  it('reads the report the doctor prints, alone or between its stderr lines', () => {
    const json = renderJson(report);
    expect(reportFromLog(json)).toEqual(report);
    const log = `irsa-doctor: note from stderr\n${json}irsa-doctor: after\n`;
    expect(reportFromLog(log)).toEqual(report);
    expect(logWithoutReport(log)).toBe('irsa-doctor: note from stderr\nirsa-doctor: after\n');
  });

  it('finds no report in a log that has none, or a truncated one', () => {
    expect(reportFromLog('')).toBeUndefined();
    expect(reportFromLog('irsa-doctor: --target auto: permission denied\n')).toBeUndefined();
    const json = renderJson(report);
    expect(reportFromLog(json.slice(0, json.length / 2))).toBeUndefined();
    expect(logWithoutReport('irsa-doctor: failed\n')).toBe('irsa-doctor: failed\n');
  });

  it('refuses JSON that is not a report of schema 1 (another image wrote to its log)', () => {
    expect(asReport({ ...report, schemaVersion: 2 })).toBeUndefined();
    expect(asReport({ ...report, verdict: 'fine' })).toBeUndefined();
    expect(asReport({ ...report, checks: [{ id: 'x', title: 't', status: 'weird', summary: '' }] })).toBeUndefined();
    expect(asReport({ ...report, findings: [{ ...report.findings[0], severity: 'fatal' }] })).toBeUndefined();
    expect(asReport({ ...report, findings: [{ ...report.findings[0], remedy: { summary: 1 } }] })).toBeUndefined();
    expect(asReport({ ...report, rootCause: { code: 'X' } })).toBeUndefined();
    expect(asReport([report])).toBeUndefined();
    expect(asReport('{}')).toBeUndefined();
  });

  it('a doctor older than `verification` in the image: its verdict kept, and a headline saying it did not say more', () => {
    const { verification, ...older } = report;
    void verification;
    const parsed = asReport(older);
    expect(parsed?.verdict).toBe('broken');
    expect(parsed?.verification).toEqual({
      credentials: 'not-checked',
      credentialsCheck: 'sts.assume-role',
      links: [],
      headline: 'BROKEN: as reported by irsa-doctor 0.1.0 in the cluster, which does not say what it verified',
    });
    expect(asReport({ ...report, verification: { ...report.verification, credentials: 'maybe' } })).toBeUndefined();
    expect(
      asReport({ ...report, verification: { ...report.verification, links: [{ link: 'moon' }] } }),
    ).toBeUndefined();
  });

  it('keeps finding codes a newer doctor knows, and additive fields, and renders hostile strings escaped', () => {
    const newer = {
      ...report,
      verified: { kube: false },
      findings: [{ ...report.findings[0], code: 'FUTURE_CODE', summary: 'evil \u001b[2J\u009b31m' }],
      checks: [{ ...report.checks[0], summary: 'x\u001b]0;title\u0007', details: { k: 'v', nested: { no: 1 } } }],
    };
    const parsed = asReport(newer) as Report & { verified: unknown };
    expect(parsed.findings[0]?.code).toBe('FUTURE_CODE');
    expect(parsed.verified).toEqual({ kube: false });
    expect(parsed.checks[0]?.details).toEqual({ k: 'v' });
    const text = renderText(parsed);
    expect(text).not.toMatch(/[\u001b\u0007\u009b]/);
    expect(renderJson(parsed)).not.toMatch(/[\u001b\u0007\u009b]/);
  });
});
