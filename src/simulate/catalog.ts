/**
 * What the simulator sets up on the broker: one route whose rules cover every service the simulated
 * workloads call, the identities (four benign NHIs and one per attack, so attacks never pollute each
 * other's baselines), and a Cedar policy per identity.
 */
import type { IdentityKind } from '../detect/index.js';

export interface Call {
  method: string;
  path: string;
}

/** path template → action → resource, as route rules (routes/route-config.ts, a contract). */
export const RULES = [
  { method: 'GET', path: '/orders/:id', action: 'orders:read', resource: { type: 'Order', id: ':id' } },
  { method: 'PUT', path: '/orders/:id', action: 'orders:write', resource: { type: 'Order', id: ':id' } },
  { method: 'GET', path: '/pages/:n', action: 'orders:read', resource: { type: 'OrderPage', id: ':n' } },
  { method: 'POST', path: '/exports/:id', action: 'orders:export', resource: { type: 'Export', id: ':id' } },
  { method: 'PUT', path: '/buckets/:name', action: 'bucket:write', resource: { type: 'Bucket', id: ':name' } },
  { method: 'GET', path: '/skus/:id', action: 'inventory:read', resource: { type: 'Sku', id: ':id' } },
  { method: 'GET', path: '/config/:name', action: 'config:read', resource: { type: 'Config', id: ':name' } },
  { method: 'GET', path: '/artifacts/:id', action: 'artifacts:read', resource: { type: 'Artifact', id: ':id' } },
  { method: 'POST', path: '/deployments/:name', action: 'deploy:write', resource: { type: 'Deployment', id: ':name' } },
  { method: 'POST', path: '/tickets/:id/comments', action: 'tickets:comment', resource: { type: 'Ticket', id: ':id' } },
  { method: 'GET', path: '/tickets/:id', action: 'tickets:read', resource: { type: 'Ticket', id: ':id' } },
  { method: 'GET', path: '/kb/:topic', action: 'kb:search', resource: { type: 'Kb', id: ':topic' } },
  { method: 'GET', path: '/customers/:id', action: 'crm:lookup', resource: { type: 'Customer', id: ':id' } },
  { method: 'GET', path: '/reports/:id', action: 'reports:read', resource: { type: 'Report', id: ':id' } },
  { method: 'GET', path: '/users/export', action: 'users:export', resource: { type: 'UserDirectory', id: 'all' } },
  { method: 'GET', path: '/vault/:id', action: 'vault:read', resource: { type: 'Vault', id: ':id' } },
  { method: 'GET', path: '/secrets/:name', action: 'secrets:read', resource: { type: 'Secret', id: ':name' } },
  { method: 'PUT', path: '/iam/roles/:name', action: 'iam:write', resource: { type: 'Role', id: ':name' } },
  { method: 'POST', path: '/egress/:host', action: 'egress:post', resource: { type: 'Host', id: ':host' } },
] as const;

/** The detection event's resource for a call, as the broker builds it from the route rule (`Type::id`). */
export function resourceOf(type: string, id: string): string {
  return `${type}::${id}`;
}

export interface IdentitySpec {
  /** Suffix under the run's prefix, e.g. `ci-deploy` → `sim-1a2b3c/ci-deploy`. */
  name: string;
  kind: IdentityKind;
  purpose: string;
  /** Actions the identity may obtain and use. */
  actions: readonly string[];
  /** Cedar text for anything beyond "these actions, any resource" (gets the identity uid as $ID). */
  extraPolicy?: string;
}

