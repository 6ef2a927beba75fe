/**
 * Soak: a real `tether serve` process under mixed traffic for a long time, its RSS and V8 heap
 * sampled every 10 s from its own /metrics, printed with the slope (least squares, MiB/min) after a
 * warm-up. A broker that keeps state for outside input without bound shows a positive slope; the
 * traffic therefore includes AuthZEN decisions about made-up subjects, fresh DPoP keys (proof ids)
 * and admin writes, beside ordinary token exchanges and decisions. Baseline in the same run: the
 * first minute after warm-up (the slope must stay near 0 past it, i.e. memory plateaus).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/soak.bench.js [minutes=30] [pg|pglite] [workers=8]
 *
 * SOAK_HEAP_SNAPSHOTS=<dir> writes a heap snapshot of the broker into <dir> at the end of the
 * warm-up and again at the end (compare them in DevTools, "objects allocated between"); it pauses
 * the broker for a few seconds each, so slopes from such a run are not the figure to report.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDpopKey, exchangeForToken } from '../test/helpers/dpop.js';
import { spawnServe } from '../test/helpers/process.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../test/helpers/workload-issuer.js';
import { createPgDatabase, printTable } from './lib/index.js';

const MINUTES = Number(process.argv[2] ?? 30);
const STORE = (process.argv[3] ?? 'pg') as 'pg' | 'pglite';
const WORKERS = Number(process.argv[4] ?? 8);
const SAMPLE_MS = 10_000;
const WARMUP_MS = Math.min(120_000, (MINUTES * 60_000) / 5);
const ADMIN = 'soak-admin-token-0123456789abcdef';

const SNAPSHOTS = process.env['SOAK_HEAP_SNAPSHOTS'];

const db = STORE === 'pg' ? await createPgDatabase() : null;
const serve = await spawnServe([...(db ? ['--database-url', db.url] : []), '--data-dir', mkdtempSync(join(tmpdir(), 'tether-soak-'))], {
  TETHER_ADMIN_TOKEN: ADMIN,
  TETHER_MASTER_KEY: randomBytes(32).toString('base64url'),
  ...(SNAPSHOTS ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOTS}` } : {}),
});
/** Asks the broker for a heap snapshot and waits until it is written (the broker is paused meanwhile). */
async function snapshot(): Promise<void> {
  if (!SNAPSHOTS) return;
  const before = new Set(readdirSync(SNAPSHOTS));
  serve.proc.kill('SIGUSR2');
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const fresh = readdirSync(SNAPSHOTS).filter((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    // The file is complete once the broker answers again.
    if (fresh.length > 0 && (await fetch(`${url}/healthz`).then((r) => r.ok, () => false))) {
      console.log(`heap snapshot: ${join(SNAPSHOTS, fresh[0]!)}`);
      return;
    }
  }
}
const url = serve.url;
const issuer = await createWorkloadIssuer();
const authz = 'permit (principal == Identity::"ci/acme/api", action == Action::"orders:read", resource is Order);';
const applied = await fetch(`${url}/admin/v1/apply`, {
  method: 'POST',
  headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
  body: JSON.stringify({ identities: EXCHANGE_IDENTITIES, issuers: [issuer.config()], policies: { ...EXCHANGE_POLICIES, 'authzen.cedar': authz } }),
});
if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${await applied.text()}`);

const counts = new Map<string, number>();
const count = (k: string) => counts.set(k, (counts.get(k) ?? 0) + 1);
let stop = false;
let n = 0;
const json = (body: unknown, admin = false) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(admin ? { authorization: `Bearer ${ADMIN}` } : {}) },
  body: JSON.stringify(body),
});

async function one(): Promise<void> {
  const i = n++;
  const k = i % 10;
  let status = 0;
  let kind: string;
  try {
    if (k < 4) {
      kind = 'authzen known';
      status = (await fetch(`${url}/access/v1/evaluation`, json({ subject: { type: 'Identity', id: 'ci/acme/api' }, action: { name: 'orders:read' }, resource: { type: 'Order', id: String(i) } }))).status;
    } else if (k < 6) {
      kind = 'authzen unknown subject';
      status = (await fetch(`${url}/access/v1/evaluation`, json({ subject: { type: 'Identity', id: `made-up/${randomBytes(8).toString('hex')}` }, action: { name: 'orders:read' }, resource: { type: 'Order', id: '1' } }))).status;
    } else if (k < 9) {
      kind = 'token exchange';
      status = (await exchangeForToken({ endpointBase: url, key: await createDpopKey(), subjectToken: await issuer.token(), scope: 'orders:read', audience: ORDERS_AUD })).status;
    } else {
      kind = 'admin write';
      status = (await fetch(`${url}/admin/v1/identities`, json({ id: `soak/${i}`, kind: 'service_account', owner: 'team-soak' }, true))).status;
    }
  } catch {
    kind = 'network error';
  }
  count(`${kind} ${status}`);
}

interface Sample {
  t: number;
  rss: number;
  heap: number;
}
const samples: Sample[] = [];
const MiB = 1024 * 1024;
async function sample(t0: number): Promise<void> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name} ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? NaN);
  const s = { t: (performance.now() - t0) / 60_000, rss: metric('tether_process_resident_memory_bytes') / MiB, heap: metric('tether_nodejs_heap_size_used_bytes') / MiB };
  samples.push(s);
  const done = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`t=${(s.t * 60).toFixed(0).padStart(5)} s  rss=${s.rss.toFixed(1)} MiB  heap=${s.heap.toFixed(1)} MiB  requests=${done}`);
}

/** Least-squares slope of y over t (minutes). */
function slope(xs: Sample[], y: (s: Sample) => number): number {
  const m = xs.length;
  if (m < 2) return NaN;
  const mt = xs.reduce((a, s) => a + s.t, 0) / m;
  const my = xs.reduce((a, s) => a + y(s), 0) / m;
  const num = xs.reduce((a, s) => a + (s.t - mt) * (y(s) - my), 0);
  const den = xs.reduce((a, s) => a + (s.t - mt) ** 2, 0);
  return num / den;
}

const t0 = performance.now();
const workers = Array.from({ length: WORKERS }, async () => {
  while (!stop) await one();
});
await sample(t0);
const timer = setInterval(() => void sample(t0).catch(() => {}), SAMPLE_MS);
if (SNAPSHOTS) {
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  await snapshot();
  await new Promise((r) => setTimeout(r, Math.max(0, MINUTES * 60_000 - (performance.now() - t0))));
} else {
  await new Promise((r) => setTimeout(r, MINUTES * 60_000));
}
clearInterval(timer);
await sample(t0);
await snapshot();
stop = true;
await Promise.all(workers);
const exitCode = serve.proc.exitCode;
await serve.stop();
await db?.drop();

const after = samples.filter((s) => s.t * 60_000 >= WARMUP_MS);
const firstMinute = after.filter((s) => s.t * 60_000 < WARMUP_MS + 60_000);
const last = samples[samples.length - 1]!;
console.log(`\nsoak on ${STORE}: ${MINUTES} min, ${WORKERS} workers; broker ${exitCode === null ? 'stayed up' : `EXITED ${exitCode}`}`);
console.log([...counts].sort().map(([k, v]) => `  ${k}: ${v}`).join('\n'));
printTable(
  ['window', 'rss slope MiB/min', 'heap slope MiB/min', 'rss end MiB', 'heap end MiB'],
  [
    [`after ${Math.round(WARMUP_MS / 1000)} s warm-up (ours)`, slope(after, (s) => s.rss).toFixed(2), slope(after, (s) => s.heap).toFixed(2), last.rss.toFixed(1), last.heap.toFixed(1)],
    ['first minute after warm-up (baseline)', slope(firstMinute, (s) => s.rss).toFixed(2), slope(firstMinute, (s) => s.heap).toFixed(2), '', ''],
  ],
);
// GC runs lazily, so samples form a sawtooth a slope over few minutes exaggerates: the troughs per
// window (memory right after a collection) show whether the floor rises, i.e. whether it plateaus.
const WINDOW_MIN = MINUTES >= 15 ? 5 : 1;
const windows: string[][] = [];
for (let w = 0; w < MINUTES; w += WINDOW_MIN) {
  const xs = samples.filter((s) => s.t >= w && s.t < w + WINDOW_MIN);
  if (xs.length === 0) continue;
  const stat = (y: (s: Sample) => number) => {
    const v = xs.map(y);
    return `${Math.min(...v).toFixed(0)} / ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(0)} / ${Math.max(...v).toFixed(0)}`;
  };
  windows.push([`${w}–${w + WINDOW_MIN} min`, stat((s) => s.rss), stat((s) => s.heap)]);
}
printTable(['window', 'rss min / mean / max MiB', 'heap min / mean / max MiB'], windows);
