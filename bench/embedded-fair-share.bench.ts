/**
 * Embedded store (PGlite) fair share: how long an admin write takes while decisions keep the one
 * connection busy (test/helpers/embedded-contention.ts: W loops appending batches of audited decisions
 * and reading identities, one operator creating identities). Baseline in the same run: `fifo`
 * (statements in arrival order as PGlite alone serves them, group commits up to 2,000 events);
 * ours: `fair` (pglite-store.ts: alternating lanes, group commits of at most 256).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/embedded-fair-share.bench.js [seconds=20] [workers=16] [batch=50]
 */
import { embeddedContention } from '../test/helpers/embedded-contention.js';
import { fmtNum, printTable, summarize } from './lib/index.js';

const SECONDS = Number(process.argv[2] ?? 20);
const WORKERS = Number(process.argv[3] ?? 16);
const BATCH = Number(process.argv[4] ?? 50);

const rows = [];
for (const scheduling of ['fifo', 'fair'] as const) {
  const r = await embeddedContention({ scheduling, seconds: SECONDS, workers: WORKERS, batch: BATCH });
  const s = summarize(r.admin);
  rows.push([
    scheduling === 'fifo' ? 'arrival order (baseline)' : 'fair share (ours)',
    s.count,
    fmtNum(s.p50),
    fmtNum(s.p99),
    fmtNum(s.max),
    r.admin.filter((x) => x > 1000).length,
    fmtNum(r.decisionsPerSecond),
  ]);
}
console.log(`\nembedded store: admin identity writes during ${SECONDS} s of decision load (${WORKERS} loops, ${BATCH} audited decisions each per round)`);
printTable(['scheduler', 'admin writes', 'p50 ms', 'p99 ms', 'max ms', '> 1 s', 'decisions/s'], rows);
