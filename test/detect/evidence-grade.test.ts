/** Evidence-graded risk: baseline findings stay below the policy threshold unless corroborated; one open per rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, type DetectionEvent } from '../../src/detect/index.js';
import { DAY, fakeClock, HOUR, makeEvent, MINUTE, T0 } from './streams.js';

const ended = (grant: string, at: number): DetectionEvent =>
  makeEvent({ kind: 'request', at, identity: 'svc/a', allowed: false, action: 'x:read', resource: 'X::1', grantId: grant, taskEnded: true });

describe('evidence-graded risk', () => {
  it('uses after the task ended, however many, stay below 80 (an operator revoking tokens is no attack)', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    for (let i = 0; i < 8; i++) assert.equal(det.observe(ended(`g${i}`, T0 + i)).length, 1);
    assert.equal(det.risk('svc/a', T0 + 10), 60);
  });

  it('a token used beside its holder from an address the identity never uses is source_changed (high); another key is critical; both bounded unless opted in', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    // Eight days of the identity working from two NAT addresses: both are its own.
    det.replay(Array.from({ length: 40 }, (_, i) => makeEvent({ kind: 'request', at: T0 - 8 * DAY + i * 5 * HOUR, identity: 'svc/b', allowed: true, action: 'x:read', resource: 'X::1', jti: `h${i}`, sourceIp: i % 2 ? '10.0.0.1' : '10.0.7.1' })));
    const first = makeEvent({ kind: 'request', at: T0, identity: 'svc/b', allowed: true, action: 'x:read', resource: 'X::1', grantId: 'g', jti: 'j', issuedJkt: 'k', presentedJkt: 'k', sourceIp: '10.0.0.1' });
    det.observe(first);
    assert.deepEqual(det.observe({ ...first, at: T0 + 1000, sourceIp: '10.0.7.1' }), [], 'the NAT pool is the identity\'s own');
    const [moved] = det.observe({ ...first, at: T0 + MINUTE, sourceIp: '10.0.0.77' });
    assert.equal(moved?.rule, 'replay');
    assert.equal(moved.evidence.reason, 'source_changed');
    assert.equal(moved.evidence.strangeIp, '10.0.0.77', 'even inside a /24 the identity uses');
    assert.equal(moved.severity, 'high');
    assert.ok(det.risk('svc/b', T0 + MINUTE) < 80);
    const [stolen] = det.observe({ ...first, at: T0 + 2 * MINUTE, grantId: 'g2', jti: 'j2', presentedJkt: 'thief' });
    assert.equal(stolen?.severity, 'critical');
    // Anyone who saw the token string can present it with their own key: that must not lock the
    // identity out, so without an identity-wide opt-in its risk stays below the policy threshold.
    assert.ok(det.risk('svc/b', T0 + 2 * MINUTE) < 80);
    const wide = createDetector({ clock: fakeClock(T0), identityWide: ['workload'] });
    wide.observe({ ...first, identityKind: 'workload' });
    wide.observe({ ...first, identityKind: 'workload', at: T0 + 2 * MINUTE, grantId: 'g2', jti: 'j2', presentedJkt: 'thief' });
    assert.ok(wide.risk('svc/b', T0 + 2 * MINUTE) >= 80, 'opted in: the critical floor holds');
  });

  it('one open finding per baseline rule and identity; resolving it lets the rule fire again', () => {
    const det = createDetector({ clock: fakeClock(T0), options: { cooldownMs: 0 } });
    const deny = (i: number) => makeEvent({ kind: 'request', at: T0 + i, identity: 'svc/c', allowed: false, action: 'x:del', resource: `X::${i}`, grantId: 'g', jti: 'j' });
    const raised = Array.from({ length: 20 }, (_, i) => det.observe(deny(i))).flat().filter((f) => f.rule === 'enumeration');
    assert.equal(raised.length, 1);
    det.resolve(raised[0]!.id, 'false positive');
    assert.equal(det.observe(deny(21)).filter((f) => f.rule === 'enumeration').length, 1);
  });

  it('slow probing (about 9 policy denies a minute) is enumeration; refusals of expired or revoked tokens are not', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    const at = (i: number) => T0 + Math.round((i * 60_000) / 8.6);
    const found = Array.from({ length: 40 }, (_, i) =>
      det.observe(makeEvent({ kind: 'request', at: at(i), identity: 'svc/slow', allowed: false, action: 'x:read', resource: `X::${i}`, grantId: 'g', jti: 'j' })),
    ).flat();
    assert.deepEqual(found.map((f) => [f.rule, f.evidence.reason]), [['enumeration', 'slow_deny_burst']]);
    const expiry = Array.from({ length: 40 }, (_, i) =>
      det.observe(makeEvent({ kind: 'request', at: T0 + i * 100, identity: 'svc/retry', allowed: false, action: 'x:read', resource: 'X::1', credentialStage: true, reason: 'access token expired' })),
    ).flat();
    assert.deepEqual(expiry.filter((f) => f.rule === 'enumeration'), []);
  });
});
