/**
 * Each rule against its attack: on top of 8 days of learned benign history, a short malicious stream
 * must raise that rule with its severity and the evidence an analyst needs; near misses must not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDetector, responseFor, type DetectionEvent, type Detector, type Finding, type RuleId } from '../../src/detect/index.js';
import { AGENT, AGENT_ACTIONS, CI, CI_ACTIONS, DAY, NIGHTLY, SERVICE, T0, at, benignTraffic, fakeClock } from './streams.js';

// Learn 8 days once; every test starts from a copy of those baselines (also exercises import).
const SNAPSHOT = (() => {
  const det = createDetector({ clock: fakeClock() });
  det.replay(benignTraffic(0, 8));
  return det.baselines();
})();

// Every kind opted in to identity-wide responses: these tests check each rule's full weight.
function learned(): { det: Detector; clock: ReturnType<typeof fakeClock> } {
  const clock = fakeClock(at(8, 0));
  const det = createDetector({ clock, identityWide: ['ci_job', 'workload', 'ai_agent', 'service_account', 'api_client'] });
  det.importBaselines(SNAPSHOT);
  return { det, clock };
}

function feed(det: Detector, events: DetectionEvent[]): Finding[] {
  return events.flatMap((e) => det.observe(e));
}

function only(findings: Finding[], rule: RuleId): Finding {
  const hits = findings.filter((f) => f.rule === rule);
  assert.equal(hits.length, 1, `exactly one ${rule} finding, got ${findings.map((f) => f.rule).join(',') || 'none'}`);
  return hits[0]!;
}

/** A CI deploy task on day 8 at 11:00, as the benign generator would make it. */
function ciTask(id: string, extra: Partial<DetectionEvent> = {}): DetectionEvent {
  return {
    kind: 'request',
    at: at(8, 11),
    identity: CI,
    identityKind: 'ci_job',
    allowed: true,
    action: 'deploy:write',
    resource: 'Deployment::acme-api-prod',
    grantId: `g-${id}`,
    taskId: id,
    jti: `jti-${id}`,
    issuedJkt: `jkt-${id}`,
    presentedJkt: `jkt-${id}`,
    sourceIp: '10.1.5.20',
    environment: 'prod',
    taskActions: CI_ACTIONS,
    ...extra,
  };
}

function serviceCall(extra: Partial<DetectionEvent> = {}): DetectionEvent {
  return {
    kind: 'request',
    at: at(8, 10),
    identity: SERVICE,
    identityKind: 'workload',
    allowed: true,
    action: 'orders:read',
    resource: 'Order::777',
    grantId: 'g-orders-8',
    jti: 'jti-orders-8-60',
    issuedJkt: 'jkt-orders-8',
    presentedJkt: 'jkt-orders-8',
    sourceIp: '10.2.0.15',
    environment: 'prod',
    ...extra,
  };
}

function agentCall(action: string, resource: string, when: number, extra: Partial<DetectionEvent> = {}): DetectionEvent {
  return {
    kind: 'request',
    at: when,
    identity: AGENT,
    identityKind: 'ai_agent',
    allowed: true,
    action,
    resource,
    grantId: 'g-bot-evil',
    taskId: 'ticket-4242',
    jti: 'jti-bot-evil',
    issuedJkt: 'jkt-bot-evil',
    presentedJkt: 'jkt-bot-evil',
    sourceIp: '10.3.0.7',
    environment: 'prod',
    taskActions: AGENT_ACTIONS,
    ...extra,
  };
}

