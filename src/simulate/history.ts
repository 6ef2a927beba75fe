/**
 * A synthetic week (ten days, so every baseline is mature: DetectionOptions.learning wants 20
 * events over 7 days) of benign history per identity, posted to the learning endpoint.
 *
 * Time of day is designed so the off_hours rule is deterministic whatever hour the simulator runs
 * at (H = the current UTC hour): every identity's history covers H ± 1 at least (benign ones keep
 * their own habits around it: the CI job works H−3..H+3, the batch export runs at H−1..H+1, the
 * agent H−6..H+6, the service around the clock), except the off-hours attacker's, which avoids
 * H − 2 .. H + 2 entirely (one hour of margin beyond the rule's tolerance, so a run crossing an hour
 * boundary changes nothing), and so does the rescheduled job's (its benign look-alike). The dormant
 * identity's history ended 40 days ago; the monthly reporter ran on the last three report days.
 *
 * Seeded PRNG: the same run id gives the same history.
 */
import type { DetectionEvent, IdentityKind } from '../detect/index.js';
import { resourceOf } from './catalog.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface HistoryContext {
  now: number;
  /** Identity id for a catalog name. */
  id(name: string): string;
  audience: string;
  seed: number;
}

type Step = [action: string, type: string, resourceId: string];

interface TaskSpec {
  identity: string;
  kind: IdentityKind;
  at: number;
  scopes: readonly string[];
  steps: readonly Step[];
  ip: string;
  /** Milliseconds between calls: [min, max]. */
  gap: [number, number];
  n: number;
}

function taskEvents(t: TaskSpec, r: () => number, audience: string): DetectionEvent[] {
  const grantId = `hist-${t.identity}-${t.n}`;
  const common = {
    identity: t.identity,
    identityKind: t.kind,
    grantId,
    jti: `${grantId}-jti`,
    issuedJkt: `hist-jkt-${t.identity}`,
    environment: 'prod',
    taskId: grantId,
    taskActions: [...t.scopes],
  };
  const out: DetectionEvent[] = t.scopes.map((action) => ({ ...common, kind: 'issue', at: t.at, allowed: true, action, resource: audience }));
  let at = t.at;
  for (const [action, type, id] of t.steps) {
    at += t.gap[0] + Math.floor(r() * (t.gap[1] - t.gap[0]));
    out.push({ ...common, kind: 'request', at, allowed: true, action, resource: resourceOf(type, id), presentedJkt: common.issuedJkt, sourceIp: t.ip });
  }
  return out;
}

/** The NAT-ed CI job's two egress addresses (scenarios.ts uses the same). */
export const NAT_ADDRESSES = ['198.51.100.20', '198.51.100.21'] as const;

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const wrap = (h: number) => ((h % 24) + 24) % 24;

/** The hours d ∈ [from, to] around `h`, wrapped. */
export function hoursAround(h: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let d = from; d <= to; d++) out.push(wrap(h + d));
  return out;
}

/** Epoch ms of `hour`:`minute` UTC on the day `daysAgo` days before `now`. */
function at(now: number, daysAgo: number, hour: number, minute: number): number {
  const day = Math.floor((now - daysAgo * DAY) / DAY) * DAY;
  return day + hour * HOUR + minute * MINUTE;
}

