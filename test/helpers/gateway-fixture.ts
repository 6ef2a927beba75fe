import { ORDERS_AUD } from './workload-issuer.js';

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

/** The orders route; `gateway` says where ext-authz reads the original request (Envoy's path by default here). */
export function ordersRoute(publicUrl: string, gateway: 'nginx' | 'envoy' = 'envoy') {
  return {
    name: 'orders',
    gateway,
    audience: ORDERS_AUD,
    public_url: publicUrl,
    rules: [
      { method: 'GET', path: '/orders/:id', action: 'orders:read', resource: { type: 'Order', id: ':id' } },
      { method: 'GET', path: '/orders', action: 'orders:list', resource: { type: 'OrderList', id: 'all' } },
      { method: 'DELETE', path: '/orders/:id', action: 'orders:delete', resource: { type: 'Order', id: ':id' } },
    ],
  };
}
