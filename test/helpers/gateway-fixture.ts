import assert from 'node:assert/strict';
import { startBroker, type RunningBroker } from './broker.js';
import { createDpopKey, exchangeForToken } from './dpop.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from './workload-issuer.js';

/** Request-phase policies for the orders route, on top of the issue-phase ones. */
export const REQUEST_POLICIES = {
  'orders-request.cedar': `
@id("ci-reads-orders-at-request")
permit (principal == Identity::"ci/acme/api", action in [Action::"orders:read", Action::"orders:list", Action::"orders:delete"], resource)
when { context.phase == "request" };

@id("secret-order-is-off-limits")
forbid (principal, action, resource == Order::"secret");
`,
};

/** The header an Envoy-style test route reads the client address from (route `client_address_header`). */
export const CLIENT_ADDRESS_HEADER = 'x-tether-client-address';

/**
 * The orders route; `gateway` says where ext-authz reads the original request (Envoy's path by
 * default here). `clientAddress`: the check carries the client address in CLIENT_ADDRESS_HEADER, as
 * an Envoy configured with headers_to_add sends it (else the client address is the TCP peer).
 */
export function ordersRoute(publicUrl: string, gateway: 'nginx' | 'envoy' = 'envoy', o: { clientAddress?: boolean } = {}) {
  return {
    name: 'orders',
    gateway,
    ...(o.clientAddress ? { client_address_header: CLIENT_ADDRESS_HEADER } : {}),
    audience: ORDERS_AUD,
    public_url: publicUrl,
    rules: [
      { method: 'GET', path: '/orders/:id', action: 'orders:read', resource: { type: 'Order', id: ':id' } },
      { method: 'GET', path: '/orders', action: 'orders:list', resource: { type: 'OrderList', id: 'all' } },
      { method: 'DELETE', path: '/orders/:id', action: 'orders:delete', resource: { type: 'Order', id: ':id' } },
    ],
  };
}

/** A PGlite broker with the exchange fixtures and `routes` applied, and one DPoP-bound token for the orders audience. */
export async function startGatewayBroker(routes: unknown[], o: { pdpToken?: string; scope?: string } = {}) {
  const b = await startBroker('pglite', o.pdpToken ? { pdpToken: o.pdpToken } : {});
  const gha = await createWorkloadIssuer();
  const key = await createDpopKey();
  const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: o.scope ?? 'orders:read', audience: ORDERS_AUD });
  assert.equal(t.status, 200, JSON.stringify(t.body));
  return { b, gha, key, token: t.body.access_token! };
}

/** Every audited decision, oldest first. */
export async function auditedDecisions(b: RunningBroker): Promise<Array<{ identity: string | null; data: Record<string, any> }>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (await b.admin('GET', '/admin/v1/audit?type=decision&limit=10000')).body.events;
}
