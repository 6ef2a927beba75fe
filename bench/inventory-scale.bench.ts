/**
 * Decision latency against inventory size: the same decisions with 1k and then 100k identities in the
 * inventory (inserted in one statement), in the same run. Flat is the target: a principal is one LRU
 * hit (identity-cache.ts), or one primary-key lookup on a miss, whatever the size. Two workloads:
 * "hot": 1k active identities make the requests (the usual shape: most of an inventory is idle);
 * "uniform": any identity in the inventory, so at 100k the 50k-entry cache misses about half the time
 * and each miss costs a query, which this bench shows rather than hides. Audit is stubbed so the
 * figure is the decision path itself (decision.bench.ts measures the audited path).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/inventory-scale.bench.js [pg|pglite] [N=10000]
 */
import type { StoreKind } from '../src/store/index.js';
import { fmtNum, nowMs, openBenchStore, pgAvailable, printTable, summarize } from './lib/index.js';
import { benchBroker, input, pipelineWithoutAudit } from './pdp-fixture.js';

const KIND: StoreKind = (process.argv.find((a) => a === 'pg' || a === 'pglite') as StoreKind | undefined) ?? ((await pgAvailable()) ? 'pg' : 'pglite');
const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10000);
const id = (i: number) => `bench/id-${i}`;

const bs = await openBenchStore(KIND);
const broker = await benchBroker(bs, []);
const pipeline = pipelineWithoutAudit(broker);

async function grow(to: number, from: number): Promise<number> {
  const t = nowMs();
  await bs.store.query(
    `INSERT INTO identities (id, kind, owner, environment, status, labels, created_at, updated_at)
     SELECT 'bench/id-' || g, 'ci_job', 'team-a', 'prod', 'active', '{"team":"finance","release":"yes"}', now(), now()
     FROM generate_series($1::int, $2::int) g`,
    [from, to - 1],
  );
  await bs.store.query('ANALYZE identities');
  return nowMs() - t;
}

let seed = 42;
const rand = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};

/** Three runs after a warm-up that has seen every hot identity once; the run with the median p50. */
async function measure(pool: number): Promise<{ p50: number; p99: number; mean: number; allowed: number }> {
  broker.pdp.identities.clear();
  for (let i = 0; i < Math.min(pool, 5000); i += 1) await pipeline.decide(input(i, id(i % pool)));
  const runs = [await once(pool), await once(pool), await once(pool)].sort((a, b) => a.p50 - b.p50);
  return runs[1]!;
}

async function once(pool: number): Promise<{ p50: number; p99: number; mean: number; allowed: number }> {
  const lat: number[] = [];
  let allowed = 0;
  for (let i = 0; i < N; i += 1) {
    const t = nowMs();
    const out = await pipeline.decide(input(i, id(rand(pool))));
    lat.push((nowMs() - t) * 1000);
    if (out.decision) allowed += 1;
  }
  const s = summarize(lat);
  return { p50: s.p50, p99: s.p99, mean: s.mean, allowed };
}

const rows: (string | number)[][] = [];
const t1 = await grow(1000, 0);
const hot1 = await measure(1000);
const uni1 = await measure(1000);
const t2 = await grow(100000, 1000);
const hot2 = await measure(1000);
const uni2 = await measure(100000);
for (const [name, r] of [
  ['1k identities, hot 1k', hot1],
  ['100k identities, hot 1k', hot2],
  ['1k identities, uniform', uni1],
  ['100k identities, uniform', uni2],
] as const) {
  rows.push([name, fmtNum(r.mean, 1), fmtNum(r.p50, 1), fmtNum(r.p99, 1), fmtNum((r.allowed / N) * 100, 0)]);
}
console.log(`\nDecision latency vs inventory size (${KIND}, 3 × ${N} decisions per row, median run, audit stubbed; inserts: 1k in ${fmtNum(t1)} ms, +99k in ${fmtNum(t2)} ms):`);
printTable(['inventory, requesters', 'mean µs', 'p50 µs', 'p99 µs', 'allowed %'], rows);
console.log(`hot set, 100k vs 1k: p50 ${fmtNum(((hot2.p50 - hot1.p50) / hot1.p50) * 100, 1)} %, p99 ${fmtNum(((hot2.p99 - hot1.p99) / hot1.p99) * 100, 1)} %`);
await broker.close();
await bs.dispose();
