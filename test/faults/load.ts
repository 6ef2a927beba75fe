import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import type { createWorkloadIssuer } from '../helpers/workload-issuer.js';
import { ORDERS_AUD } from '../helpers/workload-issuer.js';

export type OpKind = 'token' | 'authzen' | 'admin';

export interface Outcome {
  kind: OpKind;
  status: number;
  /** ms since the load started. */
  at: number;
  /** What the audit log must hold for an acknowledged operation. */
  key: string;
  /** Network failure (the server closed the connection): the process must never do this. */
  networkError?: string;
}

/**
 * Mixed traffic against one broker: RFC 8693 token exchanges, AuthZEN evaluations (each about its
 * own resource, so its decision record can be found), and admin writes (each a new identity).
 */
export function mixedLoad(o: {
  url: string;
  adminToken: string;
  issuer: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  workersPerKind?: number;
  /** Set apart the resources and identities of several loads against one broker (identities must be new). */
  keyPrefix?: string;
}) {
  const prefix = o.keyPrefix ?? '';
  const outcomes: Outcome[] = [];
  let stopped = false;
  let n = 0;
  const t0 = performance.now();

  const one = async (kind: OpKind): Promise<void> => {
    const i = n++;
    let status = 0;
    let key = '';
    try {
      if (kind === 'token') {
        const r = await exchangeForToken({ endpointBase: o.url, key: await createDpopKey(), subjectToken: await o.issuer.token(), scope: 'orders:read', audience: ORDERS_AUD });
        status = r.status;
        if (r.body.access_token) key = JSON.parse(Buffer.from(r.body.access_token.split('.')[1]!, 'base64url').toString()).jti as string;
      } else if (kind === 'authzen') {
        key = `load-${prefix}${i}`;
        const res = await fetch(`${o.url}/access/v1/evaluation`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ subject: { type: 'Identity', id: 'ci/acme/api' }, action: { name: 'orders:read' }, resource: { type: 'Order', id: key } }),
        });
        status = res.status;
        await res.arrayBuffer();
      } else {
        key = `load/${prefix}${i}`;
        const res = await fetch(`${o.url}/admin/v1/identities`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${o.adminToken}` },
          body: JSON.stringify({ id: key, kind: 'service_account', owner: 'team-load' }),
        });
        status = res.status;
        await res.arrayBuffer();
      }
      outcomes.push({ kind, status, at: performance.now() - t0, key });
    } catch (e) {
      outcomes.push({ kind, status: 0, at: performance.now() - t0, key, networkError: (e as Error).message });
    }
  };

  const workers = (['token', 'authzen', 'admin'] as const).flatMap((k) =>
    Array.from({ length: o.workersPerKind ?? 2 }, async () => {
      while (!stopped) await one(k);
    }),
  );
  return {
    outcomes,
    elapsed: () => performance.now() - t0,
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Acknowledged operations whose audit record is missing from the chain (rows of audit_events). */
export function unaudited(outcomes: Outcome[], events: Array<{ type: string; identity: string | null; body: string }>): Outcome[] {
  const issued = new Set<string>();
  const decided = new Set<string>();
  const created = new Set<string>();
  for (const e of events) {
    const b = JSON.parse(e.body) as { data?: { jti?: string; resource?: { id?: string } } };
    if (e.type === 'token.issued' && b.data?.jti) issued.add(b.data.jti);
    if (e.type === 'decision' && b.data?.resource?.id) decided.add(b.data.resource.id);
    if (e.type === 'identity.created' && e.identity) created.add(e.identity);
  }
  return outcomes.filter((x) => {
    if (x.status < 200 || x.status >= 300) return false;
    const seen = x.kind === 'token' ? issued : x.kind === 'authzen' ? decided : created;
    return !seen.has(x.key);
  });
}
