/**
 * Posture at scale: 10k identities and 1M audited decisions (plus 50k issuances) on PostgreSQL,
 * then analyzePosture over a 30-day window. Beside it, in the same run, the baseline: the bare
 * streamed read of the same log (iterateAuditEvents from the window's first seq, nothing folded), which is the floor any
 * analysis that reads every event must pay. Peak RSS is sampled during each run, and the analysis
 * runs twice, at 250k and at 1M events: streaming shows as a peak that does not grow with the log.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/posture.bench.js
 *   (POSTURE_EVENTS=200000 for a quicker run)
 */
import { appendBatch } from '../src/audit/append.js';
import type { AuditInput } from '../src/audit/index.js';
import { iterateAuditEvents } from '../src/audit/index.js';
import { analyzePosture } from '../src/posture/analyze.js';
import type { Store } from '../src/store/index.js';
import { fmtNum, nowMs, openBenchStore, pgAvailable, printTable } from './lib/index.js';

const IDENTITIES = 10_000;
const EVENTS = Number(process.env.POSTURE_EVENTS ?? 1_000_000);
const BATCH = 10_000;
const TEAMS = 100;
const DAY = 86_400_000;
const NOW = new Date('2026-03-01T12:00:00Z');
const ACTIONS = ['orders:read', 'orders:write', 'orders:refund', 'inventory:read', 'inventory:write', 'kb:search', 'kb:write', 'reports:read'];
const AUDS = ['https://orders.example', 'https://inventory.example', 'https://kb.example'];

const idOf = (i: number) => `svc/bench-${String(i).padStart(5, '0')}`;

async function seedInventory(store: Store): Promise<void> {
  // One statement: 10k identities, 1 in 20 unowned, 1 in 10 overdue, 1 in 7 never used (see events).
  await store.query(
    `INSERT INTO identities (id, kind, owner, environment, review_by, status, labels, created_at, updated_at)
     SELECT 'svc/bench-' || lpad(i::text, 5, '0'), 'workload',
            CASE WHEN i % 20 = 0 THEN NULL ELSE 'team-' || (i % $1) END, 'prod',
            CASE WHEN i % 10 = 0 THEN $2::timestamptz - interval '5 days' ELSE $2::timestamptz + interval '200 days' END,
            CASE WHEN i % 20 = 0 THEN 'unowned' ELSE 'active' END,
            jsonb_build_object('team', 'team-' || (i % $1)),
            $2::timestamptz - interval '90 days', $2::timestamptz - interval '90 days'
       FROM generate_series(0, $3 - 1) AS i`,
    [TEAMS, NOW.toISOString(), IDENTITIES],
  );
  // 20 policies: per team group (label conditions), so identities fall into classes, plus named ones.
  const files: Record<string, string> = {};
  for (let p = 0; p < 16; p++) {
    const acts = ACTIONS.filter((_, k) => (k + p) % 3 !== 0).map((a) => `Action::"${a}"`).join(', ');
    files[`team-${p}.cedar`] = `@id("team-group-${p}")\npermit (principal, action in [${acts}], resource)\nwhen { principal.labels.team like "team-*${p % 10}" };\n`;
  }
  for (let p = 0; p < 4; p++) files[`named-${p}.cedar`] = `@id("named-${p}")\npermit (principal == Identity::"${idOf(p * 7 + 1)}", action, resource);\n`;
  await store.query(`INSERT INTO policy_sets (version, files, source_hash, created_at) VALUES (1, $1, 'bench', $2)`, [JSON.stringify(files), NOW.toISOString()]);
  await store.query('INSERT INTO policy_active (id, version) VALUES (1, 1)');
}