describe('replay', () => {
  it('fires critical when a token is presented with another DPoP key, naming its grant', () => {
    const { det } = learned();
    assert.deepEqual(feed(det, [serviceCall({ kind: 'issue', action: 'orders:read', resource: 'orders-api' }), serviceCall()]), []);
    const attack = serviceCall({ presentedJkt: 'jkt-attacker', sourceIp: '198.51.100.7', allowed: false, reason: 'dpop key mismatch', at: at(8, 10.1) });
    const f = only(det.observe(attack) as Finding[], 'replay');
    assert.equal(f.severity, 'critical');
    assert.equal(f.grantId, 'g-orders-8');
    assert.equal(f.jti, 'jti-orders-8-60');
    assert.equal(f.evidence.reason, 'key_mismatch');
    assert.equal(f.evidence.issuedJkt, 'jkt-orders-8');
    assert.equal(f.evidence.presentedJkt, 'jkt-attacker');
    assert.ok(det.risk(SERVICE) >= 80);
  });

  it('fires when the same jti comes from a second address with the right key (token and key stolen)', () => {
    const { det } = learned();
    feed(det, [serviceCall()]);
    const f = only(feed(det, [serviceCall({ sourceIp: '10.2.0.99', at: at(8, 10.05) })]), 'replay');
    assert.equal(f.evidence.reason, 'source_changed');
    assert.deepEqual((f.evidence.firstSeen as { ip: string }).ip, '10.2.0.15');
  });

  it('is silent for a jti reused long after its lifetime and for the normal client', () => {
    const { det } = learned();
    feed(det, [serviceCall()]);
    assert.deepEqual(feed(det, [serviceCall({ at: at(8, 10.2) })]), []);
    const late = feed(det, [serviceCall({ sourceIp: '10.2.0.99', at: at(8, 12) })]);
    assert.equal(late.filter((f) => f.rule === 'replay').length, 0);
  });
});

describe('enumeration', () => {
  it('fires high on a burst of denies, with the denied events as evidence', () => {
    const { det } = learned();
    const probes = Array.from({ length: 12 }, (_, i) =>
      agentCall('secrets:read', `Secret::s${i}`, at(8, 14) + i * 3000, { allowed: false, reason: 'no policy', taskActions: AGENT_ACTIONS }),
    );
    const f = only(feed(det, probes), 'enumeration');
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence.reason, 'deny_burst');
    assert.equal((f.evidence.events as unknown[]).length, 10);
  });

  it('fires on 20+ distinct never-seen resources in a minute from a low-cardinality identity', () => {
    const { det } = learned();
    const sweep = Array.from({ length: 25 }, (_, i) =>
      ciTask('sweep', { action: 'artifacts:read', resource: `Artifact::probe-${i}`, at: at(8, 11) + i * 2000 }),
    );
    const f = only(feed(det, sweep), 'enumeration');
    assert.equal(f.evidence.reason, 'distinct_resources');
    assert.equal(f.evidence.distinctNewResources, 20);
  });

  it('is silent for the same denies spread over ten minutes', () => {
    const { det } = learned();
    const slow = Array.from({ length: 12 }, (_, i) => agentCall('tickets:read', `Ticket::${i}`, at(8, 14) + i * 60_000, { allowed: false }));
    assert.equal(feed(det, slow).filter((f) => f.rule === 'enumeration').length, 0);
  });
});

describe('first_seen', () => {
  it('fires medium on a never-seen action outside the task', () => {
    const { det } = learned();
    const f = only(feed(det, [ciTask('d1', { action: 'iam:write', resource: 'Role::admin' })]), 'first_seen');
    assert.equal(f.severity, 'medium');
    assert.equal(f.evidence.newAction, true);
    assert.equal(f.evidence.action, 'iam:write');
    assert.deepEqual(f.evidence.taskActions, CI_ACTIONS);
  });

  it('fires on a requested action the identity never used when it comes at an unusual hour', () => {
    const { det } = learned();
    // The nightly export runs around 02:00; at 14:00 it asks for and uses a scope it never used.
    const e: DetectionEvent = { kind: 'request', at: at(8, 14), identity: NIGHTLY, allowed: true, action: 'users:export', resource: 'UserDirectory::all', grantId: 'gx', jti: 'jx', taskActions: ['orders:export', 'users:export'] };
    const f = only(feed(det, [e]), 'first_seen');
    assert.equal(f.evidence.requestedInTask, true);
    // The same requested action at its usual hour is left to the task.
    const { det: det2 } = learned();
    assert.deepEqual(feed(det2, [{ ...e, at: at(8, 2) + 5 * 60_000 }]).filter((x) => x.rule === 'first_seen'), []);
  });

  it('is silent on a new resource inside the task (a new build artifact)', () => {
    const { det } = learned();
    assert.deepEqual(feed(det, [ciTask('d1', { action: 'artifacts:read', resource: 'Artifact::build-9999' })]), []);
  });

  it('fires for an untasked service on a new resource type, not on a new order id', () => {
    const { det } = learned();
    assert.deepEqual(feed(det, [serviceCall({ resource: 'Order::999999999' })]), []);
    const f = only(feed(det, [serviceCall({ resource: 'Customer::1', at: at(8, 10.01) })]), 'first_seen');
    assert.equal(f.evidence.newResourceType, true);
  });
});

