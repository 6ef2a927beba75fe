/**
 * What detection sees beyond gateway decisions: token-endpoint refusals (verified subject tokens
 * only), approvals requested and break-glass; and probing paced under the one-minute thresholds
 * (denies, or new resources).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { createDetector } from '../../src/detect/index.js';
import { fromDecision } from '../../src/detect/feed.js';
import type { DecisionEvent } from '../../src/pdp/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, eventually, ID, ordersBroker } from './fixture.js';
import { DAY, fakeClock, HOUR, makeEvent, T0 } from './streams.js';

const issueDecision = (o: { allowed: boolean; approval?: boolean; breakGlass?: boolean; stage?: string; entry?: string }): DecisionEvent =>
  ({
    at: new Date(T0),
    input: {
      entry: o.entry ?? 'token',
      phase: 'issue',
      principal: { type: 'Identity', id: 'ci/x' },
      action: { name: 'secrets:read' },
      resource: { type: 'Audience', id: 'https://vault.example' },
      issuance: { issuer: 'gh', breakGlass: o.breakGlass ?? false, task: {} },
      request: { method: 'POST', path: '/oauth/token', source_ip: '192.0.2.1' },
    },
    output: { decision: o.allowed, reasons: { policies: [], errors: [] }, stage: o.stage ?? 'policy', obligations: { approval: o.approval ?? false, breakGlass: o.breakGlass ?? false, bearer: false }, heldForApproval: false },
    own: { environment: 'prod' },
    identity: { kind: 'ci_job' },
  }) as unknown as DecisionEvent;

describe('token endpoint decisions feed detection', () => {
  it('a refusal, an approval requested and a break-glass request become issue events; plain issuances come with their token', () => {
    const refused = fromDecision(issueDecision({ allowed: false }));
    assert.equal(refused?.kind, 'issue');
    assert.equal(refused.allowed, false);
    assert.equal(refused.credentialStage, undefined, 'a policy refusal counts toward enumeration');
    assert.equal(refused.sourceIp, '192.0.2.1');
    assert.equal(fromDecision(issueDecision({ allowed: false, stage: 'identity' }))?.credentialStage, true, 'a suspended identity is not probing');
    assert.equal(fromDecision(issueDecision({ allowed: true, approval: true }))?.reason, 'approval requested');
    assert.equal(fromDecision(issueDecision({ allowed: true, breakGlass: true }))?.reason, 'break-glass requested');
    assert.equal(fromDecision(issueDecision({ allowed: true })), undefined);
  });

  it('an AuthZEN caller naming an identity is still not a verified fact', () => {
    assert.equal(fromDecision(issueDecision({ allowed: false, entry: 'authzen' })), undefined);
  });
});

describe('slow probing', () => {
  it('15 new resources a minute, under the one-minute threshold, is enumeration within ten minutes', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    // A low-cardinality service: eight days on the same 8 orders.
    det.replay(Array.from({ length: 8 * 24 }, (_, i) => makeEvent({ kind: 'request', at: T0 - 8 * DAY + i * HOUR, identity: 'svc/low', allowed: true, action: 'orders:read', resource: `Order::${i % 8}` })));
    const found = Array.from({ length: 150 }, (_, i) =>
      det.observe(makeEvent({ kind: 'request', at: T0 + i * 4000, identity: 'svc/low', allowed: true, action: 'orders:read', resource: `Order::probe-${i}` })),
    ).flat();
    const en = found.filter((f) => f.rule === 'enumeration');
    assert.equal(en.length, 1);
    assert.equal(en[0]!.evidence.reason, 'slow_distinct_resources');
    assert.ok(en[0]!.createdAt - T0 <= 10 * 60_000, 'within the slow window');
  });

  it('a release adding one new route for a low-cardinality service is not', () => {
    const det = createDetector({ clock: fakeClock(T0) });
    det.replay(Array.from({ length: 8 * 24 }, (_, i) => makeEvent({ kind: 'request', at: T0 - 8 * DAY + i * HOUR, identity: 'svc/rel', allowed: true, action: 'orders:read', resource: `Order::${i % 8}` })));
    const found = Array.from({ length: 120 }, (_, i) =>
      det.observe(makeEvent({ kind: 'request', at: T0 + i * 5000, identity: 'svc/rel', allowed: true, action: 'orders:read', resource: i % 2 ? `Order::${i % 8}` : `Invoice::${i % 3}` })),
    ).flat();
    assert.deepEqual(found.filter((f) => f.rule === 'enumeration'), []);
  });
});

describe('token endpoint refusals in a running broker', () => {
  const h = ordersBroker();

  test('ten refused exchanges for a scope policy never grants are enumeration; the identity is not locked out', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await h.c.exchange(await createDpopKey(), { scope: 'orders:admin', purpose: `probe ${i}` });
      assert.equal(r.body.error, 'invalid_scope');
    }
    const en = await eventually(async () => ((await h.b.admin('GET', `/admin/v1/findings?identity=${encodeURIComponent(ID)}&rule=enumeration`)).body.findings as Array<Record<string, any>>)[0]); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(en.response, 'alert', 'identity-wide holds wait for an opt-in');
    const ok = await h.c.exchange(await createDpopKey(), { purpose: 'real work' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });
});
