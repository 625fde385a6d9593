import { describe, expect, it } from 'vitest';
import { renderJson } from '../../src/render/json';
import { commandLines } from '../../src/render/escape';
import { fixCommandLines, renderText, statusLabel } from '../../src/render/text';
import { STATUSES } from '../../src/run/types';
import { brokenReport, healthyReport, hostileReport, parseReport, withVerification } from '../helpers/reports';

describe(renderText, () => {
  it('has no ESC byte and no control character other than newline, even from hostile input', () => {
    for (const report of [healthyReport(), brokenReport(), hostileReport()]) {
      const text = renderText(report);
      expect(text).not.toContain('\u001b');
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    }
  });

  it('shows control characters from a check summary, details, evidence and remedy as visible escapes', () => {
    const text = renderText(hostileReport());
    expect(text).toContain('summary evil\\x1b[2J\\rgone\\x07');
    expect(text).toContain('key\\x1b[1m: value evil\\x1b[2J\\rgone\\x07');
    expect(text).toContain('claim=claim evil\\x1b[2J\\rgone\\x07');
    expect(text).toContain('$ kubectl evil\\x1b[2J\\rgone\\x07');
    expect(text).toContain('see https://x/evil\\x1b[2J\\rgone\\x07');
    expect(text).toContain('expected role: arn:aws:iam::1:role/x\\x1b[31m');
  });

  it('prints the verdict, the root cause and each fix command on its own line', () => {
    const lines = renderText(brokenReport()).split('\n');
    expect(lines).toContain('BROKEN: this pod will not get the AWS credentials it is set up for');
    expect(lines).toContain('Root cause: TOKEN_EXPIRED (token.claims)');
    expect(lines).toContain('  $ kubectl delete pod cart-7d9f -n shop');
    expect(lines).toContain('  $ kubectl get pod -n shop -l app=cart');
  });

  it('calls a run whose checks could not all finish incomplete, never "credentials work"', () => {
    const healthy = healthyReport();
    const checks = healthy.checks.map((c) =>
      c.id === 'sts.assume-role' ? { ...c, status: 'error' as const, summary: 'did not finish' } : c,
    );
    const text = renderText(withVerification({ ...healthy, checks }));
    expect(text).toContain('INCOMPLETE: no problem in env and token; the STS call did not finish (could not finish)\n');
    expect(text).not.toContain('gets the AWS credentials');
    expect(text).not.toContain('HEALTHY');
  });

  it('calls a run with only a warning check degraded without claiming an incomplete diagnosis', () => {
    const healthy = healthyReport();
    const checks = healthy.checks.map((c) => (c.id === 'env.irsa' ? { ...c, status: 'warn' as const } : c));
    const text = renderText(withVerification({ ...healthy, checks }));
    expect(text).toContain(
      'DEGRADED: this pod gets the AWS credentials it is set up for, but see the warnings above\n',
    );
  });

  it('says a pod with no mechanism is not set up, rather than that it will not get what it is set up for', () => {
    expect(renderText(withVerification({ ...brokenReport(), mechanism: 'none' }))).toContain(
      'BROKEN: this pod is not set up for IRSA or EKS Pod Identity',
    );
    expect(renderText(withVerification({ ...brokenReport(), mechanism: 'node-role' }))).not.toContain(
      'it is set up for',
    );
  });

  it('prints the root cause fix once, under the verdict, and points to it from the findings', () => {
    const text = renderText(brokenReport());
    expect(text.split('$ kubectl delete pod cart-7d9f -n shop').length - 1).toBe(1);
    const pointer = text.indexOf('the root cause: what it means and its fix are below');
    expect(pointer).toBeGreaterThan(0);
    expect(pointer).toBeLessThan(text.indexOf('Root cause: TOKEN_EXPIRED'));
  });

  it('labels every status, one line per check in report order', () => {
    const report = brokenReport();
    const rows = renderText(report)
      .split('\n')
      .filter((l) => l.startsWith('['));
    expect(rows.map((r) => r.slice(0, 6))).toEqual(report.checks.map((c) => `[${statusLabel(c.status)}]`));
    expect(new Set(STATUSES.map(statusLabel)).size).toBe(STATUSES.length);
  });

  it('shows the details of passing and skipped checks only with --verbose; of a problem always', () => {
    const report = withVerification({
      ...brokenReport(),
      checks: brokenReport().checks.map((c) => ({ ...c, details: { [`${c.status}Detail`]: `of ${c.id}` } })),
    });
    const plain = renderText(report);
    const verbose = renderText(report, { verbose: true });
    for (const status of ['warn', 'fail', 'error']) {
      expect(plain).toContain(`${status}Detail: of `);
      expect(verbose).toContain(`${status}Detail: of `);
    }
    for (const status of ['pass', 'skip']) {
      expect(plain).not.toContain(`${status}Detail`);
      expect(verbose).toContain(`${status}Detail: of `);
    }
  });

  it('prints the root cause once: its summary and fix only under the verdict', () => {
    const text = renderText(brokenReport());
    expect(text.split('The token expired 2 h ago').length - 1).toBe(1);
    expect(text.indexOf('The token expired 2 h ago')).toBeGreaterThan(text.indexOf('Root cause: TOKEN_EXPIRED'));
    expect(text.split('Recreate the pod so the kubelet mounts a fresh token').length - 1).toBe(1);
  });

  it('prints snippets (YAML, Terraform) whole, unindented and never behind a $ prompt', () => {
    const yaml = 'apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: irsa-doctor';
    const hcl = `data "aws_iam_policy_document" "irsa_trust" {\n${'  # line\n'.repeat(40)}}`;
    const base = brokenReport();
    const report = {
      ...base,
      findings: base.findings.map((f) =>
        f.code === 'K8S_API_FORBIDDEN'
          ? {
              ...f,
              remedy: {
                ...f.remedy,
                snippets: [
                  { title: 'The same as YAML', language: 'yaml' as const, text: yaml },
                  { title: 'Terraform', language: 'hcl' as const, text: hcl },
                ],
              },
            }
          : f,
      ),
    };
    const lines = renderText(report).split('\n');
    expect(lines).toContain('            The same as YAML:');
    for (const line of [...yaml.split('\n'), ...hcl.split('\n')]) expect(lines).toContain(line);
    expect(lines.filter((l) => /\$ .*(apiVersion|aws_iam_policy_document)/.test(l))).toEqual([]);
    expect(fixCommandLines(report)).toEqual(expect.arrayContaining(['  Terraform:', ...hcl.split('\n')]));
    parseReport(renderJson(report));
  });

  it('says the mechanism was not checked when env.mechanism did not run, instead of "none"', () => {
    const report = withVerification({ ...healthyReport(), mechanism: 'none', checks: healthyReport().checks.slice(1) });
    expect(renderText(report).split('\n')[0]).toMatch(/^irsa-doctor 0\.1\.0  mechanism: not checked  \(/);
    expect(renderText(healthyReport()).split('\n')[0]).toContain('mechanism: irsa');
  });

  it('says healthy with no root cause when nothing is wrong', () => {
    const text = renderText(healthyReport());
    expect(text).toContain('HEALTHY');
    expect(text).not.toContain('Root cause');
  });
});

describe(renderJson, () => {
  it('validates against docs/report.schema.json, for every fixture', () => {
    for (const report of [healthyReport(), brokenReport(), hostileReport()]) parseReport(renderJson(report));
  });

  it('round-trips to the contract shape (docs/report.md)', () => {
    const report = brokenReport();
    const parsed = parseReport(renderJson(report)) as unknown as Record<string, unknown>;
    expect(parsed).toEqual(JSON.parse(JSON.stringify(report)));
    expect(parsed.schemaVersion).toBe(1);
    expect(Object.keys(parsed).sort()).toEqual(
      [
        'schemaVersion',
        'tool',
        'startedAt',
        'durationMs',
        'mechanism',
        'verdict',
        'rootCause',
        'findings',
        'checks',
        'identity',
        'verification',
      ].sort(),
    );
    expect(parsed.tool).toEqual({ name: 'irsa-doctor', version: '0.1.0' });
    expect(Object.keys(parsed.rootCause as object).sort()).toEqual(['checkId', 'code', 'remedy', 'summary']);
    for (const finding of parsed.findings as Record<string, unknown>[]) {
      expect(Object.keys(finding).sort()).toEqual(['checkId', 'code', 'evidence', 'remedy', 'severity', 'summary']);
      expect(Object.keys(finding.remedy as object).sort()).toEqual(['commands', 'links', 'summary']);
    }
    for (const check of parsed.checks as Record<string, unknown>[]) {
      for (const key of ['id', 'title', 'status', 'summary', 'durationMs', 'dependsOn'])
        expect(check).toHaveProperty(key);
    }
    expect(Object.keys(parsed.identity as object).sort()).toEqual(
      ['callerArn', 'expectedRoleArn', 'nodeRoleArn', 'source'].sort(),
    );
  });

  it('keeps hostile strings intact as data but never emits a raw control byte', () => {
    const json = renderJson(hostileReport());
    expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    const parsed = JSON.parse(json) as { checks: { summary: string }[] };
    expect(parsed.checks[0]!.summary).toBe('summary evil\u001b[2J\rgone\u0007');
  });

  it('escapes DEL, the C1 controls (8-bit CSI) and bidi overrides, which JSON.stringify leaves raw', () => {
    // Found by test/fuzz: a token whose sub held U+009B reached the JSON raw.
    const summary = 'sub \u009b2J \u007f \u0085 \u202egnp.exe \u2028';
    const report = { ...healthyReport(), checks: [{ ...healthyReport().checks[0]!, summary }] };
    const json = renderJson(report);
    expect(json).not.toMatch(/[\u007f-\u009f\u2028\u202e]/);
    expect(json).toContain('sub \\u009b2J \\u007f \\u0085 \\u202egnp.exe \\u2028');
    expect((JSON.parse(json) as { checks: { summary: string }[] }).checks[0]!.summary).toBe(summary);
  });

  it('has null rootCause for a healthy report', () => {
    expect(JSON.parse(renderJson(healthyReport())).rootCause).toBeNull();
  });
});

describe(commandLines, () => {
  it('keeps a here-document copyable: head with $, body and terminator unindented, each line escaped', () => {
    const command = "kubectl apply -f - <<'EOF'\nkind: Role\nmetadata:\n  name: x\x1b[2J\nEOF";
    expect(commandLines(command)).toEqual({
      first: "$ kubectl apply -f - <<'EOF'",
      rest: ['kind: Role', 'metadata:', '  name: x\\x1b[2J', 'EOF'],
    });
  });

  it('escapes any other newline, so a value cannot start a line of its own', () => {
    expect(commandLines('kubectl get pod a\nHEALTHY: fake -n shop')).toEqual({
      first: '$ kubectl get pod a\\nHEALTHY: fake -n shop',
      rest: [],
    });
    expect(commandLines("cat <<'EOF'\nbody\nEOF trailing").rest).toEqual([]);
  });
});
