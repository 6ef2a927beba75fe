/**
 * Decisions per second with the audit anchors on (signed checkpoints at the defaults, every 10 000
 * events or 10 s, into a directory, plus one streaming sink: JSON Lines files, fsync'ed per batch)
 * beside the same broker with them off (no sink; checkpoint thresholds out of reach), on PostgreSQL
 * in the same run, rounds alternating so background load hits both alike; medians kept.
 * Each decision is audited (group commit) before it is answered. Target: on ≥ 95 % of off.
 *
 *   npm run bench -- anchors
 *   env: BENCH_SECONDS (per round, default 3), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 64)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Broker } from '../src/server/app.js';
import { fmtNum, openBenchStore, pgAvailable, printTable, runClosedLoop, type BenchStore } from './lib/index.js';
import { benchBroker, input } from './pdp-fixture.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const TARGET = 0.95;

type Mode = 'off' | 'on';

async function build(mode: Mode, dir: string): Promise<{ bs: BenchStore; broker: Broker }> {
  const bs = await openBenchStore('pg');
  const overrides =
    mode === 'on'
      ? { checkpointDir: join(dir, 'checkpoints'), auditSinks: [`jsonl:${join(dir, 'sink')}`] }
      : { checkpointEvery: Number.MAX_SAFE_INTEGER, checkpointInterval: 1e9 };
  return { bs, broker: await benchBroker(bs, ['ci/acme-api-deploy'], overrides) };
}

async function round(b: Broker): Promise<number> {
  let i = 0;
  const r = await runClosedLoop({ concurrency: CONCURRENCY, durationMs: SECONDS * 1000, op: () => b.pdp.pipeline.decide(input(i++)) });
  return r.opsPerSec;
}

if (!(await pgAvailable())) {
  console.log('PostgreSQL not reachable: skipped');
  process.exit(0);
}
const dir = mkdtempSync(join(tmpdir(), 'tether-anchors-bench-'));
const off = await build('off', dir);
const on = await build('on', dir);
try {
  for (const x of [off, on]) await round(x.broker); // warm-up: JIT, caches, pools
  const res: Record<Mode, number[]> = { off: [], on: [] };
  for (let k = 0; k < ROUNDS; k++) {
    res.off.push(await round(off.broker));
    res.on.push(await round(on.broker));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const sinks = await on.broker.app.inject({ method: 'GET', url: '/admin/v1/audit/sinks', headers: { authorization: 'Bearer bench-admin-token-0123456789abcdef' } });
  const cps = await on.bs.store.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_checkpoints');
  printTable(
    ['mode', 'decisions/s (median)', 'min', 'max'],
    (['off', 'on'] as const).map((m) => [m, fmtNum(med(res[m])), fmtNum(Math.min(...res[m])), fmtNum(Math.max(...res[m]))]),
  );
  const ratio = med(res.on) / med(res.off);
  console.log(`anchors on / off: ${(ratio * 100).toFixed(1)} % (target ≥ ${TARGET * 100} %); checkpoints signed: ${cps.rows[0]!.n}; sink: ${JSON.stringify(JSON.parse(sinks.body).sinks[0])}`);
} finally {
  for (const x of [off, on]) {
    await x.broker.close().catch(() => {});
    await x.bs.dispose();
  }
  rmSync(dir, { recursive: true, force: true });
}