describe('off_hours', () => {
  it('fires medium when the nightly export runs at 14:00', () => {
    const { det } = learned();
    const e: DetectionEvent = {
      kind: 'request', at: at(8, 14), identity: NIGHTLY, allowed: true, action: 'orders:read', resource: 'OrderPage::1',
      grantId: 'g-nightly-x', taskActions: ['orders:export', 'orders:read', 'bucket:write'], sourceIp: '10.4.0.21', environment: 'prod',
    };
    const f = only(feed(det, [e]), 'off_hours');
    assert.equal(f.severity, 'medium');
    assert.equal(f.evidence.hourUtc, 14);
    assert.equal(f.evidence.shareOfHistory, 0);
  });

  it('tolerates an hour either side of the usual time', () => {
    const { det } = learned();
    const e: DetectionEvent = { kind: 'request', at: at(8, 3.5), identity: NIGHTLY, allowed: true, action: 'orders:read', resource: 'OrderPage::1' };
    assert.deepEqual(feed(det, [e]), []);
  });
});

describe('rate_spike', () => {
  it('fires high when a steady service makes 400 calls in a minute (spread over many tokens: an alert)', () => {
    const { det } = learned();
    // 40 tokens of 10 calls each: no one credential stands out, the identity as a whole does.
    const burst = Array.from({ length: 400 }, (_, i) => serviceCall({ at: at(8, 12) + i * 150, resource: `Order::${i}`, jti: `jti-burst-${i % 40}` }));
    const f = only(feed(det, burst), 'rate_spike');
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence.credential, undefined, 'baseline evidence: an alert');
    assert.ok((f.evidence.ratePerMinute as number) > (f.evidence.threshold as number));
    assert.ok((f.evidence.baselineRatePerMinute as number) <= 12, `baseline p95 ${String(f.evidence.baselineRatePerMinute)}`);
  });

  it('one token making 400 calls in a minute, far beyond the identity\'s busiest minute, is contained', () => {
    const { det } = learned();
    const burst = Array.from({ length: 400 }, (_, i) => serviceCall({ at: at(8, 12) + i * 150, resource: `Order::${i}` }));
    const f = only(feed(det, burst), 'rate_spike');
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence.reason, 'token_beyond_envelope');
    assert.deepEqual(f.evidence.credential, { jti: 'jti-orders-8-60', signals: ['token_rate'] });
    assert.equal(f.jti, 'jti-orders-8-60');
    assert.ok((f.evidence.tokenRatePerMinute as number) > (f.evidence.threshold as number));
    assert.ok((f.evidence.threshold as number) >= 4 * (f.evidence.identityBusiestMinute as number));
    assert.equal(responseFor(f), 'revoke_grant');
  });

  it('is silent for a CI deploy burst like the ones it learned', () => {
    const { det } = learned();
    const burst = Array.from({ length: 60 }, (_, i) => ciTask('d2', { at: at(8, 11) + i * 1000 }));
    assert.deepEqual(feed(det, burst), []);
  });
});

describe('after_task', () => {
  it('fires high when a token is used after its task ended', () => {
    const { det } = learned();
    const f = only(feed(det, [ciTask('d3', { taskEnded: true, allowed: false, reason: 'grant ended' })]), 'after_task');
    assert.equal(f.severity, 'high');
    assert.equal(f.grantId, 'g-d3');
    assert.equal(f.evidence.taskId, 'd3');
  });
});

