/** Shared bench helpers: import from '../bench/lib/index.js' (or './lib/index.js' inside bench/). */
export { nowMs, percentile, summarize, runClosedLoop } from './timing.js';
export type { Summary, ClosedLoopOptions, ClosedLoopResult } from './timing.js';
export { fmtNum, formatTable, printTable } from './table.js';
export type { Cell } from './table.js';
export { PG_ADMIN_URL, pgAvailable, createPgDatabase, pgSettings, openBenchStore } from './stores.js';
export type { BenchStore } from './stores.js';
