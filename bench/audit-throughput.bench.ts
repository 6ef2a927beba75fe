/**
 * Durable audit events per second: group commit (createAuditWriter, C producers each awaiting
 * append() in a loop) beside its baseline, one transaction per event (appendBatch of one event in
 * store.tx, from the same C producers), on PGlite and PostgreSQL in the same run (STYLE.md 9).
 * "Durable" means append() resolved after COMMIT returned; on PostgreSQL with fsync and
 * synchronous_commit on (printed, never changed here), on PGlite without fsync (DESIGN.md).
 * Ends by verifying each store's chain. Issue target: group commit ≥ 25× on PostgreSQL.
 *
 *   npm run bench -- audit
 *   node dist/bench/audit-throughput.bench.js [pglite|pg ...]
 *   env: BENCH_SECONDS (per round, default 1), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 1,16,128,512)
 */
import { availableParallelism, loadavg } from 'node:os';
import { appendBatch } from '../src/audit/append.js';
import { createAuditWriter, verifyChain, type AuditInput } from '../src/audit/index.js';
import type { StoreKind } from '../src/store/index.js';
import { canonicalJson } from '../src/audit/canonical-json.js';
import { fmtNum, nowMs, openBenchStore, pgAvailable, pgSettings, printTable, runClosedLoop, type BenchStore, type ClosedLoopResult } from './lib/index.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
/** Rounds per case, alternating the two modes, so background load hits both alike; the median is kept. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_MS = 300;
/** Caps a round on a fast store so verifying the chain at the end stays within the time budget. */
const MAX_OPS = 100_000;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,128,512').split(',').map(Number);
const TARGET = 25;

const ACTIONS = ['orders:read', 'orders:write', 'invoices:read', 'deploy', 'secrets:read', 'logs:read'];

/** A decision event as the PDP writes one: ~300 bytes of data, varied so no two are identical. */
function decisionEvent(i: number): AuditInput {
  const id = i % 97;
  return {
    type: 'decision',
    actor: `ci/acme-api-deploy-${id}`,
    identity: `ci/acme-api-deploy-${id}`,
    data: {
      entry: 'authzen',
      phase: 'request',
      decision: i % 13 === 0 ? 'deny' : 'allow',
      action: ACTIONS[i % ACTIONS.length],
      resource: { type: 'Order', id: String((i * 7919) % 1_000_003) },
      policies: i % 13 === 0 ? ['g1'] : ['p01', 'p04'],
      reasons: i % 13 === 0 ? ['risk above 90'] : [],
      risk: (i * 7) % 100,
      request_id: `req-${i.toString(36).padStart(8, '0')}-${(i * 2654435761 >>> 0).toString(16)}`,
      jkt: `0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4${String(id).padStart(2, '0')}`,
      source_ip: `10.0.${id}.7`,
      eval_us: 110 + (i % 90),
    },
  };
}

type Mode = 'group commit' | 'one tx/event';

interface Round {
  r: ClosedLoopResult;
  commits: number;
  /** Commits that carried a single event (each costs a full fsync). */
  singles: number;
  /** Total time inside commits (BEGIN … COMMIT, as the writer measures it), s; group commit only. */
  commitSeconds: number;
  /** CPU time of this process (user + system) per event, µs: for PGlite that includes the database. */
  cpuUs: number;
}

interface Row {
  store: StoreKind;
  mode: Mode;
  c: number;
  /** The median round by events/s. */
  med: Round;
  /** Slowest and fastest round, events/s. */
  min: number;
  max: number;
}

const cpuPer = (since: NodeJS.CpuUsage, n: number): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / n;
};

/** A case: set up once, warm up, then `round()` measures one round. */
interface Case {
  round(ms: number): Promise<Round>;
}

