/**
 * Does detection slow the request path? Decisions per second through the real pipeline
 * (`pdp.pipeline.decide`: caches, Cedar on 20 policies, durable group-committed audit record) on two
 * in-process brokers built the same way on their own store, one with detection on and one with it
 * off (TETHER_DETECTION=false), in the same run, rounds interleaved so drift hits both alike.
 *
 * "On" rounds are timed until the detector has judged every decision of the round (service.idle()),
 * so the detector's own CPU (it shares the event loop) is inside the figure, not deferred past it.
 * 100 identities, immature baselines (their first week: the rules run, those that compare with a
 * mature baseline return early; a mature baseline would make the bench's synthetic rates a spike).
 *
 *   npx tsc -p tsconfig.json && node --no-turbo-inline-js-wasm-calls dist/bench/detection-overhead.bench.js [seconds-per-round] [pglite|pg]
 * (the flag as in scripts/run-bench.mjs: Node 20 can abort inlining JS→Wasm calls under load).
 */
import { Writable } from 'node:stream';
import { loadConfig } from '../src/config/index.js';
import { buildApp, type Broker } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import type { StoreKind } from '../src/store/index.js';
import { fmtNum, openBenchStore, pgAvailable, printTable, runClosedLoop, summarize, type BenchStore } from './lib/index.js';
import { ADMIN, benchEntities, identityDecl, input, POLICIES } from './pdp-fixture.js';

const SECONDS = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 2);
const KIND = (process.argv.find((a) => a === 'pg' || a === 'pglite') ?? 'pglite') as StoreKind;
const ROUNDS = 7;
const CONCURRENCY = 64;
const IDENTITIES = Array.from({ length: 100 }, (_, i) => `ci/bench-${i}`);

async function broker(bs: BenchStore, detection: boolean): Promise<Broker> {
  const config = loadConfig(
    { port: 0, logLevel: 'error', detection, dataDir: bs.kind === 'pglite' ? bs.where : '/nonexistent', ...(bs.kind === 'pg' ? { databaseUrl: 'postgres://unused/x' } : {}) },
    {},
  );
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const b = await buildApp({ config, store: bs.store, logger: createLogger('error', sink), adminToken: ADMIN });
  const r = await b.app.inject({
    method: 'POST',
    url: '/admin/v1/apply',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    payload: { identities: IDENTITIES.map(identityDecl), policies: POLICIES, entities: benchEntities(IDENTITIES) },
  });
  if (r.statusCode !== 200) throw new Error(`apply: ${r.statusCode} ${r.body}`);
  await b.pdp.policies.refresh();
  await b.pdp.entities.refresh();
  return b;
}

async function round(b: Broker, ms: number): Promise<{ opsPerSec: number; p50: number; p99: number }> {
  const t0 = performance.now();
  const r = await runClosedLoop({
    concurrency: CONCURRENCY,
    durationMs: ms,
    op: (i) => b.pdp.pipeline.decide(input(i, IDENTITIES[i % IDENTITIES.length])),
  });
  await b.detection.idle(); // an "on" round ends when every decision was judged
  const secs = (performance.now() - t0) / 1000;
  return { opsPerSec: r.ops / secs, p50: r.latency.p50, p99: r.latency.p99 };
}

async function main() {
  if (KIND === 'pg' && !(await pgAvailable())) throw new Error('PostgreSQL is not reachable');
  const stores = [await openBenchStore(KIND), await openBenchStore(KIND)];
  const on = await broker(stores[0]!, true);
  const off = await broker(stores[1]!, false);
  await on.detection.idle(); // learned the (empty) audited history
  for (const b of [on, off]) await round(b, 1000); // warm-up: JIT, caches, Cedar

  const rows: Record<'on' | 'off', Array<{ opsPerSec: number; p50: number; p99: number }>> = { on: [], off: [] };
  for (let i = 0; i < ROUNDS; i++) {
    const order: Array<['on' | 'off', Broker]> = i % 2 ? [['off', off], ['on', on]] : [['on', on], ['off', off]];
    for (const [name, b] of order) rows[name].push(await round(b, SECONDS * 1000));
  }
  const med = (xs: number[]) => summarize(xs).p50;
  const figures = (name: 'on' | 'off') => ({ ops: med(rows[name].map((r) => r.opsPerSec)), p50: med(rows[name].map((r) => r.p50)), p99: med(rows[name].map((r) => r.p99)) });
  const fOn = figures('on');
  const fOff = figures('off');
  const st = on.detection.status();
  console.log(`# detection overhead: ${KIND}, ${ROUNDS} interleaved rounds of ${SECONDS}s, ${CONCURRENCY} concurrent callers, ${IDENTITIES.length} identities (medians of rounds)`);
  printTable(
    ['detection', 'decisions/s', 'p50 ms', 'p99 ms', 'per-round decisions/s'],
    [
      ['off', fmtNum(fOff.ops), fOff.p50.toFixed(2), fOff.p99.toFixed(2), rows.off.map((r) => fmtNum(r.opsPerSec)).join(' ')],
      ['on', fmtNum(fOn.ops), fOn.p50.toFixed(2), fOn.p99.toFixed(2), rows.on.map((r) => fmtNum(r.opsPerSec)).join(' ')],
    ],
  );
  console.log(`# on vs off: ${(((fOn.ops - fOff.ops) / fOff.ops) * 100).toFixed(1)} % decisions/s; detector judged ${st.observed} events, raised ${st.findings_raised} findings, dropped ${st.dropped}`);
  // The detector's own cost, alone: allowed decision events straight into the service, timed to idle.
  const N = 200_000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r)); // producers are async in the broker too
    on.detection.observeDecision({
      at: new Date(),
      input: { entry: 'ext-authz', principal: { type: 'Identity', id: `ci/micro-${i % 1000}` }, action: { name: 'orders:read' }, resource: { type: 'Order', id: String(i % 5000) }, request: { method: 'GET', path: `/orders/${i % 5000}`, source_ip: '10.0.0.1' } },
      output: { decision: true, stage: 'policy', obligations: { approval: false, breakGlass: false, bearer: false }, heldForApproval: false, reasons: { policies: ['p01'], errors: [] }, auditSeq: i, policyVersion: 1 },
      own: { risk: 0, now: { epoch: 0, hour: 0, weekday: 0 }, environment: 'prod' },
      identity: null,
    });
  }
  await on.detection.idle();
  const perSec = N / ((performance.now() - t0) / 1000);
  console.log(`# detector alone: ${fmtNum(perSec)} decision events/s on one thread (${((1e6 / perSec)).toFixed(2)} µs each, mapping + queue + rules + learning)`);
  const byRule = await on.store.query<{ rule: string; n: number | string }>('SELECT rule, count(*) AS n FROM findings GROUP BY rule ORDER BY rule');
  console.log(`# findings by rule (the fixture's traffic includes deny bursts): ${byRule.rows.map((r) => `${r.rule} ${r.n}`).join(', ') || 'none'}`);
  await on.close();
  await off.close();
  for (const s of stores) await s.dispose();
}

await main();
