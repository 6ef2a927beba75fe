/**
 * A broker set up for detection tests: the GitHub-shaped workload issuer, the orders route, and
 * request-phase policies including one that reads `context.risk`. Calls go over HTTP like a gateway
 * would (Envoy style: the original method and path in the ext-authz request itself).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { CLIENT_ADDRESS_HEADER, ordersRoute } from '../helpers/gateway-fixture.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

export const GATEWAY = 'http://gateway.detect.test';
export const ID = 'ci/acme/api';

export const RISK_POLICIES = {
  'orders.cedar': `
@id("ci-orders")
permit (principal == Identity::"ci/acme/api", action in [Action::"orders:read", Action::"orders:list", Action::"orders:delete"], resource);

@id("high-risk-is-refused")
forbid (principal, action, resource) when { context.risk >= 80 };
`,
};

/**
 * A detection config file opting these identity kinds in to identity-wide responses (suspend,
 * approval holds), which are off by default; the default rules are kept.
 */
export function optInConfig(kinds: readonly string[], extraYaml = ''): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tether-detect-optin-')), 'detection.yaml');
  writeFileSync(file, `responses:\n  identity_wide: [${kinds.join(', ')}]\n${extraYaml}`);
  return file;
}

export type DpopKey = Awaited<ReturnType<typeof createDpopKey>>;

export async function setupOrders(admin: (m: string, p: string, b?: unknown) => Promise<{ status: number; body: any }>) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const gha = await createWorkloadIssuer();
  const r = await admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: RISK_POLICIES, routes: [ordersRoute(GATEWAY, 'envoy', { clientAddress: true })] });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return gha;
}

export function client(url: string, issuerUrl: string, gha: Awaited<ReturnType<typeof createWorkloadIssuer>>) {
  return {
    async exchange(key: DpopKey, o: { scope?: string; purpose?: string } = {}): Promise<{ status: number; token?: string; body: Record<string, unknown> }> {
      const form: Record<string, string> = {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: o.scope ?? 'orders:read',
        audience: ORDERS_AUD,
      };
      if (o.purpose) form.authorization_details = JSON.stringify([{ type: 'tether_task', purpose: o.purpose }]);
      const res = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${issuerUrl}/oauth/token`) },
        body: new URLSearchParams(form).toString(),
      });
      const body = (await res.json()) as Record<string, unknown>;
      return { status: res.status, body, ...(typeof body.access_token === 'string' ? { token: body.access_token } : {}) };
    },
    async call(token: string, key: DpopKey, method: string, path: string, ip = '10.1.2.3'): Promise<number> {
      const res = await fetch(`${url}/ext-authz/orders${path}`, {
        method,
        headers: { authorization: `DPoP ${token}`, dpop: await key.proof(method, GATEWAY + path, { accessToken: token }), [CLIENT_ADDRESS_HEADER]: ip },
      });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

export const claimsOf = (token: string): { jti: string; grant: string; sub: string } => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

/** Polls until fn returns a value (not undefined) or the time is up. */
export async function eventually<T>(fn: () => Promise<T | undefined>, ms = 5000, every = 10): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export { createDpopKey };

/**
 * A PGlite broker with the orders setup for the enclosing describe (started in its `before`, stopped
 * in its `after`); read `b` and `c` inside tests.
 */
export function ordersBroker(detectionConfig?: string): { b: RunningBroker; c: ReturnType<typeof client> } {
  const h = {} as { b: RunningBroker; c: ReturnType<typeof client> };
  before(async () => {
    h.b = await startBroker('pglite', detectionConfig ? { detectionConfig } : {});
    h.c = client(h.b.url, h.b.url, await setupOrders((m, p, body) => h.b.admin(m, p, body)));
  });
  after(async () => {
    await h.b?.stop();
  });
  return h;
}

/** A token exchange at one node of a test cluster, retried while the node has not loaded the applied config yet. */
export async function clusterExchange(nodeUrl: string, issuerUrl: string, gha: Awaited<ReturnType<typeof createWorkloadIssuer>>, key: DpopKey, purpose: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${nodeUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', `${issuerUrl}/oauth/token`) },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'orders:read',
        audience: ORDERS_AUD,
        authorization_details: JSON.stringify([{ type: 'tether_task', purpose }]),
      }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; error_description?: string };
    if (res.status === 200) return body.access_token!;
    if (attempt >= 100) assert.fail(`${nodeUrl} would not issue: ${body.error_description}`);
    await new Promise((r) => setTimeout(r, 20)); // the node may not have the applied config yet
  }
}
