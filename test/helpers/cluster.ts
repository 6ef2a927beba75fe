import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnServe, type ServeProcess } from './process.js';
import { createPgDatabase } from './stores.js';

export const CLUSTER_ADMIN_TOKEN = 'cluster-admin-token-0123456789abcdef';

/** N real `tether serve` processes on one fresh PostgreSQL database, sharing master key and issuer URL. */
export async function startCluster(n: number, extraEnv: Record<string, string> = {}) {
  const db = await createPgDatabase();
  const env = { TETHER_ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN, TETHER_MASTER_KEY: randomBytes(32).toString('base64url'), ...extraEnv };
  const issuerUrl = 'http://tether.cluster.test';
  const nodes: ServeProcess[] = [];
  try {
    // The first one migrates and creates the signing key; the others join.
    nodes.push(await spawnServe(['--database-url', db.url, '--issuer-url', issuerUrl, '--data-dir', mkdtempSync(join(tmpdir(), 'tether-node-'))], env));
    const rest = await Promise.all(Array.from({ length: n - 1 }, () => spawnServe(['--database-url', db.url, '--issuer-url', issuerUrl, '--data-dir', mkdtempSync(join(tmpdir(), 'tether-node-'))], env)));
    nodes.push(...rest);
  } catch (e) {
    await Promise.all(nodes.map((p) => p.stop()));
    await db.drop();
    throw e;
  }
  return {
    nodes,
    issuerUrl,
    dbUrl: db.url,
    async admin(node: number, method: string, path: string, body?: unknown) {
      const res = await fetch(nodes[node]!.url + path, {
        method,
        headers: { authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    },
    async introspect(node: number, token: string): Promise<boolean> {
      const res = await fetch(`${nodes[node]!.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}` },
        body: `token=${token}`,
      });
      return ((await res.json()) as { active: boolean }).active;
    },
    async stop() {
      await Promise.all(nodes.map((p) => p.stop()));
      await db.drop();
    },
  };
}
