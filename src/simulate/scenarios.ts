/**
 * Live traffic: four benign workloads doing their usual work, and one labelled attack per rule, each
 * on its own identity. Everything goes through the real broker: token exchanges at the token
 * endpoint, and gateway checks at /ext-authz with a fresh DPoP proof per call.
 *
 * An attack's driver returns when its first malicious act happened (`t0`, the clock the report's
 * times start from) and the token a revoking response should kill.
 */
import type { RuleId } from '../detect/index.js';
import { NAT_ADDRESSES } from './history.js';
import { createDpopKey, type Workload } from './workload.js';

export interface LiveContext {
  workload(name: string): Promise<Workload>;
  /** Another instance of the identity (a replica, a shard): its own DPoP key, never cached. */
  replica(name: string): Promise<Workload>;
  /** An operator revokes one token (admin API, by `jti`). */
  revokeToken(token: string, reason: string): Promise<void>;
  /** A short random suffix, so two runs against one broker never share resources or tasks. */
  run: string;
  /** Instances of the cluster the simulator drives (1, or 2 with a peer URL). */
  instances: number;
}

export interface LiveOutcome {
  /** performance.now() just before the first malicious act (attacks only). */
  t0?: number;
  /** The token a revoking response should make inactive (absent when it was dead before the attack). */
  token?: string;
  /** Status codes seen that the scenario did not expect (reported, never fatal). */
  surprises: string[];
  /** The attack got data (a 2xx) with the credential: its containment is timed. */
  obtainedData?: boolean;
  /** Run once the finding and containment were timed: what the victim can still do (surprises). */
  after?: () => Promise<string[]>;
}

export interface Scenario {
  name: string;
  kind: 'benign' | 'attack';
  /** The rule an attack must raise (null for benign traffic: it must raise nothing). */
  rule: RuleId | null;
  /**
   * Benign look-alikes only: baseline rules that alert on it by design (one weak signal), with no
   * response beyond the alert. Reported as false positives all the same.
   */
  alerts?: readonly RuleId[];
  identity: string;
  drive(ctx: LiveContext): Promise<LiveOutcome>;
}

const expect = (surprises: string[], what: string, got: number, want: number) => {
  if (got !== want) surprises.push(`${what}: ${got} (expected ${want})`);
};

/** Calls in order, or `width` at a time (the rate-spike scraper is in a hurry). */
async function calls(w: Workload, token: string, list: Array<[string, string]>, ip: string, surprises: string[], want = 200, width = 1): Promise<void> {
  for (let i = 0; i < list.length; i += width) {
    await Promise.all(
      list.slice(i, i + width).map(async ([method, path]) => expect(surprises, `${method} ${path}`, await w.call(token, method, path, ip), want)),
    );
  }
}

/**
 * An attacker's calls: answered `want` (200: data) until containment kills the credential, then 401,
 * and the attacker stops (a `want` after a 401, or any other status, is a surprise). Returns how
 * many calls got `want`. The report times the death from the first act, after this returns: an
 * upper bound.
 */
