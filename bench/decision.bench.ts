/**
 * In-process decision latency: Tether's `decide()` (input checks, caches, inventory principal, own
 * context, scope bound, partitioned Cedar, audit record) beside a bare preparsed
 * `statefulIsAuthorized` on the same 20 policies and the very request `decide()` builds (same
 * entities, same context), in the same run (STYLE.md 9). Target: ≤ 15 % overhead without audit.
 * Then with the audit record awaited (durable group commit): one caller at a time (latency = one
 * commit) and 64 callers (group commit shares fsyncs).
 *
 *   npx tsc -p tsconfig.json && node dist/bench/decision.bench.js [N] [pglite|pg ...]
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { buildRequest, checkInput, principalIdentity } from '../src/pdp/build-request.js';
import { createDecisionPipeline } from '../src/pdp/decide.js';
import { ownContextOf } from '../src/pdp/own-context.js';
import type { StoreKind } from '../src/store/index.js';
import { fmtNum, nowMs, openBenchStore, pgAvailable, printTable, runClosedLoop, summarize } from './lib/index.js';
import { ACTIONS, benchBroker, input, POLICIES } from './pdp-fixture.js';

const N = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 20000);
const KINDS = process.argv.filter((a): a is StoreKind => a === 'pg' || a === 'pglite');
const ROUNDS = 10;

async function main() {
  const kinds: StoreKind[] = KINDS.length ? KINDS : ['pglite', ...((await pgAvailable()) ? (['pg'] as const) : [])];
  const first = await openBenchStore(kinds[0]!);
  const broker = await benchBroker(first);
  const pdp = broker.pdp;
  const noAudit = createDecisionPipeline({
    policies: pdp.policies,
    entities: pdp.entities,
    identities: pdp.identities,
    audit: { append: async () => ({ seq: 0, ts: '', type: 'decision', actor: null, identity: null, data: {}, prev_hash: '', hash: '' }) },
    logger: console as never,
    clock: () => new Date(),
  });

  // The baseline's requests: exactly what decide() hands Cedar, built once, outside the timing.
  const setId = 'bench/raw';
  const pre = cedar.preparsePolicySet(setId, { staticPolicies: splitById(POLICIES['bench.cedar']!) });
  if (pre.type !== 'success') throw new Error(JSON.stringify(pre));
  const raw = await Promise.all(
    ACTIONS.map(async (_, i) => {
      const c = checkInput(input(i));
      const ident = await principalIdentity(pdp, c.principal);
      return buildRequest(pdp, c, ownContextOf(input(i), new Date(), 0, ident?.environment), ident);
    }),
  );
  const rawCall = (i: number) => {
    const r = raw[i % raw.length]!;
    const a = cedar.statefulIsAuthorized({
      principal: r.principal,
      action: r.action,
      resource: r.resource,
      context: r.context as cedar.Context,
      entities: r.entities as cedar.Entities,
      preparsedPolicySetId: setId,
    });
    if (a.type !== 'success') throw new Error(JSON.stringify(a));
    return a.response.decision;
  };
  // Same answers first: a faster wrong answer is no result.
  for (let i = 0; i < ACTIONS.length; i += 1) {
    const ours = await noAudit.decide(input(i));
    if ((ours.decision ? 'allow' : 'deny') !== rawCall(i)) throw new Error(`decision differs for ${ACTIONS[i]}`);
  }

  const per = Math.ceil(N / ROUNDS);
  const ours: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < 2000; i += 1) {
    rawCall(i);
    await noAudit.decide(input(i));
  }
  for (let round = 0; round < ROUNDS; round += 1) {
    let t = nowMs();
    for (let i = 0; i < per; i += 1) rawCall(i);
    base.push((nowMs() - t) / per);
    t = nowMs();
    for (let i = 0; i < per; i += 1) await noAudit.decide(input(i));
    ours.push((nowMs() - t) / per);
  }
  const o = summarize(ours).p50 * 1000;
  const b = summarize(base).p50 * 1000;
  console.log(`\nIn-process decision, ${per * ROUNDS} decisions each, 20 policies, ${raw[0]!.entities.length} entities, median of ${ROUNDS} rounds (µs/decision):`);
  printTable(
    ['path', 'µs/decision', 'decisions/s'],
    [
      ['bare preparsed statefulIsAuthorized', fmtNum(b, 1), fmtNum(1e6 / b)],
      ['Tether decide(), audit off', fmtNum(o, 1), fmtNum(1e6 / o)],
    ],
  );
  console.log(`Tether overhead without audit: ${fmtNum(((o - b) / b) * 100, 1)} % (target ≤ 15 %)`);

  const rows: (string | number)[][] = [];
  for (const kind of kinds) {
    const bs = kind === first.kind ? first : await openBenchStore(kind);
    const br = kind === first.kind ? broker : await benchBroker(bs);
    const seq = await runClosedLoop({ concurrency: 1, durationMs: 2000, maxOps: 3000, op: (i) => br.pdp.pipeline.decide(input(i)) });
    const c64 = await runClosedLoop({ concurrency: 64, durationMs: 3000, op: (i) => br.pdp.pipeline.decide(input(i)) });
    rows.push([`${kind}, 1 caller`, fmtNum(seq.opsPerSec), fmtNum(seq.latency.p50, 2), fmtNum(seq.latency.p99, 2)]);
    rows.push([`${kind}, 64 callers`, fmtNum(c64.opsPerSec), fmtNum(c64.latency.p50, 2), fmtNum(c64.latency.p99, 2)]);
    if (br !== broker) await br.close();
    else await broker.close();
    await bs.dispose();
  }
  console.log('\nTether decide() with the audit record awaited (durable group commit):');
  printTable(['store', 'decisions/s', 'p50 ms', 'p99 ms'], rows);
}

/** Policy text → record of @id → text (Cedar ignores @id; see DESIGN.md "Performance budget"). */
function splitById(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^@id\("([^"]+)"\)/.exec(line.trim());
    if (m) out[m[1]!] = line.trim();
  }
  return out;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