/** Event k: a decision by a used identity (6 in 7 are used), every 20th an issuance. */
function event(k: number): AuditInput {
  let i = (k * 7919) % IDENTITIES;
  if (i % 7 === 0) i = (i + 1) % IDENTITIES;
  const id = idOf(i);
  const action = ACTIONS[(k + i) % 3]!;
  if (k % 20 === 0) {
    const iat = Math.floor(NOW.getTime() / 1000) - 86_400;
    const ttl = k % 1000 === 0 ? 7200 : 300;
    return { type: 'token.issued', actor: id, identity: id, data: { jti: `j${k}`, grant: `g${i}`, aud: AUDS[i % 3]!, scope: [action], jkt: 'k', iat, exp: iat + ttl, ttl, issuer: 'bench', client_id: id, bearer: false } };
  }
  return {
    type: 'decision',
    actor: 'ext-authz',
    identity: id,
    data: { entry: 'ext-authz', phase: 'request', decision: k % 50 === 0 ? 'deny' : 'allow', action, resource: { type: 'Order', id: String(k % 5000) }, policies: ['team-group-1'], errors: [], reason: 'bench', jti: `j${k - (k % 20)}`, grant: `g${i}`, risk: 0 },
  };
}

async function seedEvents(store: Store, from: number, to: number): Promise<number> {
  const t0 = nowMs();
  for (let k = from; k < to; k += BATCH) {
    const inputs = Array.from({ length: Math.min(BATCH, to - k) }, (_, j) => event(k + j));
    // Spread over the last 29 days, oldest first, as the log would be.
    const ts = new Date(NOW.getTime() - 29 * DAY + Math.floor((k / EVENTS) * 28 * DAY));
    await store.tx((q) => appendBatch(q, inputs, ts));
  }
  return (nowMs() - t0) / 1000;
}

/** Runs fn while sampling RSS every 20 ms; returns its result, seconds and the peak RSS in MiB. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; peakMiB: number; baseMiB: number }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = nowMs();
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, seconds: (nowMs() - t0) / 1000, peakMiB: peak / 2 ** 20, baseMiB: base / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

async function main(): Promise<void> {
  if (!(await pgAvailable())) {
    console.log('PostgreSQL not reachable at 127.0.0.1:5432: skipping the posture bench');
    return;
  }
  const bench = await openBenchStore('pg');
  try {
    const { store } = bench;
    await seedInventory(store);
    const rows: Array<Array<string | number>> = [];
    let seeded = 0;
    for (const upTo of [Math.floor(EVENTS / 4), EVENTS]) {
      const secs = await seedEvents(store, seeded, upTo);
      console.log(`seeded ${fmtNum(upTo - seeded)} events in ${secs.toFixed(1)} s (${fmtNum((upTo - seeded) / secs)}/s)`);
      seeded = upTo;
      // Settle the fresh rows (hint bits, visibility map) so neither run pays for the bulk insert's aftermath.
      await store.query('VACUUM ANALYZE audit_events');

      const scan = await measured(async () => {
        let n = 0;
        const first = await store.query<{ seq: string }>('SELECT min(seq) AS seq FROM audit_events WHERE ts >= $1', [new Date(NOW.getTime() - 30 * DAY).toISOString()]);
        for await (const _ of iterateAuditEvents(store, { after: Number(first.rows[0]!.seq) - 1 }, 10_000)) n++;
        return n;
      });
      rows.push([`baseline: bare streamed read`, fmtNum(seeded), scan.value, scan.seconds.toFixed(2), '-', scan.baseMiB.toFixed(0), scan.peakMiB.toFixed(0), (scan.peakMiB - scan.baseMiB).toFixed(0)]);

      const run = await measured(() => analyzePosture(store, { now: NOW }));
      const r = run.value;
      const kinds = new Map<string, number>();
      for (const f of r.findings) kinds.set(String(f.kind), (kinds.get(String(f.kind)) ?? 0) + 1);
      rows.push([`analyzePosture (P30D)`, fmtNum(seeded), r.metrics.decisions + r.metrics.issuances, run.seconds.toFixed(2), fmtNum(r.findings.length), run.baseMiB.toFixed(0), run.peakMiB.toFixed(0), (run.peakMiB - run.baseMiB).toFixed(0)]);
      console.log(`  findings by kind at ${fmtNum(seeded)}: ${[...kinds].map(([k, n]) => `${k} ${fmtNum(n)}`).join(', ')}`);
      console.log(`  metrics: ${JSON.stringify(r.metrics)}`);
    }
    printTable(['run', 'events in log', 'events folded', 'seconds', 'findings', 'RSS before MiB', 'peak RSS MiB', 'RSS growth MiB'], rows);
  } finally {
    await bench.dispose();
  }
}

await main();
