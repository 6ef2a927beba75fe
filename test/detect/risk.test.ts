/** Risk scoring, resolution and cooldown dedupe, on a detector with no baseline (no maturity needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, type DetectionEvent } from '../../src/detect/index.js';
import { HOUR, MINUTE, T0, fakeClock, makeEvent } from './streams.js';

const ended = (grant: string, when: number): DetectionEvent =>
  makeEvent({ kind: 'request', at: when, identity: 'svc/a', allowed: false, action: 'x:read', resource: 'X::1', grantId: grant, taskEnded: true });

const replayed = (when: number): DetectionEvent =>
  makeEvent({ kind: 'request', at: when, identity: 'svc/a', identityKind: 'workload', allowed: false, action: 'x:read', resource: 'X::1', grantId: 'g-r', jti: 'j-r', issuedJkt: 'k1', presentedJkt: 'k2' });

describe('risk', () => {
  it('adds severity points and halves them every half-life', () => {
    const clock = fakeClock(T0);
    const det = createDetector({ clock });
    assert.equal(det.risk('svc/a'), 0);
    assert.equal(det.observe(ended('g1', T0)).length, 1); // after_task: high = 30
    assert.equal(det.risk('svc/a', T0), 30);
    assert.equal(det.risk('svc/a', T0 + HOUR), 15);
    assert.equal(det.risk('svc/a', T0 + 2 * HOUR), 8); // 7.5 rounds up
    assert.equal(det.risk('svc/a', T0 + 10 * HOUR), 0);
    det.observe(ended('g2', T0 + HOUR)); // 15 left + 30
    assert.equal(det.risk('svc/a', T0 + HOUR), 45);
  });

  it('honours a configured half-life and point table, and caps at 100', () => {
    const clock = fakeClock(T0);
    // baselineMax lifted: after_task is baseline evidence, whose sum is otherwise held below 80.
    const det = createDetector({ clock, options: { risk: { halfLifeMs: 10 * MINUTE, points: { high: 70 }, baselineMax: 100 } } });
    det.observe(ended('g1', T0));
    assert.equal(det.risk('svc/a', T0 + 10 * MINUTE), 35);
    det.observe(ended('g2', T0));
    assert.equal(det.risk('svc/a', T0), 100);
  });

  it('keeps an identity opted in to identity-wide responses at 80 or more while a critical finding is open', () => {
    const clock = fakeClock(T0);
    const det = createDetector({ clock, identityWide: ['workload'] });
    const [f] = det.observe(replayed(T0)).filter((x) => x.rule === 'replay');
    assert.ok(f);
    assert.equal(f.severity, 'critical');
    assert.ok(det.risk('svc/a', T0) >= 80);
    assert.ok(det.risk('svc/a', T0 + 7 * 24 * HOUR) >= 80, 'no decay below the floor while open');
    assert.deepEqual(det.openFindings('svc/a').map((x) => x.id), [f.id]);

    clock.set(T0 + 2 * HOUR);
    const done = det.resolve(f.id, 'key rotated, false alarm');
    assert.ok(done);
    assert.equal(done.status, 'resolved');
    assert.equal(done.resolvedAt, T0 + 2 * HOUR);
    assert.equal(done.resolution, 'key rotated, false alarm');
    assert.equal(f.status, 'open', 'the object observe() returned is not mutated');
    assert.equal(det.risk('svc/a'), 0, 'its points leave with it');
    assert.deepEqual(det.openFindings('svc/a'), []);
    assert.equal(det.resolve(f.id), undefined, 'resolving twice is a no-op');
  });

  it('holds no floor for a kind not opted in: a critical replay adds bounded risk, and leaves with its resolution', () => {
    const clock = fakeClock(T0);
    const det = createDetector({ clock, identityWide: ['ai_agent'] });
    const [f] = det.observe(replayed(T0)).filter((x) => x.rule === 'replay');
    assert.equal(f?.severity, 'critical');
    assert.equal(det.risk('svc/a', T0), 60, 'critical points, bounded at baselineMax');
    assert.ok(det.risk('svc/a', T0 + 7 * 24 * HOUR) < 5, 'and they decay');
    det.resolve(f!.id);
    assert.equal(det.risk('svc/a', T0), 0);
  });

  it('resolving one finding keeps the decayed points of the others', () => {
    const clock = fakeClock(T0);
    const det = createDetector({ clock });
    const [a] = det.observe(ended('g1', T0));
    det.observe(ended('g2', T0));
    clock.set(T0 + HOUR);
    assert.equal(det.risk('svc/a'), 30);
    det.resolve(a!.id);
    assert.equal(det.risk('svc/a'), 15);
  });
});

describe('cooldown', () => {
  it('does not fire twice for the same identity, rule and grant within the cooldown', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    const first = Array.from({ length: 5 }, (_, i) => det.observe(ended('g1', T0 + i * MINUTE))).flat();
    assert.equal(first.length, 1);
    assert.equal(det.observe(ended('g2', T0 + 5 * MINUTE)).length, 1, 'another grant is another finding');
    assert.equal(det.observe(ended('g1', T0 + 14 * MINUTE)).length, 0);
    assert.equal(det.observe(ended('g1', T0 + 16 * MINUTE)).length, 1, 'fires again after 15 min');
  });

  it('uses the configured cooldown and ignores disabled rules', () => {
    const det = createDetector({ clock: fakeClock(T0), options: { cooldownMs: MINUTE, disabled: ['replay'] } });
    assert.equal(det.observe(ended('g1', T0)).length, 1);
    assert.equal(det.observe(ended('g1', T0 + 2 * MINUTE)).length, 1);
    assert.equal(det.observe(replayed(T0)).filter((f) => f.rule === 'replay').length, 0);
  });

  it('gives findings random UUIDs (or the injected generator)', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    const [f] = det.observe(ended('g1', T0));
    assert.match(f!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    let n = 0;
    const det2 = createDetector({ clock: fakeClock(T0), newId: () => `f-${++n}` });
    assert.equal(det2.observe(ended('g1', T0))[0]!.id, 'f-1');
  });
});