function groupCommitCase(b: BenchStore, c: number, next: () => number): Case {
  let commits = 0;
  let singles = 0;
  let commitSeconds = 0;
  const w = createAuditWriter(b.store, {
    onCommit(n, s) {
      commits += 1;
      if (n === 1) singles += 1;
      commitSeconds += s;
    },
  });
  const op = () => w.append(decisionEvent(next()));
  return {
    async round(ms) {
      await w.flush();
      commits = singles = commitSeconds = 0;
      const cpu = process.cpuUsage();
      const r = await runClosedLoop({ concurrency: c, durationMs: ms, maxOps: MAX_OPS, op });
      await w.flush();
      return { r, commits, singles, commitSeconds, cpuUs: cpuPer(cpu, r.ops) };
    },
  };
}

function oneTxPerEventCase(b: BenchStore, c: number, next: () => number): Case {
  const op = () => b.store.tx((q) => appendBatch(q, [decisionEvent(next())], new Date()));
  return {
    async round(ms) {
      const cpu = process.cpuUsage();
      const r = await runClosedLoop({ concurrency: c, durationMs: ms, maxOps: MAX_OPS, op });
      return { r, commits: r.ops, singles: r.ops, commitSeconds: Number.NaN, cpuUs: cpuPer(cpu, r.ops) };
    },
  };
}

async function runCase(b: BenchStore, c: number, next: () => number): Promise<Row[]> {
  const cases: Array<[Mode, Case]> = [
    ['one tx/event', oneTxPerEventCase(b, c, next)],
    ['group commit', groupCommitCase(b, c, next)],
  ];
  const rounds = new Map<Mode, Round[]>(cases.map(([m]) => [m, []]));
  // Warm-up: connections, JIT, and the writer's first batches, not measured.
  for (const [, k] of cases) await k.round(WARMUP_MS);
  for (let i = 0; i < ROUNDS; i++) for (const [m, k] of cases) rounds.get(m)!.push(await k.round(SECONDS * 1000));
  return cases.map(([mode]) => {
    const rs = [...rounds.get(mode)!].sort((x, y) => x.r.opsPerSec - y.r.opsPerSec);
    return { store: b.kind, mode, c, med: rs[Math.floor(rs.length / 2)]!, min: rs[0]!.r.opsPerSec, max: rs[rs.length - 1]!.r.opsPerSec };
  });
}

