/** Baselines: JSON round-trip, bounded memory, options checking, address prefixes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_DETECTION_OPTIONS,
  createDetector,
  ipPrefix,
  resolveDetectionOptions,
  type BaselineSnapshot,
} from '../../src/detect/index.js';
import { AGENT, CI, T0, at, benignTraffic, fakeClock, makeEvent } from './streams.js';

describe('baseline', () => {
  it('survives a JSON round-trip and detects the same way afterwards', () => {
    const a = createDetector({ clock: fakeClock() });
    a.replay(benignTraffic(0, 8));
    const snap = a.baselines();
    const text = JSON.stringify(snap);
    const b = createDetector({ clock: fakeClock() });
    b.importBaselines(JSON.parse(text) as BaselineSnapshot);
    assert.equal(JSON.stringify(b.baselines()), text);

    const agent = b.baseline(AGENT)!;
    assert.equal(agent.kind, 'ai_agent');
    // Sessions start 08:00–19:59 and may run past 20:00.
    // The agent's usual tool order was learned: tickets:read → kb:search is a known transition.
    const fromRead = new Map(agent.transitions.find(([k]) => k === 'tickets:read')![1]);
    assert.ok((fromRead.get('kb:search') ?? 0) > 10);
    assert.ok(agent.hours.slice(8, 21).reduce((x, y) => x + y, 0) === agent.events);

    const probe = makeEvent({ kind: 'request', at: at(8, 11), identity: CI, allowed: true, action: 'iam:write', resource: 'Role::admin', grantId: 'g-x', taskActions: ['deploy:write'] });
    const fromA = a.observe(probe).map((f) => f.rule);
    assert.deepEqual(fromA, ['first_seen']);
    assert.deepEqual(b.observe(probe).map((f) => f.rule), fromA);
  });

  it('rejects a snapshot it does not understand, loading none of it', () => {
    const det = createDetector({ clock: fakeClock() });
    assert.throws(() => det.importBaselines({ v: 2 } as unknown as BaselineSnapshot), { code: 'invalid_request' });
    const bad = { v: 1, exportedAt: 0, baselines: [{ v: 1, identity: 'x' }] } as unknown as BaselineSnapshot;
    assert.throws(() => det.importBaselines(bad), { code: 'invalid_request' });
    assert.equal(det.baseline('x'), undefined);
  });

  it('bounds memory per identity: distinct values past a cap are counted, not stored', () => {
    const det = createDetector({ clock: fakeClock(), options: { baseline: { maxResources: 100, maxTokens: 50, maxGrants: 20 } } });
    for (let i = 0; i < 5000; i++) {
      det.observe(makeEvent({ kind: 'request', at: T0 + i * 1000, identity: 'svc/big', allowed: true, action: 'a:read', resource: `R::${i}`, grantId: `g${i % 40}`, jti: `j${i}` }));
    }
    const b = det.baseline('svc/big')!;
    assert.equal(b.resources.length, 100);
    assert.equal(b.dropped.resources, 4900);
    assert.equal(b.tokens.length, 50);
    assert.equal(b.grants.length, 20);
    assert.equal(b.events, 5000);
    assert.equal(Object.keys(DEFAULT_DETECTION_OPTIONS.baseline).includes('maxResources'), true);
    assert.equal(DEFAULT_DETECTION_OPTIONS.baseline.maxResources, 1000);
  });
});

describe('options', () => {
  it('merges over the defaults and rejects nonsense at construction', () => {
    const o = resolveDetectionOptions({ enumeration: { denies: 5 }, severity: { first_seen: 'high' } });
    assert.equal(o.enumeration.denies, 5);
    assert.equal(o.enumeration.distinctResources, 20);
    assert.equal(o.severity.first_seen, 'high');
    assert.equal(o.severity.replay, 'critical');
    assert.throws(() => resolveDetectionOptions({ cooldownMs: -1 }), { code: 'invalid_request' });
    assert.throws(() => resolveDetectionOptions({ rateSpike: { percentile: 2 } }), { code: 'invalid_request' });
    assert.throws(() => createDetector({ clock: fakeClock(), options: { enumeration: { denies: 0 } } }));
  });

  it('makes global/sticky patterns stateless (a /g RegExp would match every other call)', () => {
    const o = resolveDetectionOptions({ escalation: { externalCall: { noun: /egress/gi } } });
    assert.equal(o.escalation.externalCall.noun.global, false);
    assert.equal(o.escalation.externalCall.noun.test('egress:send') && o.escalation.externalCall.noun.test('egress:send'), true);
  });
});

describe('ipPrefix', () => {
  it('masks IPv4 to /24 and IPv6 to /64 by default', () => {
    assert.equal(ipPrefix('10.1.5.20'), ipPrefix('10.1.5.99'));
    assert.notEqual(ipPrefix('10.1.5.20'), ipPrefix('10.1.6.20'));
    assert.equal(ipPrefix('2001:db8:1:2::1'), ipPrefix('2001:db8:1:2:ffff::9'));
    assert.notEqual(ipPrefix('2001:db8:1:2::1'), ipPrefix('2001:db8:1:3::1'));
    assert.equal(ipPrefix('::ffff:10.1.5.7'), ipPrefix('10.1.5.200'));
    assert.equal(ipPrefix('[fe80::1%eth0]'), ipPrefix('fe80::2'));
    assert.equal(ipPrefix('10.1.5.20', 16), ipPrefix('10.1.77.1', 16));
    assert.equal(ipPrefix('not-an-ip'), 'not-an-ip');
    assert.equal(ipPrefix('1:2:3'), '1:2:3');
  });
});