async function untilCut(w: Workload, token: string, list: Array<[string, string]>, ip: string, surprises: string[], width = 1, want = 200): Promise<number> {
  let got = 0;
  let cut = false;
  for (let i = 0; i < list.length; i += width) {
    // Calls in flight together may straddle the revocation; a batch sent after a 401 may not.
    const before = cut;
    const statuses = await Promise.all(list.slice(i, i + width).map(([method, path]) => w.call(token, method, path, ip)));
    statuses.forEach((status, k) => {
      const [method, path] = list[i + k]!;
      if (status === want && !before) got += 1;
      else if (status === 401) cut = true;
      else surprises.push(`${method} ${path}: ${status} (expected ${before ? 401 : `${want} until contained, then 401`})`);
    });
    if (cut) break;
  }
  return got;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'ci-deploy',
    kind: 'benign',
    rule: null,
    identity: 'ci-deploy',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('ci-deploy');
      const t = await w.mustExchange(['config:read', 'artifacts:read', 'deploy:write'], `deploy ${run}`);
      const list: Array<[string, string]> = [];
      for (let i = 0; i < 4; i++) list.push(['GET', '/config/acme-api']);
      for (let i = 0; i < 6; i++) list.push(['GET', `/artifacts/build-live-${run}`]);
      for (let i = 0; i < 8; i++) list.push(['POST', '/deployments/acme-api-prod']);
      await calls(w, t, list, '10.1.77.12', s);
      await w.revoke(t); // task done
      return { surprises: s };
    },
  },
  {
    name: 'batch-export',
    kind: 'benign',
    rule: null,
    identity: 'batch-export',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('batch-export');
      const t = await w.mustExchange(['orders:export', 'orders:read', 'bucket:write'], `export ${run}`);
      const list: Array<[string, string]> = [['POST', `/exports/orders-live-${run}`]];
      for (let i = 0; i < 18; i++) list.push(['GET', `/pages/${i}`]);
      list.push(['PUT', '/buckets/exports']);
      await calls(w, t, list, '10.4.0.21', s);
      await w.revoke(t);
      return { surprises: s };
    },
  },
  {
    name: 'orders-service',
    kind: 'benign',
    rule: null,
    identity: 'orders-service',
    async drive({ workload }) {
      const s: string[] = [];
      const w = await workload('orders-service');
      const t = await w.mustExchange(['orders:read', 'orders:write', 'inventory:read'], 'serve orders');
      const list: Array<[string, string]> = [];
      for (let i = 0; i < 16; i++) {
        const id = 1 + Math.floor(Math.random() * 1_000_000);
        list.push(i % 5 === 4 ? ['PUT', `/orders/${id}`] : i % 7 === 6 ? ['GET', `/skus/${1 + (id % 5000)}`] : ['GET', `/orders/${id}`]);
      }
      await calls(w, t, list, '10.2.0.15', s);
      return { surprises: s };
    },
  },
  {
    name: 'support-agent',
    kind: 'benign',
    rule: null,
    identity: 'support-agent',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('support-agent');
      for (let session = 0; session < 3; session++) {
        const ticket = `${run}-${session}`;
        const t = await w.mustExchange(['tickets:read', 'kb:search', 'crm:lookup', 'tickets:comment'], `ticket ${ticket}`);
        await calls(
          w,
          t,
          [
            ['GET', `/tickets/${ticket}`],
            ['GET', '/kb/articles'],
            ['GET', '/kb/articles'],
            ['GET', `/customers/${100 + session}`],
            ['POST', `/tickets/${ticket}/comments`],
          ],
          '10.3.0.7',
          s,
        );
        await w.revoke(t);
      }
      return { surprises: s };
    },
  },
  {
    // A Deployment: 6 replicas (own keys) on 6 different /24s, then a rolling restart in which the old
    // pods revoke their own token at shutdown (RFC 7009) while the others keep serving.
    name: 'deployment-rollout',
    kind: 'benign',
    rule: null,
    identity: 'deployment',
    async drive({ replica }) {
      const s: string[] = [];
      const scopes = ['orders:read', 'inventory:read'];
      const pods = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
        const w = await replica('deployment');
        return { w, t: await w.mustExchange(scopes, 'serve orders'), ip: `10.${20 + i}.${i}.5` };
      }));
      for (const p of pods) await calls(p.w, p.t, [['GET', `/orders/${Math.floor(Math.random() * 1e6)}`], ['GET', '/skus/7']], p.ip, s);
      for (const p of pods.slice(0, 3)) await p.w.revoke(p.t);
      const fresh = await Promise.all(Array.from({ length: 3 }, async (_, i) => {
        const w = await replica('deployment');
        return { w, t: await w.mustExchange(scopes, 'serve orders'), ip: `10.${40 + i}.0.9` };
      }));
      for (const p of [...pods.slice(3), ...fresh]) await calls(p.w, p.t, [['GET', `/orders/${Math.floor(Math.random() * 1e6)}`], ['GET', '/skus/8']], p.ip, s);
      return { surprises: s };
    },
  },
  {
    // A CI matrix of 8 shards; an operator revokes one shard's token (leaked in a log): the other
    // seven keep working and re-exchange.
    name: 'ci-matrix-revoke',
    kind: 'benign',
    rule: null,
    identity: 'ci-matrix',
    async drive({ replica, revokeToken, run }) {
      const s: string[] = [];
      const shards = await Promise.all(Array.from({ length: 8 }, async () => {
        const w = await replica('ci-matrix');
        return { w, t: await w.mustExchange(['artifacts:read'], `matrix ${run}`) };
      }));
      for (const sh of shards) await calls(sh.w, sh.t, [['GET', `/artifacts/build-${run}`]], '10.9.0.3', s);
      await revokeToken(shards[0]!.t, 'leaked in a log');
      for (const sh of shards.slice(1)) {
        await calls(sh.w, sh.t, [['GET', `/artifacts/build-${run}`]], '10.9.0.3', s);
        const again = await sh.w.exchange(['artifacts:read'], `matrix ${run}`);
        expect(s, 'shard re-exchange', again.status, 200);
      }
      return { surprises: s };
    },
  },
  {
    // Same token, another DPoP key (a stolen token without its key): refused, and its grant revoked.
    name: 'replay',
    kind: 'attack',
    rule: 'replay',
    identity: 'attack-replay',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-replay');
      const t = await w.mustExchange(['orders:read'], `sync ${run}`);
      await calls(w, t, [['GET', '/orders/1'], ['GET', '/orders/2']], '10.9.0.5', s);
      const thief = await createDpopKey();
      const t0 = performance.now();
      expect(s, 'replayed token', await w.call(t, 'GET', '/orders/3', '10.9.0.5', thief), 401);
      return { t0, token: t, surprises: s };
    },
  },
  {
    // A burst of denied reads over resources the client may not touch.
    name: 'enumeration',
    kind: 'attack',
    rule: 'enumeration',
    identity: 'attack-enumeration',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-enumeration');
      const t = await w.mustExchange(['vault:read'], `read public ${run}`);
      await calls(w, t, [['GET', '/vault/public']], '10.10.0.8', s);
      const t0 = performance.now();
      const probes: Array<[string, string]> = [];
      for (let i = 0; i < 12; i++) probes.push(['GET', `/vault/key-${i}`]);
      // Refused by policy (403) until the burst, made by this one token, contains it (401).
      await untilCut(w, t, probes, '10.10.0.8', s, 1, 403);
      return { t0, token: t, surprises: s };
    },
  },
  {
    // An action the identity never used, outside its task (its token's scopes).
    name: 'first-seen',
    kind: 'attack',
    rule: 'first_seen',
    identity: 'attack-first-seen',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-first-seen');
      const t = await w.mustExchange(['reports:read'], `weekly reports ${run}`);
      await calls(w, t, [['GET', '/reports/weekly-3'], ['GET', '/reports/weekly-4']], '10.5.0.9', s);
      const t0 = performance.now();
      await calls(w, t, [['GET', '/users/export']], '10.5.0.9', s, 403);
      return { t0, token: t, surprises: s };
    },
  },
  {
    // The job's credentials in someone else's hands: its usual work, at an hour the job never runs,
    // from the attacker's own network (which it cannot avoid unless it sits on the job's runner).
    // Two signals on one token: contained. The same hour from the job's own network only alerts
    // (see rescheduled-job).
    name: 'off-hours',
    kind: 'attack',
    rule: 'off_hours',
    identity: 'attack-off-hours',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-off-hours');
      const t0 = performance.now();
      const t = await w.mustExchange(['config:read'], `job ${run}`);
      const got = await untilCut(w, t, [['GET', '/config/acme-api'], ['GET', '/config/acme-api']], '203.0.113.40', s);
      return { t0, token: t, surprises: s, obtainedData: got > 0 };
    },
  },
  {
    // A stock reader doing a few calls a minute: its token (stolen on its own host, used from its own
    // network) suddenly scrapes 120, eight at a time, far beyond the busiest minute the identity
    // ever had with all its tokens together: that token is contained.
    name: 'rate-spike',
    kind: 'attack',
    rule: 'rate_spike',
    identity: 'attack-rate-spike',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-rate-spike');
      const t = await w.mustExchange(['inventory:read'], `stock ${run}`);
      const t0 = performance.now();
      const list: Array<[string, string]> = [];
      for (let i = 0; i < 120; i++) list.push(['GET', `/skus/${1 + (i % 50)}`]);
      const got = await untilCut(w, t, list, '10.6.0.3', s, 8);
      return { t0, token: t, surprises: s, obtainedData: got > 0 };
    },
  },
  {
    // The workload revoked its token (RFC 7009: task done); someone still uses it.
    name: 'after-task',
    kind: 'attack',
    rule: 'after_task',
    identity: 'attack-after-task',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-after-task');
      const t = await w.mustExchange(['config:read'], `build ${run}`);
      await calls(w, t, [['GET', '/config/acme-api']], '10.11.0.6', s);
      await w.revoke(t);
      const t0 = performance.now();
      await calls(w, t, [['GET', '/config/acme-api']], '10.11.0.6', s, 401);
      // No token to time: its holder revoked it before the attack (the response revokes the grant again).
      return { t0, surprises: s };
    },
  },
  {
    // A forgotten identity (busy, then silent for 40 days) woken by whoever found its credentials,
    // from their own network: contained. Woken by its own workload on its own network it only alerts;
    // woken on its own monthly schedule it raises nothing (see monthly-reporter).
    name: 'dormant',
    kind: 'attack',
    rule: 'dormant',
    identity: 'attack-dormant',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-dormant');
      const t0 = performance.now();
      const t = await w.mustExchange(['reports:read'], `monthly ${run}`);
      const got = await untilCut(w, t, [['GET', '/reports/monthly'], ['GET', '/reports/monthly']], '203.0.113.77', s);
      return { t0, token: t, surprises: s, obtainedData: got > 0 };
    },
  },
  {
    // Read a secret, change a role, call an external host: escalation then exfiltration.
    name: 'escalation',
    kind: 'attack',
    rule: 'escalation',
    identity: 'attack-escalation',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-escalation');
      const t = await w.mustExchange(['secrets:read', 'iam:write', 'egress:post'], `maintenance ${run}`);
      const t0 = performance.now();
      await calls(w, t, [['GET', '/secrets/db-password'], ['PUT', '/iam/roles/admin'], ['POST', '/egress/paste.example.net']], '10.12.0.9', s);
      return { t0, token: t, surprises: s, obtainedData: true };
    },
  },
  {
    // Mid-task, the pod's token (and key) starts arriving from a network the Deployment never used:
    // a pod keeps its address for life, a copy elsewhere does not. Contained.
    name: 'drift',
    kind: 'attack',
    rule: 'drift',
    identity: 'attack-drift',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('attack-drift');
      const t = await w.mustExchange(['orders:read'], `sync ${run}`);
      await calls(w, t, [['GET', '/orders/10'], ['GET', '/orders/11'], ['GET', '/orders/12']], '10.20.1.5', s);
      const t0 = performance.now();
      const got = await untilCut(w, t, [['GET', '/orders/13'], ['GET', '/orders/14']], '198.51.100.7', s);
      return { t0, token: t, surprises: s, obtainedData: got > 0 };
    },
  },
  {
    // A CI job behind a NAT with two egress addresses, its calls spread over both instances.
    name: 'nat-ci-cluster',
    kind: 'benign',
    rule: null,
    identity: 'nat-ci',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('nat-ci');
      const t = await w.mustExchange(['artifacts:read'], `build ${run}`, 0);
      for (let i = 0; i < 12; i++) expect(s, `call ${i}`, await w.call(t, 'GET', '/artifacts/build-cache', NAT_ADDRESSES[(i >> 1) % 2]!, w.key, i % 2), 200);
      const again = await w.mustExchange(['artifacts:read'], `build ${run} step 2`, 1);
      for (let i = 0; i < 4; i++) expect(s, `step 2 call ${i}`, await w.call(again, 'GET', '/artifacts/build-cache', NAT_ADDRESSES[i % 2]!, w.key, i % 2), 200);
      await w.revoke(again);
      return { surprises: s };
    },
  },
  {
    // Six replicas on six networks; their tokens expire together and they all refresh at once
    // (spread over the instances), and one retries a call 19 times on a flaky network.
    name: 'expiry-retry',
    kind: 'benign',
    rule: null,
    identity: 'expiry-replicas',
    async drive({ replica }) {
      const s: string[] = [];
      const pods = await Promise.all(Array.from({ length: 6 }, async (_, p) => ({ w: await replica('expiry-replicas'), ip: `10.31.${p}.5`, p })));
      for (const round of [0, 1]) {
        const tokens = await Promise.all(pods.map((x) => x.w.mustExchange(['inventory:read'], 'serve stock', x.p + round)));
        await Promise.all(pods.map(async (x, i) => expect(s, `replica ${x.p} round ${round}`, await x.w.call(tokens[i]!, 'GET', `/skus/${1 + x.p}`, x.ip, x.w.key, x.p + round), 200)));
        if (round === 1) for (let k = 0; k < 19; k++) expect(s, `retry ${k}`, await pods[0]!.w.call(tokens[0]!, 'GET', '/skus/1', pods[0]!.ip, pods[0]!.w.key, k), 200);
      }
      return { surprises: s };
    },
  },
  {
    // The token string leaked (a log line); someone presents it with their own key. The token dies,
    // and the identity is not locked out: it exchanges and works again at once.
    name: 'leaked-token',
    kind: 'attack',
    rule: 'replay',
    identity: 'attack-leaked-token',
    async drive({ workload, run, instances }) {
      const s: string[] = [];
      const w = await workload('attack-leaked-token');
      const t = await w.mustExchange(['orders:read'], `sync ${run}`);
      await calls(w, t, [['GET', '/orders/1']], '10.32.0.5', s);
      const thief = await createDpopKey();
      const t0 = performance.now();
      expect(s, 'leaked token, other key', await w.call(t, 'GET', '/orders/2', '203.0.113.9', thief, instances - 1), 401);
      const after = async () => {
        const out: string[] = [];
        const fresh = await w.exchange(['orders:read'], `sync ${run} again`, 0);
        expect(out, 'victim re-exchange after the leak', fresh.status, 200);
        if (fresh.token) expect(out, 'victim works after the leak', await w.call(fresh.token, 'GET', '/orders/3', '10.32.0.5'), 200);
        return out;
      };
      return { t0, token: t, surprises: s, after };
    },
  },
  {
    // The token and its DPoP key were copied off a pod; the copy is used on the other instance from
    // an address in the pod's own /24, while the pod keeps working.
    name: 'copied-key',
    kind: 'attack',
    rule: 'replay',
    identity: 'attack-copied-key',
    async drive({ workload, run, instances }) {
      const s: string[] = [];
      const w = await workload('attack-copied-key');
      const t = await w.mustExchange(['orders:read'], `serve ${run}`, 0);
      await calls(w, t, [['GET', '/orders/4'], ['GET', '/orders/5']], '10.30.0.11', s);
      await new Promise((r) => setTimeout(r, 150)); // the holder's use has reached every instance
      const t0 = performance.now();
      expect(s, 'copied token and key', await w.call(t, 'GET', '/orders/6', '10.30.0.99', w.key, instances - 1), 200);
      const after = async () => {
        const out: string[] = [];
        const fresh = await w.exchange(['orders:read'], `serve ${run} again`, 0);
        expect(out, 'victim re-exchange after the copy', fresh.status, 200);
        return out;
      };
      return { t0, token: t, surprises: s, obtainedData: true, after };
    },
  },
  {
    // Benign look-alike of off-hours: the job moved to an hour it never ran, working from its own
    // network. One weak signal: an alert (bounded risk), nothing contained.
    name: 'rescheduled-job',
    kind: 'benign',
    rule: null,
    alerts: ['off_hours'],
    identity: 'rescheduled-job',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('rescheduled-job');
      const t = await w.mustExchange(['config:read'], `job ${run}`);
      await calls(w, t, [['GET', '/config/acme-web'], ['GET', '/config/acme-web'], ['GET', '/config/acme-web']], '10.13.0.4', s);
      await w.revoke(t);
      return { surprises: s };
    },
  },
  {
    // Benign look-alike of a copied token on a new network: a Deployment on four node networks gains
    // a replica on a fifth; its exchange came by the shared path (as through a load balancer).
    name: 'new-node-replica',
    kind: 'benign',
    rule: null,
    identity: 'node-replicas',
    async drive({ replica }) {
      const s: string[] = [];
      const pods = await Promise.all(['10.33.0.5', '10.33.1.5', '10.33.9.5'].map(async (ip) => {
        const w = await replica('node-replicas');
        return { w, ip, t: await w.mustExchange(['inventory:read'], 'serve stock') };
      }));
      for (const p of pods) await calls(p.w, p.t, [['GET', '/skus/3'], ['GET', '/skus/4'], ['GET', '/skus/5']], p.ip, s);
      return { surprises: s };
    },
  },
  {
    // Benign look-alike of a rate spike: tonight's export is 20 % larger (180 pages instead of 150),
    // read by one token as fast as the broker answers.
    name: 'nightly-batch-more',
    kind: 'benign',
    rule: null,
    identity: 'nightly-batch',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('nightly-batch');
      const t = await w.mustExchange(['orders:read'], `export ${run}`);
      const list: Array<[string, string]> = [];
      for (let i = 0; i < 180; i++) list.push(['GET', `/pages/night-live-${run}-${i}`]);
      await calls(w, t, list, '10.36.0.3', s);
      await w.revoke(t);
      return { surprises: s };
    },
  },
  {
    // Benign look-alike of dormant: a reporter that runs once a month wakes on schedule (31 days after
    // its last run, like the months before) from its usual network.
    name: 'monthly-reporter',
    kind: 'benign',
    rule: null,
    identity: 'monthly-reporter',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('monthly-reporter');
      const t = await w.mustExchange(['reports:read'], `monthly ${run}`);
      await calls(w, t, [['GET', '/reports/monthly-0'], ['GET', '/reports/monthly-1'], ['GET', '/reports/monthly-2']], '10.14.0.2', s);
      await w.revoke(t);
      return { surprises: s };
    },
  },
  {
    // A long-running service (its subject tokens name a run and attempt that never change) renews its
    // token and keeps using the old one for a moment while the new one rolls in.
    name: 'renewing-service',
    kind: 'benign',
    rule: null,
    identity: 'renewing-service',
    async drive({ workload, run }) {
      const s: string[] = [];
      const w = await workload('renewing-service');
      const claims = { run_id: `svc-${run}`, run_attempt: '1' };
      const old = await w.mustExchange(['orders:read'], 'serve orders', 0, claims);
      await calls(w, old, [['GET', '/orders/21'], ['GET', '/orders/22']], '10.34.0.8', s);
      const renewed = await w.mustExchange(['orders:read'], 'serve orders', 1, claims);
      await calls(w, old, [['GET', '/orders/23']], '10.34.0.8', s);
      await calls(w, renewed, [['GET', '/orders/24'], ['GET', '/orders/25']], '10.34.0.8', s);
      return { surprises: s };
    },
  },
  {
    // A CI run's first attempt ends without revoking its token; the run is re-run (attempt 2, a new
    // subject token naming the same run_id). The first attempt's token, lifted from its runner or
    // logs, is used again while still valid: its task is over, so it is contained.
    name: 'after-rerun',
    kind: 'attack',
    rule: 'after_task',
    identity: 'attack-rerun',
    async drive({ workload, replica, run }) {
      const s: string[] = [];
      const first = await workload('attack-rerun');
      const t = await first.mustExchange(['config:read'], `build ${run}`, 0, { run_id: `ci-${run}`, run_attempt: '1' });
      await calls(first, t, [['GET', '/config/acme-api']], '10.35.0.6', s);
      const second = await replica('attack-rerun');
      const t2 = await second.mustExchange(['config:read'], `build ${run}`, 1, { run_id: `ci-${run}`, run_attempt: '2' });
      await calls(second, t2, [['GET', '/config/acme-api']], '10.35.0.7', s);
      await new Promise((r) => setTimeout(r, 150)); // the re-run's exchange has reached every instance
      const t0 = performance.now();
      const got = await untilCut(first, t, [['GET', '/config/acme-api'], ['GET', '/config/acme-api']], '10.35.0.6', s);
      const after = async () => {
        const out: string[] = [];
        expect(out, 'the re-run keeps working', await second.call(t2, 'GET', '/config/acme-api', '10.35.0.7'), 200);
        return out;
      };
      return { t0, token: t, surprises: s, obtainedData: got > 0, after };
    },
  },
];
