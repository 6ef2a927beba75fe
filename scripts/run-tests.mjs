// Runs every compiled test file with Node's test runner. Node 20 has no glob support in
// `node --test`, so we list the files ourselves. The runner's closing lines give pass/fail counts.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const filter = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (filter.length === 0 || filter.some((f) => p.includes(f)))) files.push(p);
  }
})(root);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
// The same V8 flag as src/cli/main.ts (Node 20 can abort inlining JS→Wasm calls under load).
const r = spawnSync(process.execPath, ['--no-turbo-inline-js-wasm-calls', '--test', '--test-concurrency=2', '--test-timeout=300000', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
