import { createDecisionPipeline, type DecisionPipeline } from '../src/pdp/index.js';
/**
 * The policies, entities and identities the decision benches share, and a broker built in-process
 * (no listener) on a bench store, with them applied through the admin API.
 */
import { Writable } from 'node:stream';
import { loadConfig, type ConfigInput } from '../src/config/index.js';
import type { DecideInput } from '../src/pdp/index.js';
import { buildApp, type Broker } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import type { BenchStore } from './lib/index.js';

export const ADMIN = 'bench-admin-token-0123456789abcdef';
export const ACTIONS = ['orders:read', 'orders:write', 'orders:delete', 'invoices:read', 'invoices:write', 'deploy', 'secrets:read', 'logs:read'];

// 20 policies over inventory attributes (labels are a record), groups and context, as a real set has.
export const POLICIES: Record<string, string> = {
  'bench.cedar': `
@id("p01") permit(principal in Group::"ci", action == Action::"orders:read", resource in Account::"acme");
@id("p02") @approval("required") permit(principal in Group::"ci", action == Action::"orders:write", resource in Account::"acme") when { context.phase == "request" };
@id("p03") permit(principal, action == Action::"orders:delete", resource) when { principal has kind && principal.kind == "human" };
@id("p04") @ttl("PT10M") permit(principal is Identity, action in [Action::"invoices:read", Action::"orders:read"], resource) when { principal has environment && principal.environment == "prod" };
@id("p05") permit(principal is Identity, action == Action::"invoices:write", resource) when { resource has owner && principal has owner && resource.owner == principal.owner };
@id("p06") @ttl("PT5M") permit(principal in Group::"deployers", action == Action::"deploy", resource) when { context.risk < 50 };
@id("p07") @break_glass("allowed") permit(principal, action == Action::"secrets:read", resource) when { context has break_glass && context.break_glass };
@id("p08") permit(principal, action == Action::"logs:read", resource);
@id("p09") forbid(principal, action == Action::"deploy", resource) when { context.now.hour < 0 };
@id("p10") forbid(principal is Identity, action == Action::"secrets:read", resource) unless { principal has environment && principal.environment == "prod" };
@id("p11") permit(principal, action == Action::"orders:read", resource) when { resource has status && resource.status == "open" };
@id("p12") permit(principal is Identity, action == Action::"orders:write", resource) when { resource has status && resource.status == "draft" && principal.kind == "ci_job" };
@id("p13") permit(principal is Identity, action in [Action::"invoices:read", Action::"logs:read"], resource) when { principal.labels has team && principal.labels.team == "finance" };
@id("p14") forbid(principal, action == Action::"orders:delete", resource) when { resource has status && resource.status == "closed" };
@id("p15") permit(principal is Identity, action == Action::"deploy", resource) when { principal.labels has release && principal.labels.release == "yes" };
@id("p16") forbid(principal, action == Action::"invoices:write", resource) when { context.risk > 70 };
@id("g1") forbid(principal, action, resource) when { context.risk > 90 };
@id("g2") forbid(principal is Identity, action, resource) when { principal.status == "suspended" };
@id("g3") forbid(principal, action, resource) when { context.phase == "issue" && context.risk > 80 };
@id("g4") forbid(principal, action, resource) when { resource has quarantined && resource.quarantined };
`,
};

/** Group memberships come from entities.json; identity attributes from the inventory. */
export function benchEntities(identityIds: readonly string[]): unknown[] {
  return [
    ...identityIds.map((id) => ({ uid: { type: 'Identity', id }, attrs: {}, parents: [{ type: 'Group', id: 'ci' }, { type: 'Group', id: 'deployers' }] })),
    { uid: { type: 'Group', id: 'ci' }, attrs: {}, parents: [] },
    { uid: { type: 'Group', id: 'deployers' }, attrs: {}, parents: [] },
    { uid: { type: 'Order', id: '42' }, attrs: { status: 'open', owner: 'team-a' }, parents: [{ type: 'Account', id: 'acme' }] },
    { uid: { type: 'Account', id: 'acme' }, attrs: {}, parents: [] },
  ];
}

export const identityDecl = (id: string) => ({ id, kind: 'ci_job', owner: 'team-a', environment: 'prod', labels: { release: 'yes', team: 'finance' } });

export function input(i: number, identity = 'ci/acme-api-deploy'): DecideInput {
  return {
    entry: 'authzen',
    principal: { type: 'Identity', id: identity },
    action: { name: ACTIONS[i % ACTIONS.length]! },
    resource: { type: 'Order', id: '42' },
  };
}

export async function benchBroker(bs: BenchStore, identities: readonly string[] = ['ci/acme-api-deploy'], overrides: Partial<ConfigInput> = {}): Promise<Broker> {
  const config = loadConfig(
    { port: 0, logLevel: 'error', dataDir: bs.kind === 'pglite' ? bs.where : '/nonexistent', ...(bs.kind === 'pg' ? { databaseUrl: 'postgres://unused/x' } : {}), ...overrides },
    {},
  );
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const broker = await buildApp({ config, store: bs.store, logger: createLogger('error', sink), adminToken: ADMIN });
  const r = await broker.app.inject({
    method: 'POST',
    url: '/admin/v1/apply',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    payload: { identities: identities.map(identityDecl), policies: POLICIES, entities: benchEntities(identities.slice(0, 1000)) },
  });
  if (r.statusCode !== 200) throw new Error(`apply: ${r.statusCode} ${r.body}`);
  await broker.pdp.policies.refresh();
  await broker.pdp.entities.refresh();
  return broker;
}

/**
 * Diagnostic only: the broker's pipeline with a no-op audit writer, to separate the cost of the
 * durable commit from the rest. Never a configuration.
 */
export function pipelineWithoutAudit(broker: Broker): DecisionPipeline {
  const p = broker.pdp;
  return createDecisionPipeline({
    policies: p.policies,
    entities: p.entities,
    identities: p.identities,
    audit: { append: async () => ({ seq: 0, ts: '', type: 'decision', actor: null, identity: null, data: {}, prev_hash: '', hash: '' }) },
    logger: console as never,
    clock: () => new Date(),
  });
}