describe('dormant', () => {
  it('fires medium when an identity idle for 30+ days wakes up', () => {
    const { det } = learned();
    const old: DetectionEvent[] = Array.from({ length: 30 }, (_, i) => ({
      kind: 'request', at: T0 - 45 * DAY + i * 3_600_000, identity: 'svc/legacy-report', allowed: true, action: 'reports:read', resource: 'Report::q3',
    }));
    det.replay(old);
    const f = only(feed(det, [{ ...old[0]!, at: at(8, 10) }]), 'dormant');
    assert.equal(f.severity, 'medium');
    assert.ok((f.evidence.idleDays as number) >= 30);
    assert.equal(f.evidence.lastActivityAt, old.at(-1)!.at);
  });

  it('is silent after a weekend', () => {
    const { det } = learned();
    assert.deepEqual(feed(det, [ciTask('d4')]), []);
  });
});

describe('escalation', () => {
  const chain = (t: number, step: number): DetectionEvent[] => [
    agentCall('secrets:read', 'Secret::prod-db', t),
    agentCall('iam:attach-policy', 'Role::support-bot', t + step),
    agentCall('webhook:post', 'External::paste.example', t + 2 * step),
  ];

  it('fires critical on secret read → permission change → external call within 10 minutes', () => {
    const { det } = learned();
    const findings = feed(det, chain(at(8, 15), 120_000));
    const f = only(findings, 'escalation');
    assert.equal(f.severity, 'critical');
    assert.deepEqual((f.evidence.chain as { action: string }[]).map((e) => e.action), ['secrets:read', 'iam:attach-policy', 'webhook:post']);
    assert.ok(det.risk(AGENT) >= 80);
  });

  it("is silent when the chain is the identity's own routine (a daily Terraform pipeline)", () => {
    const { det } = learned();
    // Eight days of the same three steps, every day: routine for this identity.
    const tf = (day: number, i: number, action: string, resource: string): DetectionEvent =>
      ({ kind: 'request', at: at(day, 6) + i * 60_000, identity: 'ci/terraform', allowed: true, action, resource, grantId: `tf-${day}`, jti: `tf-${day}`, taskActions: ['secrets:read', 'iam:bind', 'webhook:post'] });
    const run = (day: number) => [tf(day, 0, 'secrets:read', 'Secret::tf'), tf(day, 1, 'iam:bind', 'Role::deployer'), tf(day, 2, 'webhook:post', 'Host::slack')];
    for (let d = 0; d < 8; d++) det.replay(Array.from({ length: 3 }, (_, k) => run(d).map((e) => ({ ...e, at: e.at + k * 3_600_000 }))).flat());
    assert.deepEqual(feed(det, run(8)).filter((f) => f.rule === 'escalation'), []);
  });

  it('ignores denied steps: attempts are not privileges used', () => {
    const { det } = learned();
    const denied = chain(at(8, 15), 60_000).map((e) => ({ ...e, allowed: false }));
    assert.deepEqual(feed(det, denied).filter((f) => f.rule === 'escalation'), []);
  });

  it('is silent when the chain spans 30 minutes or comes out of order', () => {
    const { det } = learned();
    assert.equal(feed(det, chain(at(8, 15), 15 * 60_000)).filter((f) => f.rule === 'escalation').length, 0);
    const [s, p, x] = chain(at(8, 17), 60_000);
    const reordered = [{ ...p!, at: s!.at }, { ...s!, at: p!.at }, x!];
    assert.equal(feed(det, reordered).filter((f) => f.rule === 'escalation').length, 0);
  });
});

describe('drift', () => {
  it('fires high when a task moves to another /24, not when it moves inside its /24', () => {
    const { det } = learned();
    // A new token per move (the same jti from a second address would be a replay, tested above).
    assert.deepEqual(feed(det, [ciTask('d5'), ciTask('d5', { sourceIp: '10.1.5.99', jti: 'jti-d5-2', at: at(8, 11.01) })]), []);
    const f = only(feed(det, [ciTask('d5', { sourceIp: '10.7.0.3', jti: 'jti-d5-3', at: at(8, 11.02) })]), 'drift');
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence.reason, 'network');
    assert.equal((f.evidence.first as { prefix: string }).prefix, 'v4:167838976/24');
  });

  it('fires when the environment changes mid-task', () => {
    const { det } = learned();
    feed(det, [ciTask('d6')]);
    const f = only(feed(det, [ciTask('d6', { environment: 'staging', at: at(8, 11.01) })]), 'drift');
    assert.equal(f.evidence.reason, 'environment');
  });
});
