import { afterEach, describe, expect, it } from 'vitest';
import { awsNowFromMessage, describeSkew, expirationFromMessage, parseAmzDate } from '../../../src/aws/clock';
import { classifyStsAnswer } from '../../../src/aws/sts-errors';
import { clockSkew } from '../../../src/checks/clock-skew';
import type { TokenClaimsOutput } from '../../../src/checks/outputs';
import { stsFinding } from '../../../src/checks/sts-findings';
import { parseRoleArn } from '../../../src/aws/arn';
import { fixtureContext } from '../../helpers/context';
import { upstreamOf } from '../../helpers/upstream';
import { TestServers } from '../aws/servers';

const servers = new TestServers();
afterEach(() => servers.closeAll());

describe("AWS's clock in STS's own words", () => {
  it.each([
    // aws/aws-cli#6676: STS allows 15 minutes.
    [
      'Signature expired: 20220127T001427Z is now earlier than 20220127T014428Z (20220127T015928Z - 15 min.)',
      Date.UTC(2022, 0, 27, 1, 59, 28),
    ],
    // A hashicorp/terraform report: a clock ahead.
    [
      'Signature not yet current: 20210112T194419Z is still later than 20210112T072625Z (20210112T071125Z + 15 min.)',
      Date.UTC(2021, 0, 12, 7, 11, 25),
    ],
    // awslabs/aws-orbit-workbench#707, with STS's missing space before the second number.
    ['Token expired: current date/time 1624482533 must be before the expiration date/time1624482335', 1624482533_000],
  ])('%s', (message, now) => {
    expect(awsNowFromMessage(message)).toBe(now);
  });

  it('reads the expiration STS states, and says nothing for a message without a time', () => {
    expect(
      expirationFromMessage(
        'Token expired: current date/time 1731098245 must be before the expiration date/time 1731095240',
      ),
    ).toBe(1731095240);
    expect(awsNowFromMessage('Token too old: 441398')).toBeUndefined();
    expect(parseAmzDate('2022-01-27')).toBeUndefined();
  });

  it('SignatureDoesNotMatch for the time is CLOCK_SKEW; for a wrong key it is not', () => {
    expect(
      classifyStsAnswer(
        'SignatureDoesNotMatch',
        'Signature expired: 20220127T001427Z is now earlier than 20220127T014428Z (20220127T015928Z - 15 min.)',
        403,
      ).code,
    ).toBe('CLOCK_SKEW');
    expect(
      classifyStsAnswer(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
        403,
      ).code,
    ).toBe('STS_ERROR');
  });

  it('describes the difference for people', () => {
    expect(describeSkew(1200)).toBe('20 min behind');
    expect(describeSkew(-150)).toBe('2 min 30 s ahead of');
    expect(describeSkew(3599 + 3600)).toBe('2 h 0 min behind');
  });
});

describe('STS_TOKEN_EXPIRED: a stale token, or a clock', () => {
  const role = parseRoleArn('arn:aws:iam::111122223333:role/cart');
  const claims = (exp: number): TokenClaimsOutput => ({
    alg: 'RS256',
    kid: 'k',
    iss: 'https://oidc.eks.eu-west-1.amazonaws.com/id/ABC',
    sub: 'system:serviceaccount:shop:cart',
    aud: ['sts.amazonaws.com'],
    exp,
    iat: exp - 3600,
    nbf: exp - 3600,
    namespace: 'shop',
    serviceAccount: 'cart',
    podName: 'cart-7d9f8b6c5d-x2x9q',
  });
  const facts = (nowMs: number, exp: number) => ({
    endpoint: 'https://sts.eu-west-1.amazonaws.com',
    region: 'eu-west-1',
    roleArn: role,
    claims: claims(exp),
    operation: 'AssumeRoleWithWebIdentity',
    nowMs,
  });

  it("STS an hour ahead of this clock: the token is fine by this clock, so the remedy is the node's clock", () => {
    const now = 1_800_000_000;
    const exp = now + 1200; // valid here for 20 more minutes
    const failure = classifyStsAnswer(
      'ExpiredTokenException',
      `Token expired: current date/time ${now + 3600} must be before the expiration date/time ${exp}`,
      400,
    );
    const finding = stsFinding(failure, facts(now * 1000, exp));
    expect(finding.code).toBe('STS_TOKEN_EXPIRED');
    expect(finding.summary).toContain('this clock is 1 h 0 min behind STS');
    expect(finding.summary).toContain('the token file is not stale');
    expect(finding.remedy.summary).toMatch(/^Fix the node's time synchronisation/);
    expect(finding.remedy.commands.join('\n')).not.toMatch(/delete pod|rollout/);
  });

  it('the clocks agree: the token really expired, and the pod is replaced for a fresh one', () => {
    const now = 1_800_000_000;
    const failure = classifyStsAnswer(
      'ExpiredTokenException',
      `Token expired: current date/time ${now} must be before the expiration date/time ${now - 600}`,
      400,
    );
    const finding = stsFinding(failure, facts(now * 1000, now - 600));
    expect(finding.summary).toContain("STS's clock and this pod's agree");
    expect(finding.remedy.commands).toEqual([
      'kubectl delete pod cart-7d9f8b6c5d-x2x9q -n shop   # its controller creates a new one',
    ]);
  });
});

describe('clock.skew', () => {
  const withDate = (offsetMs: number | 'none') =>
    servers.http((_req, res) => {
      if (offsetMs === 'none') res.sendDate = false;
      else res.setHeader('date', new Date(Date.now() + offsetMs).toUTCString());
      res.writeHead(400, { 'content-type': 'text/xml' }).end('<ErrorResponse/>');
    });
  const run = (sts: string, env: Record<string, string> = {}) =>
    clockSkew.run(
      fixtureContext({ env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_STS: sts, ...env } }),
      upstreamOf({}),
      new AbortController().signal,
    );

  it('passes when STS and this pod agree', async () => {
    const outcome = await run(await withDate(0));
    expect(outcome.status).toBe('pass');
    expect(outcome.findings ?? []).toEqual([]);
  });

  it('CLOCK_SKEW when STS is minutes ahead, pointing at the node, not at the SDK or the pod', async () => {
    const outcome = await run(await withDate(10 * 60_000));
    expect(outcome.status).toBe('fail');
    const finding = outcome.findings?.[0];
    expect(finding?.code).toBe('CLOCK_SKEW');
    expect(finding?.summary).toMatch(/this clock is 10 min behind AWS's/);
    expect(finding?.remedy.commands).toContain('chronyc tracking   # on the node: the offset and the NTP source');
    expect(outcome.output?.skewSeconds).toBeGreaterThanOrEqual(599);
  });

  it('a clock ahead of AWS is skew too', async () => {
    const outcome = await run(await withDate(-3 * 60_000));
    expect(outcome.findings?.[0]?.summary).toMatch(/ahead of AWS's/);
  });

  it('says the clock was not compared when STS gives no time, instead of passing', async () => {
    const outcome = await run(await withDate('none'));
    expect(outcome.status).toBe('skip');
    expect(outcome.summary).toContain('without a usable Date header');
    const silent = await run(await servers.refused());
    expect(silent.status).toBe('skip');
  });
});
