/**
 * Credential containment graded by evidence, both ways: each attack's token is contained (its
 * finding names the token and its response revokes it), and each benign look-alike raises nothing
 * or only its one weak baseline alert. Mature detectors; broker-level runs are in the simulator
 * tests (test/simulate) and slow-enumeration.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, responseFor, type DetectionEvent, type Finding } from '../../src/detect/index.js';
import { DAY, fakeClock, HOUR, makeEvent, MINUTE, T0 } from './streams.js';

const ID = 'svc/job';
/** Eight days of one token an hour (hours 06..21 UTC only), three reads each, from two pod networks. */
function mature(hours = (h: number) => h >= 6 && h <= 21, extra: DetectionEvent[] = []) {
  const det = createDetector({ clock: fakeClock(T0) });
  const history: DetectionEvent[] = [...extra];
  for (let h = 8 * 24; h > 0; h--) {
    const at = T0 - h * HOUR;
    if (!hours(new Date(at).getUTCHours())) continue;
    const jti = `h${h}`;
    for (let k = 0; k < 3; k++) history.push(req(jti, at + k * 2000, `10.50.${h % 2}.${5 + (h % 3)}`, { resource: `X::${k}` }));
  }
  det.replay(history.sort((a, b) => a.at - b.at));
  return det;
}
function req(jti: string, at: number, ip: string, extra: Partial<DetectionEvent> = {}): DetectionEvent {
  return makeEvent({ kind: 'request', at, identity: ID, identityKind: 'workload', allowed: true, action: 'x:read', resource: 'X::1', jti, grantId: `g-${jti}`, taskId: `g-${jti}`, issuedJkt: 'k', presentedJkt: 'k', sourceIp: ip, taskActions: ['x:read'], ...extra });
}
const issue = (jti: string, at: number, ip = '192.0.2.10', extra: Partial<DetectionEvent> = {}): DetectionEvent => ({
  ...makeEvent({ kind: 'issue', at, identity: ID, identityKind: 'workload', allowed: true, action: 'x:read', resource: 'aud', jti, grantId: `g-${jti}`, taskId: `g-${jti}`, issuedJkt: 'k', sourceIp: ip, taskActions: ['x:read'] }),
  ...extra,
});
const run = (det: ReturnType<typeof createDetector>, events: DetectionEvent[]): Finding[] => events.flatMap((e) => [...det.observe(e)]);
const contained = (fs: Finding[]) => fs.filter((f) => f.evidence.credential !== undefined);
const NOON = T0 + 12 * HOUR;
const NIGHT = T0 + 2 * HOUR;