async function benchStore(kind: StoreKind): Promise<{ rows: Row[]; intact: boolean }> {
  const b = await openBenchStore(kind);
  try {
    if (kind === 'pg') {
      const s = await pgSettings(['server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay', 'full_page_writes'], b.store);
      console.log(`pg: database ${b.where}; ${Object.entries(s).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      if (s.fsync !== 'on' || s.synchronous_commit === 'off') console.log('pg: WARNING: commits are not durable on this server; the figures overstate.');
    } else {
      console.log(`pglite: data dir ${b.where} (PGlite does not fsync: durable against a killed process, not a power loss)`);
    }
    let seq = 0;
    const next = () => seq++;
    const rows: Row[] = [];
    for (const c of CONCURRENCY) {
      for (const row of await runCase(b, c, next)) {
        rows.push(row);
        console.log(`  ${kind} ${row.mode.padEnd(12)} C=${String(c).padStart(3)}  ${fmtNum(row.med.r.opsPerSec).padStart(8)} events/s  (rounds ${fmtNum(row.min)}–${fmtNum(row.max)})`);
      }
    }
    const t = nowMs();
    const v = await verifyChain(b.store);
    const ms = nowMs() - t;
    const intact = v.ok && v.events === seq;
    console.log(
      intact
        ? `${kind}: chain intact: ${fmtNum(v.events)} events verified from genesis in ${fmtNum(ms / 1000, 1)} s, head seq ${v.head.seq}`
        : `${kind}: CHAIN NOT INTACT: ${JSON.stringify(v.broken ?? { events: v.events, expected: seq })}`,
    );
    return { rows, intact };
  } finally {
    await b.dispose();
  }
}

const wanted = process.argv.slice(2).filter((a): a is StoreKind => a === 'pg' || a === 'pglite');
let kinds: StoreKind[] = wanted.length ? wanted : ['pglite', 'pg'];
if (kinds.includes('pg') && !(await pgAvailable())) {
  console.log('pg: no PostgreSQL server reachable (TETHER_BENCH_PG_URL); skipping it');
  kinds = kinds.filter((k) => k !== 'pg');
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(
  `audit throughput: decision events with ${canonicalJson(decisionEvent(0).data).length} bytes of data; per case ${ROUNDS} rounds of ${SECONDS} s ` +
    `(cap ${fmtNum(MAX_OPS)} events) alternating the modes, median kept, after ${WARMUP_MS} ms warm-up; C = ${CONCURRENCY.join(', ')}; ` +
    `node ${process.version}, ${availableParallelism()} CPUs, load ${load()}`,
);
const all: Row[] = [];
let ok = true;
for (const k of kinds) {
  const { rows, intact } = await benchStore(k);
  all.push(...rows);
  ok &&= intact;
}

console.log(`\nload average now ${load()} (other work on the machine skews the figures; see the round spread above)\n`);
const order = (r: Row) => kinds.indexOf(r.store) * 10_000 + (r.mode === 'group commit' ? 5000 : 0) + r.c;
printTable(
  ['store', 'mode', 'concurrency', 'events/s', 'p50 ms', 'p99 ms', 'events/commit', '1-event commits', 'commit ms', 'cpu µs/event'],
  [...all].sort((a, b) => order(a) - order(b)).map((x) => [
    x.store,
    x.mode,
    x.c,
    x.med.r.opsPerSec,
    fmtNum(x.med.r.latency.p50, 2),
    fmtNum(x.med.r.latency.p99, 2),
    fmtNum(x.med.r.ops / x.med.commits, 1),
    `${fmtNum((x.med.singles / x.med.commits) * 100)}%`,
    fmtNum((x.med.commitSeconds / x.med.commits) * 1000, 2),
    fmtNum(x.med.cpuUs, 1),
  ]),
);

console.log('');
for (const k of kinds) {
  const rows = all.filter((x) => x.store === k);
  const base = rows.filter((x) => x.mode === 'one tx/event');
  const group = rows.filter((x) => x.mode === 'group commit');
  if (!base.length || !group.length) continue;
  const eps = (x: Row) => x.med.r.opsPerSec;
  const best = (xs: Row[]) => xs.reduce((a, b) => (eps(b) > eps(a) ? b : a));
  const sameC = group.map((g) => `C=${g.c} ${fmtNum(eps(g) / eps(base.find((x) => x.c === g.c)!), 1)}×`).join(', ');
  const bg = best(group);
  const bb = best(base);
  const seq1 = base.find((x) => x.c === 1) ?? bb;
  const headline = eps(bg) / eps(bb);
  const top = Math.max(...CONCURRENCY);
  const gTop = group.find((x) => x.c === top)!;
  const atTop = eps(gTop) / eps(base.find((x) => x.c === top)!);
  console.log(`${k}: group commit over one tx/event at the same concurrency: ${sameC}`);
  console.log(
    `${k}: best group commit (C=${bg.c}, ${fmtNum(eps(bg))}/s) over best one tx/event (C=${bb.c}, ${fmtNum(eps(bb))}/s): ${fmtNum(headline, 1)}×; ` +
      `over sequential one tx/event (C=1): ${fmtNum(eps(bg) / eps(seq1), 1)}×`,
  );
  if (k === 'pg') {
    const v = (x: number) => `${fmtNum(x, 1)}× ${x >= TARGET ? 'met' : 'NOT met'}`;
    console.log(`pg: target ≥ ${TARGET}×: best vs best ${v(headline)}; at C=${top} vs one tx/event at C=${top} ${v(atTop)}`);
  }
}
if (!ok) process.exitCode = 1;
