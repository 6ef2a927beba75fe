/**
 * Cedar engine vs raw Cedar, same run (STYLE.md 9). 20 policies, 5 entities per decision, N decisions
 * through `evaluate` (action partitions, obligations, error mapping) and through a bare
 * `preparsePolicySet` + `statefulIsAuthorized` on the same, unpartitioned, policies. Target: ours adds
 * at most 15% (DESIGN.md "Performance budget"); partitioning should make it faster.
 *
 *   npx tsc -p tsconfig.json --outDir .build-policy && node .build-policy/bench/policy-engine.bench.js [N]
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { compilePolicySet, evaluate, type CedarEntityJson, type DecisionRequest } from '../src/policy/index.js';

const N = Number(process.argv[2] ?? 20_000);
const ROUNDS = 10; // alternate ours and raw in blocks so drift (GC, JIT, thermal) hits both alike

const ACTIONS = ['orders:read', 'orders:write', 'orders:delete', 'invoices:read', 'invoices:write', 'deploy', 'secrets:read', 'logs:read'];

// 20 policies: 16 scoped to one or two actions, 4 unconstrained guards (as a real set has).
const POLICY_TEXT = `
@id("p01") permit(principal in Group::"ci", action == Action::"orders:read", resource in Account::"acme");
@id("p02") @approval("required") permit(principal in Group::"ci", action == Action::"orders:write", resource in Account::"acme") when { context.phase == "request" };
@id("p03") permit(principal, action == Action::"orders:delete", resource) when { principal.kind == "human" };
@id("p04") @ttl("PT10M") permit(principal is Identity, action in [Action::"invoices:read", Action::"orders:read"], resource) when { principal.environment == "prod" };
@id("p05") permit(principal, action == Action::"invoices:write", resource) when { resource.owner == principal.owner };
@id("p06") @ttl("PT5M") permit(principal in Group::"deployers", action == Action::"deploy", resource) when { context.risk < 50 };
@id("p07") @break_glass("allowed") permit(principal, action == Action::"secrets:read", resource) when { context has break_glass && context.break_glass };
@id("p08") permit(principal, action == Action::"logs:read", resource);
@id("p09") forbid(principal, action == Action::"deploy", resource) when { context.hour < 6 };
@id("p10") forbid(principal, action == Action::"secrets:read", resource) unless { principal.environment == "prod" };
@id("p11") permit(principal, action == Action::"orders:read", resource) when { resource.status == "open" };
@id("p12") permit(principal, action == Action::"orders:write", resource) when { resource.status == "draft" && principal.kind == "ci_job" };
@id("p13") permit(principal, action in [Action::"invoices:read", Action::"logs:read"], resource) when { principal.labels.contains("finance") };
@id("p14") forbid(principal, action == Action::"orders:delete", resource) when { resource.status == "closed" };
@id("p15") permit(principal, action == Action::"deploy", resource) when { principal.labels.contains("release") };
@id("p16") forbid(principal, action == Action::"invoices:write", resource) when { context.risk > 70 };
@id("g1") forbid(principal, action, resource) when { context.risk > 90 };
@id("g2") forbid(principal, action, resource) when { principal.status == "suspended" };
@id("g3") forbid(principal, action, resource) when { context.phase == "issue" && context.risk > 80 };
@id("g4") forbid(principal, action, resource) when { resource has quarantined && resource.quarantined };
`;

const entities: CedarEntityJson[] = [
  {
    uid: { type: 'Identity', id: 'ci/acme-api-deploy' },
    attrs: { kind: 'ci_job', owner: 'team-a', environment: 'prod', status: 'active', labels: ['release', 'finance'] },
    parents: [{ type: 'Group', id: 'ci' }, { type: 'Group', id: 'deployers' }],
  },
  { uid: { type: 'Group', id: 'ci' }, attrs: {}, parents: [] },
  { uid: { type: 'Group', id: 'deployers' }, attrs: {}, parents: [] },
  { uid: { type: 'Order', id: '42' }, attrs: { status: 'open', owner: 'team-a' }, parents: [{ type: 'Account', id: 'acme' }] },
  { uid: { type: 'Account', id: 'acme' }, attrs: {}, parents: [] },
];

function request(i: number): DecisionRequest {
  return {
    principal: { type: 'Identity', id: 'ci/acme-api-deploy' },
    action: { type: 'Action', id: ACTIONS[i % ACTIONS.length] ?? 'orders:read' },
    resource: { type: 'Order', id: '42' },
    context: { phase: 'request', risk: (i * 7) % 100, hour: i % 24 },
    entities,
  };
}

// Ours.
const set = compilePolicySet({ files: { 'bench.cedar': POLICY_TEXT } });
// Raw: the same policies, ids as ours, one preparsed set.
const parts = cedar.policySetTextToParts(POLICY_TEXT);
if (parts.type !== 'success') throw new Error('policies do not parse');
const staticPolicies: Record<string, string> = {};
for (const text of parts.policies) {
  const j = cedar.policyToJson(text);
  if (j.type !== 'success') throw new Error('policy does not parse');
  staticPolicies[j.json.annotations?.['id'] ?? text] = text;
}
if (Object.keys(staticPolicies).length !== 20) throw new Error('expected 20 policies');
if (cedar.preparsePolicySet('bench/raw', { staticPolicies }).type !== 'success') throw new Error('preparse failed');

const requests = Array.from({ length: N }, (_, i) => request(i));

const ours = (r: DecisionRequest): string => evaluate(set, r).decision;
const raw = (r: DecisionRequest): string => {
  const a = cedar.statefulIsAuthorized({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    context: r.context as cedar.Context,
    entities: r.entities as unknown as cedar.Entities,
    preparsedPolicySetId: 'bench/raw',
  });
  return a.type === 'success' ? a.response.decision : 'deny';
};

// Same answers first: a faster engine that decides differently is not faster.
let allows = 0;
for (const r of requests.slice(0, 2_000)) {
  const o = ours(r);
  if (o !== raw(r)) throw new Error(`decisions differ for ${r.action.id} ${JSON.stringify(r.context)}`);
  if (o === 'allow') allows += 1;
}

function run(fn: (r: DecisionRequest) => string, from: number, to: number, out: number[]): number {
  const t0 = process.hrtime.bigint();
  for (let i = from; i < to; i += 1) {
    const s = process.hrtime.bigint();
    fn(requests[i] as DecisionRequest);
    out.push(Number(process.hrtime.bigint() - s) / 1_000);
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Warm up both.
run(ours, 0, Math.min(N, 2_000), []);
run(raw, 0, Math.min(N, 2_000), []);

const timings = { ours: [] as number[], raw: [] as number[] };
const seconds = { ours: 0, raw: 0 };
const block = Math.ceil(N / ROUNDS);
for (let from = 0; from < N; from += block) {
  const to = Math.min(N, from + block);
  seconds.ours += run(ours, from, to, timings.ours);
  seconds.raw += run(raw, from, to, timings.raw);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function line(name: string, t: number[], secs: number): { opsPerSec: number; p50: number; p99: number } {
  const sorted = [...t].sort((a, b) => a - b);
  const r = { opsPerSec: N / secs, p50: pct(sorted, 50), p99: pct(sorted, 99) };
  console.log(
    `${name.padEnd(34)} ${r.opsPerSec.toFixed(0).padStart(8)} ops/s   p50 ${r.p50.toFixed(1).padStart(6)} µs   p99 ${r.p99.toFixed(1).padStart(6)} µs`,
  );
  return r;
}

console.log(`policy engine: ${N} decisions, 20 policies (${ACTIONS.length} actions, 4 unconstrained), ${entities.length} entities; ${allows}/2000 allows; node ${process.version}, cedar ${cedar.getCedarVersion()}`);
const a = line('tether evaluate (partitioned)', timings.ours, seconds.ours);
const b = line('raw preparsed statefulIsAuthorized', timings.raw, seconds.raw);
const overhead = (b.opsPerSec / a.opsPerSec - 1) * 100;
console.log(
  `overhead: ${overhead >= 0 ? '+' : ''}${overhead.toFixed(1)}% time per decision (p50 ${(((a.p50 / b.p50) - 1) * 100).toFixed(1)}%); target <= +15%: ${overhead <= 15 ? 'met' : 'NOT met'}`,
);
