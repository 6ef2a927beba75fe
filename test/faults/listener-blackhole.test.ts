import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migrate, type Store } from '../../src/store/index.js';
import { openPgStore } from '../../src/store/pg-store.js';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createPgDatabase, type TestDb } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { startTcpProxy } from './tcp-proxy.js';

/** The documented bound (README "Clusters"): notifications silent this long ⇒ the instance fails closed. */
const STALE_AFTER_MS = 5000;

let db: Awaited<ReturnType<typeof createPgDatabase>>;
let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
let a: RunningBroker;
let b: RunningBroker;
let issuer: Awaited<ReturnType<typeof createWorkloadIssuer>>;

before(async () => {
  db = await createPgDatabase();
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(db.url).port || 5432) });
  const shared = (open: () => Promise<Store>): TestDb => ({ kind: 'pg', databaseUrl: db.url, open, drop: async () => {} });
  a = await startBroker('pg', {}, { db: shared(() => openPgStore(db.url).then(async (s) => (await migrate(s), s))) });
  // Instance B: queries go straight to PostgreSQL, its LISTEN connection through the proxy.
  const viaProxy = new URL(db.url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  b = await startBroker('pg', {}, { db: shared(() => openPgStore(db.url, { listenUrl: viaProxy.toString() })) });
  issuer = await createWorkloadIssuer();
  const r = await a.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [issuer.config()], policies: EXCHANGE_POLICIES });
  assert.equal(r.status, 200, JSON.stringify(r.body));
});

after(async () => {
  await b?.stop();
  await a?.stop();
  await proxy?.stop();
  await db?.drop();
});

const introspect = async (on: RunningBroker, token: string) => {
  const res = await fetch(`${on.url}/oauth/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: `token=${token}`,
  });
  return ((await res.json()) as { active: boolean }).active;
};
const ready = async (on: RunningBroker) => (await fetch(`${on.url}/readyz`)).status;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function issueOn(on: RunningBroker): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const t = await exchangeForToken({ endpointBase: on.url, key: await createDpopKey(), subjectToken: await issuer.token(), scope: 'orders:read', audience: ORDERS_AUD });
    if (t.status === 200) return t.body.access_token!;
    await sleep(50);
  }
  throw new Error('B would not issue');
}

test('a black-holed notification connection: a token revoked on the other instance is refused within the bound, /readyz reports it, and the instance catches up once it reconnects', async () => {
  const token = await issueOn(b);
  const jti = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti as string;
  assert.equal(await introspect(b, token), true);
  assert.equal(await ready(b), 200);

  proxy.blackHole();
  const t0 = performance.now();
  const r = await a.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: jti, reason: 'black hole trial' });
  assert.equal(r.status, 201);
  assert.equal(await introspect(a, token), false, 'the instance that revoked refuses at once');

  let refusedAfter = Infinity;
  let notReadyAfter = Infinity;
  while (performance.now() - t0 < STALE_AFTER_MS + 3000 && (refusedAfter === Infinity || notReadyAfter === Infinity)) {
    const now = () => performance.now() - t0;
    if (refusedAfter === Infinity && !(await introspect(b, token))) refusedAfter = now();
    if (notReadyAfter === Infinity && (await ready(b)) === 503) notReadyAfter = now();
    await sleep(25);
  }
  process.stdout.write(`# black hole: /readyz not ready after ${Math.round(notReadyAfter)} ms, revoked token refused after ${Math.round(refusedAfter)} ms (bound ${STALE_AFTER_MS} ms)\n`);
  assert.ok(refusedAfter <= STALE_AFTER_MS, `the revoked token was accepted for ${Math.round(refusedAfter)} ms`);
  assert.ok(notReadyAfter <= 3500, `/readyz said ready for ${Math.round(notReadyAfter)} ms`);

  // While stale, decisions and issuance fail closed (503), not only token checks.
  const decision = await fetch(`${b.url}/access/v1/evaluation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ subject: { type: 'Identity', id: 'ci/acme/api' }, action: { name: 'orders:read' }, resource: { type: 'Audience', id: ORDERS_AUD } }),
  });
  assert.equal(decision.status, 503);
  const exchange = await exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken: await issuer.token(), scope: 'orders:read', audience: ORDERS_AUD });
  assert.equal(exchange.status, 503);

  // The network comes back: B reconnects by itself, re-reads the revocations, and is ready again.
  proxy.heal();
  const t1 = performance.now();
  while ((await ready(b)) !== 200 && performance.now() - t1 < 10000) await sleep(50);
  assert.equal(await ready(b), 200);
  assert.equal(await introspect(b, token), false, 'the revocation missed during the outage was caught up from the table');
  assert.equal(await introspect(b, await issueOn(b)), true, 'B serves again');
  process.stdout.write(`# ready again ${Math.round(performance.now() - t1)} ms after the network healed\n`);
});