export const IDENTITIES: readonly IdentitySpec[] = [
  { name: 'ci-deploy', kind: 'ci_job', purpose: 'CI deploy job of the orders API', actions: ['config:read', 'artifacts:read', 'deploy:write'] },
  { name: 'batch-export', kind: 'service_account', purpose: 'scheduled batch export of orders', actions: ['orders:export', 'orders:read', 'bucket:write'] },
  { name: 'orders-service', kind: 'workload', purpose: 'long-running orders service', actions: ['orders:read', 'orders:write', 'inventory:read'] },
  { name: 'support-agent', kind: 'ai_agent', purpose: 'AI support agent calling tools', actions: ['tickets:read', 'kb:search', 'crm:lookup', 'tickets:comment'] },
  { name: 'deployment', kind: 'workload', purpose: 'Kubernetes Deployment: 6 replicas on several networks', actions: ['orders:read', 'inventory:read'] },
  { name: 'ci-matrix', kind: 'ci_job', purpose: 'CI matrix of 8 shards', actions: ['artifacts:read'] },
  { name: 'attack-replay', kind: 'workload', purpose: 'victim of a stolen token', actions: ['orders:read'] },
  {
    name: 'attack-enumeration',
    kind: 'api_client',
    purpose: 'client probing the vault',
    actions: [],
    // Issuance of vault:read is allowed, but only the public entry may be read.
    extraPolicy: `permit (principal == $ID, action == Action::"vault:read", resource) when { context.phase == "issue" };
permit (principal == $ID, action == Action::"vault:read", resource == Vault::"public");`,
  },
  { name: 'attack-first-seen', kind: 'service_account', purpose: 'report reader reaching for the user directory', actions: ['reports:read'] },
  { name: 'attack-off-hours', kind: 'ci_job', purpose: 'job running at an hour it never runs', actions: ['config:read'] },
  { name: 'attack-rate-spike', kind: 'workload', purpose: 'stock reader suddenly scraping', actions: ['inventory:read'] },
  { name: 'attack-after-task', kind: 'ci_job', purpose: 'token kept after its task ended', actions: ['config:read'] },
  { name: 'attack-dormant', kind: 'service_account', purpose: 'forgotten monthly reporter waking up', actions: ['reports:read'] },
  { name: 'attack-escalation', kind: 'ai_agent', purpose: 'agent hijacked into escalation and exfiltration', actions: ['secrets:read', 'iam:write', 'egress:post'] },
  { name: 'attack-drift', kind: 'workload', purpose: 'token moved to another network mid-task', actions: ['orders:read'] },
  // Cluster, multi-address and expiry scenarios.
  { name: 'nat-ci', kind: 'ci_job', purpose: 'CI job behind a NAT with two addresses', actions: ['artifacts:read'] },
  { name: 'expiry-replicas', kind: 'workload', purpose: '6 replicas refreshing after expiry, retrying on a flaky network', actions: ['inventory:read'] },
  { name: 'attack-leaked-token', kind: 'workload', purpose: 'token string leaked in a log, presented with another key', actions: ['orders:read'] },
  { name: 'attack-copied-key', kind: 'workload', purpose: 'token and DPoP key copied, used on the other instance from the same /24', actions: ['orders:read'] },
  // Benign look-alikes of the contained attacks (the grading is tested both ways) and a re-run CI job.
  { name: 'rescheduled-job', kind: 'ci_job', purpose: 'job moved to an hour it never ran, from its own network', actions: ['config:read'] },
  { name: 'node-replicas', kind: 'workload', purpose: 'Deployment gaining a replica on a new node network', actions: ['inventory:read'] },
  { name: 'nightly-batch', kind: 'service_account', purpose: 'nightly batch reading 20 % more rows than usual', actions: ['orders:read'] },
  { name: 'monthly-reporter', kind: 'service_account', purpose: 'monthly reporter waking on schedule', actions: ['reports:read'] },
  { name: 'renewing-service', kind: 'workload', purpose: 'long-running service renewing its token', actions: ['orders:read'] },
  { name: 'attack-rerun', kind: 'ci_job', purpose: 'token of a finished run attempt reused after the re-run', actions: ['config:read'] },
];

export function policyText(identityId: (name: string) => string): string {
  const parts: string[] = [];
  for (const s of IDENTITIES) {
    const uid = `Identity::${JSON.stringify(identityId(s.name))}`;
    if (s.actions.length) {
      parts.push(`permit (principal == ${uid}, action in [${s.actions.map((a) => `Action::${JSON.stringify(a)}`).join(', ')}], resource);`);
    }
    if (s.extraPolicy) parts.push(s.extraPolicy.replaceAll('$ID', uid));
  }
  return parts.join('\n\n') + '\n';
}
