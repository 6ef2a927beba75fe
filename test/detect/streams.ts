/**
 * Deterministic simulated traffic for the detection tests: four benign identities whose habits are
 * modelled on real NHIs, and small builders for attack events. Seeded PRNG, so a failure reproduces.
 */
import type { DetectionEvent } from '../../src/detect/index.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Monday 2024-01-01 00:00 UTC. */
export const T0 = Date.UTC(2024, 0, 1);

export { rng } from '../../src/simulate/history.js';
import { rng } from '../../src/simulate/history.js';

const int = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/**
 * Every event built with the same keys in the same order, as the broker's emitter would: one
 * object shape keeps property access in the detector monomorphic (and the test fast).
 */
export function makeEvent(f: DetectionEvent): DetectionEvent {
  return {
    kind: f.kind,
    at: f.at,
    identity: f.identity,
    identityKind: f.identityKind,
    allowed: f.allowed,
    action: f.action,
    resource: f.resource,
    grantId: f.grantId,
    jti: f.jti,
    issuedJkt: f.issuedJkt,
    presentedJkt: f.presentedJkt,
    sourceIp: f.sourceIp,
    environment: f.environment,
    taskId: f.taskId,
    taskEnded: f.taskEnded,
    taskActions: f.taskActions,
    reason: f.reason,
    credentialStage: f.credentialStage,
  };
}

export const CI = 'ci/acme-api-deploy';
export const CI_ACTIONS = ['config:read', 'artifacts:read', 'deploy:write'];

/** CI deploy job: weekdays only, 1–3 deploys between 09:00 and 17:00, each a burst of 30–60 calls. */
export function ciDeploys(fromDay: number, toDay: number, seed = 1): DetectionEvent[] {
  const r = rng(seed);
  const out: DetectionEvent[] = [];
  for (let d = fromDay; d < toDay; d++) {
    const weekday = (d % 7) + 1; // T0 is a Monday
    const deploys = weekday >= 6 ? 0 : int(r, 1, 3);
    for (let n = 0; n < deploys; n++) {
      let at = T0 + d * DAY + int(r, 9, 16) * HOUR + int(r, 0, 59) * MINUTE;
      const base = {
        identity: CI,
        identityKind: 'ci_job' as const,
        grantId: `g-ci-${d}-${n}`,
        taskId: `deploy-${d}-${n}`,
        jti: `jti-ci-${d}-${n}`,
        issuedJkt: `jkt-ci-${d}-${n}`,
        presentedJkt: `jkt-ci-${d}-${n}`,
        sourceIp: `10.1.${int(r, 0, 255)}.${int(r, 1, 254)}`,
        environment: 'prod',
        taskActions: CI_ACTIONS,
      };
      for (const action of CI_ACTIONS) {
        out.push(makeEvent({ ...base, kind: 'issue', at, allowed: true, action, resource: 'https://api.acme.example' }));
      }
      const calls = int(r, 30, 60);
      for (let i = 0; i < calls; i++) {
        at += int(r, 500, 3000);
        const [action, resource] =
          i < 5 ? ['config:read', 'Config::acme-api'] : i < 15 ? ['artifacts:read', `Artifact::build-${d}-${n}`] : ['deploy:write', 'Deployment::acme-api-prod'];
        out.push(makeEvent({ ...base, kind: 'request', at, allowed: true, action: action!, resource: resource! }));
      }
    }
  }
  return out;
}

export const NIGHTLY = 'svc/nightly-export';
const NIGHTLY_ACTIONS = ['orders:export', 'orders:read', 'bucket:write'];

/** Nightly batch export: every night at 02:00 (+0–10 min), 150–250 calls a couple of seconds apart. */
export function nightlyExports(fromDay: number, toDay: number, seed = 2): DetectionEvent[] {
  const r = rng(seed);
  const out: DetectionEvent[] = [];
  for (let d = fromDay; d < toDay; d++) {
    let at = T0 + d * DAY + 2 * HOUR + int(r, 0, 10) * MINUTE;
    const base = {
      identity: NIGHTLY,
      identityKind: 'service_account' as const,
      grantId: `g-nightly-${d}`,
      taskId: `export-${d}`,
      jti: `jti-nightly-${d}`,
      issuedJkt: 'jkt-nightly',
      presentedJkt: 'jkt-nightly',
      sourceIp: '10.4.0.21',
      environment: 'prod',
      taskActions: NIGHTLY_ACTIONS,
    };
    out.push(makeEvent({ ...base, kind: 'issue', at, allowed: true, action: 'orders:export', resource: 'orders-api' }));
    const calls = int(r, 150, 250);
    for (let i = 0; i < calls; i++) {
      at += int(r, 1000, 3000);
      const [action, resource] =
        i === 0 ? ['orders:export', `Export::orders-${d}`] : i === calls - 1 ? ['bucket:write', 'Bucket::exports'] : ['orders:read', `OrderPage::${i % 120}`];
      out.push(makeEvent({ ...base, kind: 'request', at, allowed: true, action: action!, resource: resource! }));
    }
  }
  return out;
}

