// Runs compiled benches one after another (never in parallel: they would measure each other).
// `node scripts/run-bench.mjs` runs every dist/bench/*.bench.js; `... audit policy` only those whose
// file name contains one of the words. `--dir <path>` picks another build (e.g. .build-bench/bench).
// Exits non-zero if any bench did.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
let dir = 'dist/bench';
const filter = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--dir') dir = args[++i] ?? dir;
  else filter.push(args[i]);
}
if (!existsSync(dir)) {
  console.error(`${dir} does not exist: build first (npm run build)`);
  process.exit(1);
}
const files = readdirSync(dir)
  .filter((n) => n.endsWith('.bench.js') && (filter.length === 0 || filter.some((f) => n.includes(f))))
  .sort();
if (files.length === 0) {
  console.error(`no bench in ${dir} matches ${filter.length ? filter.join(', ') : '*.bench.js'}`);
  process.exit(1);
}
const failed = [];
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const t = Date.now();
  const r = spawnSync(process.execPath, ['--no-turbo-inline-js-wasm-calls', join(dir, f)], { stdio: 'inherit' });
  const status = r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
  console.log(`=== ${f}: ${status}, ${((Date.now() - t) / 1000).toFixed(1)} s ===`);
  if (r.status !== 0) failed.push(f);
}
if (failed.length) {
  console.error(`failed: ${failed.join(', ')}`);
  process.exit(1);
}