describe('credential containment: attacks contained, look-alikes not', () => {
  it('a new replica on a new node network at a usual hour: nothing (one signal)', () => {
    const det = mature();
    assert.deepEqual(run(det, [issue('r1', NOON), req('r1', NOON + 100, '10.50.9.5'), req('r1', NOON + 200, '10.50.9.5')]), []);
  });

  it('at an hour the job never works, from its own network: an off_hours alert only', () => {
    const det = mature();
    const fs = run(det, [issue('n1', NIGHT), req('n1', NIGHT + 100, '10.50.0.5')]);
    assert.deepEqual(fs.map((f) => [f.rule, responseFor(f)]), [['off_hours', 'alert']]);
  });

  it('at such an hour and from a network the job never used: that token contained', () => {
    const det = mature();
    const fs = contained(run(det, [issue('a1', NIGHT), req('a1', NIGHT + 100, '203.0.113.40')]));
    assert.deepEqual(fs.map((f) => [f.rule, f.evidence.reason, f.jti, responseFor(f)]), [['off_hours', 'corroborated', 'a1', 'revoke_grant']]);
    // The response policy may keep corroborated findings to alerts.
    assert.equal(responseFor(fs[0]!, { fallback: 'alert', contain: 'alert' }), 'alert');
  });

  it('the same network exchanged from first (the exchange teaches it) is still foreign for that token', () => {
    const det = mature();
    const fs = contained(run(det, [issue('a2', NIGHT, '203.0.113.41'), req('a2', NIGHT + 100, '203.0.113.41')]));
    assert.deepEqual(fs.map((f) => f.evidence.reason), ['corroborated']);
  });

  it('a token moving mid-task to a network the identity never used: drift, contained; inside its networks: nothing', () => {
    const det = mature();
    assert.deepEqual(run(det, [issue('m1', NOON), req('m1', NOON + 100, '10.50.0.5'), req('m1', NOON + 200, '10.50.1.6')]), []);
    const fs = run(det, [issue('m2', NOON), req('m2', NOON + 100, '10.50.0.5'), req('m2', NOON + 200, '198.51.100.7')]);
    assert.deepEqual(fs.map((f) => [f.rule, f.evidence.reason, f.jti, responseFor(f)]), [['drift', 'token_moved', 'm2', 'revoke_grant']]);
  });

  it('silent far beyond its cadence, woken from a foreign network: dormant, contained; from its own: an alert', () => {
    const wake = T0 + 40 * DAY + 12 * HOUR;
    const stolen = contained(run(mature(), [issue('d1', wake), req('d1', wake + 100, '203.0.113.77')]));
    assert.deepEqual(stolen.map((f) => [f.rule, f.evidence.reason]), [['dormant', 'corroborated']]);
    const own = run(mature(), [issue('d2', wake), req('d2', wake + 100, '10.50.0.5')]);
    assert.deepEqual(own.map((f) => [f.rule, responseFor(f)]), [['dormant', 'alert']]);
  });

  it('a monthly reporter waking on schedule (31 days after its last run, like before) raises nothing', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    const history: DetectionEvent[] = [];
    for (const d of [93, 62, 31]) for (let k = 0; k < 10; k++) history.push(req(`mr${d}`, T0 - d * DAY + 12 * HOUR + k * 2000, '10.14.0.2', { resource: `R::${k}` }));
    det.replay(history);
    assert.deepEqual(run(det, [issue('mr0', NOON), req('mr0', NOON + 100, '10.14.0.2', { resource: 'R::0' })]), []);
  });

  it('one token far beyond the identity\'s busiest minute is contained; a batch 20 % larger than usual is not', () => {
    // A nightly batch: 150 reads in about 4 minutes (its busiest minute ~40), one token a night.
    const batch = (d: number) => Array.from({ length: 150 }, (_, i) => req(`b${d}`, T0 - d * DAY + 12 * HOUR + i * 1500, '10.36.0.3', { resource: `Page::${d}-${i}` }));
    const det = createDetector({ clock: fakeClock(T0) });
    det.replay(Array.from({ length: 8 }, (_, d) => batch(8 - d)).flat());
    // Tonight: 180 pages at the same pace: nothing.
    assert.deepEqual(run(det, Array.from({ length: 180 }, (_, i) => req('b0', NOON + i * 1500, '10.36.0.3', { resource: `Page::0-${i}` }))), []);
    // A scraper with one token: 400 reads in 40 s.
    const fs = run(det, Array.from({ length: 400 }, (_, i) => req('s0', NOON + 10 * MINUTE + i * 100, '10.36.0.3', { resource: `Page::0-${i % 180}` })));
    assert.deepEqual(contained(fs).map((f) => [f.rule, f.evidence.reason, f.jti, responseFor(f)]), [['rate_spike', 'token_beyond_envelope', 's0', 'revoke_grant']]);
  });

  it('a token of a run attempt superseded by a re-run is contained; a service renewing within one attempt is not', () => {
    const det = mature();
    const renew = run(det, [issue('v1', NOON, undefined, { run: 'R1', attempt: 1 }), req('v1', NOON + 100, '10.50.0.5'), issue('v2', NOON + 200, undefined, { run: 'R1', attempt: 1 }), req('v1', NOON + 300, '10.50.0.5'), req('v2', NOON + 400, '10.50.0.5')]);
    assert.deepEqual(renew, []);
    const rerun = run(det, [issue('c1', NOON, undefined, { run: 'R2', attempt: 1 }), req('c1', NOON + 100, '10.50.0.5'), issue('c2', NOON + 60_000, undefined, { run: 'R2', attempt: 2 }), req('c1', NOON + 70_000, '10.50.0.5')]);
    assert.deepEqual(rerun.map((f) => [f.rule, f.evidence.reason, f.jti, responseFor(f)]), [['after_task', 'superseded', 'c1', 'revoke_grant']]);
  });
});