export const SERVICE = 'svc/orders-api';

/**
 * Long-running service: 3–9 calls every minute around the clock on random order ids (a
 * high-cardinality identity), a token refresh every 10 minutes, no task scoping, rare denies.
 */
export function steadyService(fromDay: number, toDay: number, seed = 3): DetectionEvent[] {
  const r = rng(seed);
  const out: DetectionEvent[] = [];
  for (let d = fromDay; d < toDay; d++) {
    for (let m = 0; m < 24 * 60; m++) {
      const minuteAt = T0 + d * DAY + m * MINUTE;
      const base = {
        identity: SERVICE,
        identityKind: 'workload' as const,
        grantId: `g-orders-${d}`,
        jti: `jti-orders-${d}-${Math.floor(m / 10)}`,
        issuedJkt: `jkt-orders-${d}`,
        presentedJkt: `jkt-orders-${d}`,
        sourceIp: '10.2.0.15',
        environment: 'prod',
      };
      if (m % 10 === 0) out.push(makeEvent({ ...base, kind: 'issue', at: minuteAt, allowed: true, action: 'orders:read', resource: 'orders-api' }));
      const n = int(r, 3, 9);
      const offsets: number[] = [];
      for (let i = 0; i < n; i++) offsets.push(int(r, 1, 59_999));
      offsets.sort((a, b) => a - b);
      for (const off of offsets) {
        const p = r();
        const action = p < 0.7 ? 'orders:read' : p < 0.9 ? 'orders:write' : 'inventory:read';
        const resource = p < 0.9 ? `Order::${int(r, 1, 1_000_000)}` : `Sku::${int(r, 1, 5000)}`;
        const allowed = r() > 0.005;
        // No object spread here: this loop makes most of the events, and spreads made it slow.
        const e = makeEvent(base as DetectionEvent);
        e.kind = 'request';
        e.at = minuteAt + off;
        e.allowed = allowed;
        e.action = action;
        e.resource = resource;
        if (!allowed) e.reason = 'policy';
        out.push(e);
      }
    }
  }
  return out;
}

export const AGENT = 'agent/support-bot';
export const AGENT_ACTIONS = ['tickets:read', 'kb:search', 'crm:lookup', 'tickets:comment'];

/** AI support agent: 20–40 ticket sessions a day, 08:00–20:00, tools always in the same order. */
export function agentSessions(fromDay: number, toDay: number, seed = 4): DetectionEvent[] {
  const r = rng(seed);
  const out: DetectionEvent[] = [];
  for (let d = fromDay; d < toDay; d++) {
    const sessions = int(r, 20, 40);
    for (let s = 0; s < sessions; s++) {
      let at = T0 + d * DAY + int(r, 8, 19) * HOUR + int(r, 0, 59) * MINUTE;
      const ticket = int(r, 1, 100_000);
      const base = {
        identity: AGENT,
        identityKind: 'ai_agent' as const,
        grantId: `g-bot-${d}-${s}`,
        taskId: `ticket-${ticket}`,
        jti: `jti-bot-${d}-${s}`,
        issuedJkt: `jkt-bot-${d}-${s}`,
        presentedJkt: `jkt-bot-${d}-${s}`,
        sourceIp: '10.3.0.7',
        environment: 'prod',
        taskActions: AGENT_ACTIONS,
      };
      out.push(makeEvent({ ...base, kind: 'issue', at, allowed: true, action: 'tickets:read', resource: 'support-api' }));
      const calls: [string, string][] = [['tickets:read', `Ticket::${ticket}`]];
      for (let k = int(r, 1, 3); k > 0; k--) calls.push(['kb:search', 'Kb::articles']);
      calls.push(['crm:lookup', `Customer::${int(r, 1, 2000)}`], ['tickets:comment', `Ticket::${ticket}`]);
      for (const [action, resource] of calls) {
        at += int(r, 3000, 20_000);
        out.push(makeEvent({ ...base, kind: 'request', at, allowed: true, action, resource }));
      }
    }
  }
  return out;
}

/** All four benign identities, merged in time order. */
export function benignTraffic(fromDay: number, toDay: number): DetectionEvent[] {
  return [
    ...ciDeploys(fromDay, toDay),
    ...nightlyExports(fromDay, toDay),
    ...steadyService(fromDay, toDay),
    ...agentSessions(fromDay, toDay),
  ].sort((a, b) => a.at - b.at);
}

/** A clock the test moves by hand (epoch milliseconds). */
export function fakeClock(start = T0): (() => Date) & { now(): number; set(t: number): void } {
  let t = start;
  return Object.assign(() => new Date(t), { now: () => t, set: (v: number) => (t = v) });
}

/** Event time on simulated day `day` at `hours` (fractional) UTC. */
export function at(day: number, hours: number): number {
  return T0 + day * DAY + Math.round(hours * HOUR);
}