/** One history per identity that has one; attack identities without history stay immature on purpose. */
export function buildHistory(ctx: HistoryContext): DetectionEvent[] {
  const r = rng(ctx.seed);
  const H = new Date(ctx.now).getUTCHours();
  const all = hoursAround(H, 0, 23);
  const events: DetectionEvent[] = [];
  let n = 0;
  const add = (name: string, kind: IdentityKind, when: number, scopes: readonly string[], steps: Step[], ip: string, gap: [number, number]) => {
    events.push(...taskEvents({ identity: ctx.id(name), kind, at: when, scopes, steps, ip, gap, n: n++ }, r, ctx.audience));
  };

  for (let d = 10; d >= 1; d--) {
    // CI deploy job: three deploys a day within H-3..H+3, each a short burst: config, artifacts, deploy.
    for (let k = 0; k < 3; k++) {
      const build = `build-${d}-${k}`;
      const steps: Step[] = [];
      for (let i = 0; i < 5; i++) steps.push(['config:read', 'Config', 'acme-api']);
      for (let i = 0; i < 10; i++) steps.push(['artifacts:read', 'Artifact', build]);
      for (let i = 0; i < 15; i++) steps.push(['deploy:write', 'Deployment', 'acme-api-prod']);
      const hour = hoursAround(H, -3, 3)[int(r, 0, 6)]!;
      add('ci-deploy', 'ci_job', at(ctx.now, d, hour, int(r, 0, 50)), ['config:read', 'artifacts:read', 'deploy:write'], steps, `10.1.${int(r, 0, 255)}.${int(r, 1, 254)}`, [1000, 3000]);
    }
    // Scheduled batch export: once a day around H, 150 calls one to two seconds apart.
    {
      const steps: Step[] = [['orders:export', 'Export', `orders-day-${d}`]];
      for (let i = 0; i < 148; i++) steps.push(['orders:read', 'OrderPage', String(i % 120)]);
      steps.push(['bucket:write', 'Bucket', 'exports']);
      add('batch-export', 'service_account', at(ctx.now, d, hoursAround(H, -1, 1)[int(r, 0, 2)]!, int(r, 0, 55)), ['orders:export', 'orders:read', 'bucket:write'], steps, '10.4.0.21', [1000, 2000]);
    }
    // Long-running service: every hour, a token refresh and a few minutes of random-order traffic.
    for (const hour of all) {
      const steps: Step[] = [];
      for (let m = 0; m < 6; m++) {
        for (let c = int(r, 2, 5); c > 0; c--) {
          const p = r();
          steps.push(p < 0.7 ? ['orders:read', 'Order', String(int(r, 1, 1_000_000))] : p < 0.9 ? ['orders:write', 'Order', String(int(r, 1, 1_000_000))] : ['inventory:read', 'Sku', String(int(r, 1, 5000))]);
        }
      }
      add('orders-service', 'workload', at(ctx.now, d, hour, int(r, 0, 40)), ['orders:read', 'orders:write', 'inventory:read'], steps, '10.2.0.15', [2000, 20_000]);
    }
    // AI support agent: sessions within H-6..H+6, tools always in the same order.
    for (let s = 0; s < 15; s++) {
      const ticket = String(int(r, 1, 100_000));
      const steps: Step[] = [['tickets:read', 'Ticket', ticket]];
      for (let k = int(r, 1, 3); k > 0; k--) steps.push(['kb:search', 'Kb', 'articles']);
      steps.push(['crm:lookup', 'Customer', String(int(r, 1, 2000))], ['tickets:comment', 'Ticket', ticket]);
      add('support-agent', 'ai_agent', at(ctx.now, d, hoursAround(H, -6, 6)[int(r, 0, 12)]!, int(r, 0, 55)), ['tickets:read', 'kb:search', 'crm:lookup', 'tickets:comment'], steps, '10.3.0.7', [3000, 20_000]);
    }
    for (const hour of all) {
      // first_seen victim: reads its ten weekly reports, never the user directory.
      add('attack-first-seen', 'service_account', at(ctx.now, d, hour, int(r, 0, 50)), ['reports:read'], [0, 1, 2].map((): Step => ['reports:read', 'Report', `weekly-${int(r, 0, 9)}`]), '10.5.0.9', [1000, 5000]);
      // rate_spike victim: a few stock lookups in a few minutes of every hour, over 50 known SKUs.
      const steps: Step[] = [];
      for (let m = 0; m < 4; m++) for (let c = int(r, 2, 4); c > 0; c--) steps.push(['inventory:read', 'Sku', String(int(r, 1, 50))]);
      add('attack-rate-spike', 'workload', at(ctx.now, d, hour, int(r, 0, 40)), ['inventory:read'], steps, '10.6.0.3', [5000, 25_000]);
    }
    for (const hour of all) {
      // A CI job behind a NAT with two egress addresses; its tasks leave by either.
      add('nat-ci', 'ci_job', at(ctx.now, d, hour, int(r, 0, 50)), ['artifacts:read'], [0, 1, 2].map((): Step => ['artifacts:read', 'Artifact', 'build-cache']), NAT_ADDRESSES[int(r, 0, 1)]!, [1000, 5000]);
      // Six replicas on six node networks, one token each, refreshed hourly.
      for (let p = 0; p < 6; p++) add('expiry-replicas', 'workload', at(ctx.now, d, hour, int(r, 0, 50)), ['inventory:read'], [['inventory:read', 'Sku', String(int(r, 1, 20))]], `10.31.${p}.5`, [1000, 5000]);
      // Pods of a service on one node network (the copied-key victim).
      add('attack-copied-key', 'workload', at(ctx.now, d, hour, int(r, 0, 50)), ['orders:read'], [0, 1].map((): Step => ['orders:read', 'Order', String(int(r, 1, 50))]), `10.30.0.${10 + int(r, 0, 3)}`, [1000, 5000]);
    }
    // off_hours victim, and the job rescheduled into a new hour: every hour of the day except H-2..H+2.
    for (const hour of hoursAround(H, 3, 21)) {
      add('attack-off-hours', 'ci_job', at(ctx.now, d, hour, int(r, 0, 50)), ['config:read'], [0, 1, 2].map((): Step => ['config:read', 'Config', 'acme-api']), '10.7.0.4', [1000, 5000]);
      add('rescheduled-job', 'ci_job', at(ctx.now, d, hour, int(r, 0, 50)), ['config:read'], [0, 1, 2].map((): Step => ['config:read', 'Config', 'acme-web']), '10.13.0.4', [1000, 5000]);
    }
    for (const hour of all) {
      // drift victim: pods on one node network, a token each, every hour.
      add('attack-drift', 'workload', at(ctx.now, d, hour, int(r, 0, 50)), ['orders:read'], [0, 1, 2].map((): Step => ['orders:read', 'Order', String(int(r, 1, 1000))]), `10.20.1.${5 + int(r, 0, 2)}`, [1000, 5000]);
      // A Deployment with replicas on four node networks.
      for (let p = 0; p < 4; p++) add('node-replicas', 'workload', at(ctx.now, d, hour, int(r, 0, 50)), ['inventory:read'], [['inventory:read', 'Sku', String(int(r, 1, 20))]], `10.33.${p}.5`, [1000, 5000]);
      // A long-running service renewing hourly.
      add('renewing-service', 'workload', at(ctx.now, d, hour, int(r, 0, 50)), ['orders:read'], [0, 1].map((): Step => ['orders:read', 'Order', String(int(r, 1, 1000))]), '10.34.0.8', [1000, 5000]);
      // CI runs that get re-run now and then (the re-run victim).
      add('attack-rerun', 'ci_job', at(ctx.now, d, hour, int(r, 0, 50)), ['config:read'], [['config:read', 'Config', 'acme-api']], '10.35.0.6', [1000, 5000]);
    }
    // A nightly batch around H: 150 pages of that night's export (new page ids every night).
    {
      const steps: Step[] = [];
      for (let i = 0; i < 150; i++) steps.push(['orders:read', 'OrderPage', `night-${d}-${i}`]);
      add('nightly-batch', 'service_account', at(ctx.now, d, hoursAround(H, -1, 1)[int(r, 0, 2)]!, int(r, 0, 55)), ['orders:read'], steps, '10.36.0.3', [1000, 2000]);
    }
  }
  // A monthly reporter: one run around H on each of the last three months' report days.
  for (const d of [91, 61, 31]) {
    const steps: Step[] = [];
    for (let i = 0; i < 10; i++) steps.push(['reports:read', 'Report', `monthly-${i}`]);
    add('monthly-reporter', 'service_account', at(ctx.now, d, H, int(r, 0, 30)), ['reports:read'], steps, '10.14.0.2', [1000, 3000]);
  }
  // dormant victim: ten busy days that ended 40 days ago.
  for (let d = 50; d >= 41; d--) {
    for (const hour of all) add('attack-dormant', 'service_account', at(ctx.now, d, hour, int(r, 0, 50)), ['reports:read'], [['reports:read', 'Report', 'monthly'], ['reports:read', 'Report', 'monthly']], '10.8.0.2', [1000, 5000]);
  }
  return events.filter((e) => e.at < ctx.now - MINUTE).sort((a, b) => a.at - b.at);
}
