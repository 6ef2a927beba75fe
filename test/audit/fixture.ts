/** Shared by the audit anchor tests: a broker with one identity and a permit-all policy, and load. */
import http from 'node:http';
import type { RunningBroker } from '../helpers/broker.js';
import { applyOk, evaluate } from '../pdp/http.js';

export const WHO = 'ci/anchor-test';

export async function applyPermitAll(b: RunningBroker): Promise<void> {
  await applyOk(b, {
    identities: [{ id: WHO, kind: 'ci_job', owner: 'team-a', environment: 'prod' }],
    policies: { 'all.cedar': '@id("all") permit(principal, action, resource);' },
  });
}

/** n AuthZEN decisions (one audit event each), `concurrency` at a time; returns their statuses (also pushed to `into` as they come). */
export async function decisions(b: RunningBroker, n: number, concurrency = 8, into?: number[]): Promise<number[]> {
  const statuses: number[] = [];
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < n) {
        const k = i++;
        const r = await evaluate(b, { subject: { type: 'Identity', id: WHO }, action: { name: 'orders:read' }, resource: { type: 'Order', id: String(k) } });
        statuses.push(r.status);
        into?.push(r.status);
      }
    }),
  );
  return statuses;
}

/** A sink receiver (an HTTP collector) on `port` (0: any) recording the seq of every NDJSON line it accepts. */
export function ndjsonReceiver(port: number, seqs: number[], status = 204): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += String(d)));
    req.on('end', () => {
      for (const l of body.split('\n').filter(Boolean)) seqs.push((JSON.parse(l) as { seq: number }).seq);
      res.writeHead(status).end();
    });
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}
