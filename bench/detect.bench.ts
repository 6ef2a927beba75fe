/**
 * Cost of detection per event: observe() on 200k events against mature baselines, beside a
 * baseline loop that builds the very same events and does nothing with them, in one run. The
 * difference is what the detector adds to whatever feeds it.
 *
 *   npx tsc -p tsconfig.json --outDir .build-detect && node .build-detect/bench/detect.bench.js
 */
import { createDetector, type DetectionEvent } from '../src/detect/index.js';

const N = 200_000;
const IDENTITIES = 50;
const ROUNDS = 5;
const T0 = Date.UTC(2024, 0, 1);
const ACTIONS = ['orders:read', 'orders:write', 'inventory:read', 'kb:search'];
const TASK_ACTIONS = ACTIONS.slice(0, 3);

/**
 * Event i of a stream spread over `spanMs` from `start`: 50 identities, a handful of actions, half
 * the identities on high-cardinality resources, grants and tokens rotating like the broker's. Built
 * by one function so every event has the same shape, as the broker's emitter would make them.
 */
function makeEvent(i: number, start: number, spanMs: number, out: { x: number }): DetectionEvent {
  const id = i % IDENTITIES;
  const at = start + Math.floor((i / N) * spanMs);
  const hourSlot = Math.floor(at / 3_600_000);
  const e: DetectionEvent = {
    kind: i % 200 === 0 ? 'issue' : 'request',
    at,
    identity: `svc/bench-${id}`,
    identityKind: id % 5 === 0 ? 'ai_agent' : 'workload',
    allowed: i % 211 !== 0,
    action: ACTIONS[(i >>> 3) & 3]!,
    resource: id % 2 === 0 ? `Order::${(i * 7919) % 1_000_003}` : `Sku::${i & 63}`,
    grantId: `g-${id}-${hourSlot}`,
    jti: `j-${id}-${Math.floor(at / 600_000)}`,
    issuedJkt: `k-${id}-${hourSlot}`,
    presentedJkt: `k-${id}-${hourSlot}`,
    sourceIp: `10.0.${id}.7`,
    environment: 'prod',
    taskId: undefined,
    taskEnded: undefined,
    taskActions: TASK_ACTIONS,
    reason: undefined,
  };
  out.x ^= e.at; // keep the construction observable so it is not optimised away
  return e;
}

function run(label: string, body: (e: DetectionEvent) => void, start: number, spanMs: number): number {
  const sink = { x: 0 };
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) body(makeEvent(i, start, spanMs, sink));
  const ns = Number(process.hrtime.bigint() - t);
  if (sink.x === 42) console.log(label); // never true in practice; defeats dead-code elimination
  return ns / N / 1000;
}

const DAY = 86_400_000;
const det = createDetector({ clock: () => new Date() });
// Learning: 8 days of the same traffic (not timed), so rules compare against mature baselines.
const warm = { x: 0 };
for (let i = 0; i < N; i++) det.observe(makeEvent(i, T0, 8 * DAY, warm));

const empty: number[] = [];
const observed: number[] = [];
const byRule = new Map<string, number>();
let findings = 0;
const count = (e: DetectionEvent): void => {
  for (const f of det.observe(e)) {
    findings += 1;
    byRule.set(f.rule, (byRule.get(f.rule) ?? 0) + 1);
  }
};
for (let r = 0; r < ROUNDS; r++) {
  // Each round is one more day of the same traffic (the warm-up's density, so it stays benign).
  const start = T0 + (8 + r) * DAY;
  empty.push(run('empty', () => {}, start, DAY));
  observed.push(run('observe', count, start, DAY));
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number): string => x.toFixed(3).padStart(7);
console.log(`detect.bench: ${N} events x ${ROUNDS} rounds, ${IDENTITIES} identities, node ${process.version}`);
console.log(`  baseline (build event only) µs/event  median ${fmt(median(empty))}  runs ${empty.map(fmt).join(' ')}`);
console.log(`  observe()                   µs/event  median ${fmt(median(observed))}  runs ${observed.map(fmt).join(' ')}`);
console.log(`  detection cost              µs/event  ${fmt(median(observed) - median(empty))}  (target < 20)`);
console.log(`  findings during timed rounds: ${findings} ${JSON.stringify(Object.fromEntries(byRule))}; heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
