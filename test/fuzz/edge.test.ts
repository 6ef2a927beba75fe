import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { deep, dpopHeader, mutate, nastyString, nastyValue, rng, type Rng } from './generators.js';

/**
 * Generated input at every surface that takes it from outside: the token endpoint (forms, DPoP
 * headers), AuthZEN, ext-authz (headers and request targets) and the admin API (paths and JSON).
 * Whatever comes in, the broker answers with a status below 500 and keeps running. Bounded: N
 * inputs per store (TETHER_FUZZ_N; the default, 10,000 per store, is 20k inputs in about 70 s on
 * an idle 2-core machine), seeded (TETHER_FUZZ_SEED).
 */
const N = Number(process.env.TETHER_FUZZ_N ?? 10_000);
const SEED = Number(process.env.TETHER_FUZZ_SEED ?? 20261130);
const CONCURRENCY = 16;
const GW = 'http://gw.fuzz.test';
/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD, as any client would send it). */
const enc = (s: string) => [...Buffer.from(s, 'utf8')].map((c) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(c)) ? String.fromCharCode(c) : `%${c.toString(16).padStart(2, '0')}`)).join('');

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

for (const kind of STORE_KINDS) {
  describe(`fuzz on ${kind}`, () => {
    let b: RunningBroker;
    let issuer: Awaited<ReturnType<typeof createWorkloadIssuer>>;
    let key: Awaited<ReturnType<typeof createDpopKey>>;
    let subjectTokens: string[];
    let accessToken: string;

    before(async () => {
      b = await startBroker(kind);
      issuer = await createWorkloadIssuer();
      key = await createDpopKey();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [issuer.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await issuer.token(), scope: 'orders:read', audience: ORDERS_AUD });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      accessToken = t.body.access_token!;
      subjectTokens = await Promise.all([issuer.token(), issuer.token({ repository: 'acme/\u0000x' }), issuer.token({ repository: nastyString(rng(1)) }), issuer.token({}, { ttl: 10 ** 9 })]);
    });
    after(async () => {
      await b?.stop();
    });

    const tokenRequest = async (r: Rng): Promise<Req> => {
      const params = new URLSearchParams();
      const base: Record<string, string> = {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: r.pick(subjectTokens),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope: 'orders:read',
        audience: ORDERS_AUD,
      };
      for (const [k, v] of Object.entries(base)) if (!r.chance(0.15)) params.append(k, r.chance(0.2) ? nastyString(r) : v);
      if (r.chance(0.2)) params.append(r.pick([...Object.keys(base), 'authorization_details', 'resource', 'actor_token', nastyString(r)]), r.chance(0.5) ? JSON.stringify(nastyValue(r)) : nastyString(r));
      const dpop = await dpopHeader(r, key, 'POST', `${b.url}/oauth/token`);
      const ct = r.chance(0.9) ? 'application/x-www-form-urlencoded' : r.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', '']);
      return { method: 'POST', path: r.chance(0.9) ? '/oauth/token' : r.pick(['/oauth/revoke', '/oauth/introspect']), headers: { 'content-type': ct, ...(dpop ? { dpop } : {}) }, body: r.chance(0.95) ? params.toString() : nastyString(r) };
    };

    const authzenRequest = (r: Rng): Req => {
      const valid = { subject: { type: 'Identity', id: 'ci/acme/api' }, action: { name: 'orders:read' }, resource: { type: 'Order', id: '5', properties: { owner: 'x' } }, context: { a: 1 } };
      let body: string;
      const k = r.int(10);
      if (k === 0) body = deep(r.pick([100, 5000, 100000]));
      else if (k === 1) body = nastyString(r);
      else if (k < 4) body = JSON.stringify({ evaluations: Array.from({ length: r.chance(0.02) ? r.pick([1000, 1001]) : r.pick([0, 1, 3]) }, () => mutate(r, valid)), ...(r.chance(0.5) ? { options: mutate(r, { evaluations_semantic: 'deny_on_first_deny' }) } : {}), ...valid });
      else body = JSON.stringify(mutate(r, mutate(r, valid)) ?? null);
      return { method: 'POST', path: r.pick(['/access/v1/evaluation', '/access/v1/evaluation', '/access/v1/evaluations', '/access/v1/search/subject']), headers: { 'content-type': r.chance(0.95) ? 'application/json' : 'text/plain' }, body };
    };

    const TARGETS = ['/orders/5', '/orders', '/orders/secret#x', '/orders/secret;v=1', '/orders/%2e%2e/secret', '/orders/%2Fsecret', '/orders/../admin', '/orders//5', '/orders/5?x=%00', '/orders/%zz', '/orders/' + 'a'.repeat(3000), '*', 'http://evil/orders/5', ''];
    const extAuthzRequest = async (r: Rng): Promise<Req> => {
      const method = r.pick(['GET', 'DELETE', 'POST', 'PUT', 'OPTIONS', 'FOO']);
      const target = r.chance(0.6) ? r.pick(TARGETS) : '/' + enc(nastyString(r)).slice(0, 4000);
      const headers: Record<string, string> = {};
      const envoy = r.chance(0.4);
      if (!envoy) {
        headers['x-original-uri'] = target.replace(/[^\x20-\x7e]/g, '') || '/';
        headers['x-original-method'] = method;
        if (r.chance(0.2)) headers['x-forwarded-uri'] = r.pick(TARGETS) || '/';
        if (r.chance(0.2)) headers['x-forwarded-method'] = r.pick(['GET', 'x', '']);
      }
      if (r.chance(0.3)) headers['x-forwarded-for'] = r.pick(['1.2.3.4', 'garbage', '::1, 10.0.0.1', '999.1.1.1']);
      const scheme = r.pick(['DPoP', 'Bearer', 'dpop', 'Basic', '']);
      const tok = r.chance(0.7) ? accessToken : r.chance(0.5) ? nastyString(r).replace(/[^\x21-\x7e]/g, '') : `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: nastyValue(r), jti: nastyValue(r) })).toString('base64url')}.AAAA`;
      if (r.chance(0.9)) headers.authorization = `${scheme} ${tok}`.trim();
      const proof = await dpopHeader(r, key, method, `${GW}${target}`, accessToken);
      if (proof) headers.dpop = proof;
      const path = envoy ? `/ext-authz/${r.pick(['orders', 'orders', 'nope', '%00'])}${target.startsWith('/') ? target : '/' + target}` : `/ext-authz/${r.pick(['orders', 'orders', 'nope'])}`;
      return { method: envoy ? (method === 'FOO' ? 'GET' : method) : 'GET', path: path.replace(/#/g, '%23'), headers };
    };

    const adminRequest = (r: Rng): Req => {
      const identity = { id: 'svc/fuzz', kind: 'service_account', owner: 'team', purpose: 'p', labels: { a: 'b' } };
      const shapes: Array<() => Req> = [
        () => ({ method: 'POST', path: '/admin/v1/identities', headers: {}, body: JSON.stringify(mutate(r, identity)) }),
        () => ({ method: 'PATCH', path: `/admin/v1/identities/${enc(r.chance(0.5) ? 'ci/acme/api' : nastyString(r))}`, headers: {}, body: JSON.stringify(mutate(r, { owner: 'x', status: 'active' })) }),
        () => ({ method: 'GET', path: `/admin/v1/identities/${enc(nastyString(r)).slice(0, 3000)}`, headers: {} }),
        () => ({ method: 'POST', path: '/admin/v1/revocations', headers: {}, body: JSON.stringify(mutate(r, { kind: 'jti', value: 'x', reason: 'r' })) }),
        () => ({ method: 'POST', path: '/admin/v1/apply', headers: {}, body: JSON.stringify(mutate(r, { identities: [identity], routes: [ordersRoute(GW)], policies: { 'x.cedar': 'permit (principal, action, resource);' } })) }),
        () => ({ method: r.pick(['GET', 'POST', 'DELETE']), path: `/admin/v1/${r.pick(['audit', 'grants', 'issuers', 'findings', 'reviews', 'posture', 'policies', 'revocations'])}${r.chance(0.5) ? '/' + enc(nastyString(r)).slice(0, 500) : ''}?${r.pick(['limit=0', 'limit=x', 'after=-1', 'since=x', 'type=%00', 'identity=' + enc(nastyString(r)).slice(0, 500)])}`, headers: {}, ...(r.chance(0.5) ? { body: JSON.stringify(nastyValue(r)) } : {}) }),
      ];
      const req = r.pick(shapes)();
      req.headers = { authorization: `Bearer ${ADMIN_TOKEN}`, ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}) };
      if (req.method === 'GET' || req.method === 'DELETE') delete req.body;
      if (req.body === undefined) delete req.headers['content-type'];
      return req;
    };

    test(`${N} generated requests: never a 5xx, never a crash`, async () => {
      const failures: Array<{ i: number; status: number; req: Req; body: string; log: string }> = [];
      const counts = new Map<string, number>();
      let next = 0;
      const t0 = performance.now();
      const worker = async () => {
        for (let i = next++; i < N; i = next++) {
          const r = rng(SEED + i);
          const surface = i % 4;
          const req = surface === 0 ? await tokenRequest(r) : surface === 1 ? authzenRequest(r) : surface === 2 ? await extAuthzRequest(r) : adminRequest(r);
          let status: number;
          let text = '';
          try {
            const res = await fetch(b.url + req.path, { method: req.method, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}), signal: AbortSignal.timeout(30000) });
            status = res.status;
            text = await res.text();
          } catch (e) {
            // A request undici refuses to send (an invalid header value) is not the server's fault.
            if (e instanceof TypeError && !/fetch failed/.test(e.message)) continue;
            status = 0;
            text = String((e as Error).cause ?? e);
          }
          const k = `${['token', 'authzen', 'ext-authz', 'admin'][surface]} ${Math.floor(status / 100)}xx`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
          if (status >= 500 || status === 0) {
            // The server's own account of it (the stack is logged, never sent).
            const id = /request ([0-9a-f-]{36})/.exec(text)?.[1];
            const log = id ? (b.logs.find((l) => l.includes(id) && l.includes('"err"')) ?? '').slice(0, 600) : '';
            failures.push({ i, status, req: { ...req, body: req.body?.slice(0, 300) }, body: text.slice(0, 300), log });
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const secs = (performance.now() - t0) / 1000;
      process.stdout.write(`# ${kind}: ${N} inputs in ${secs.toFixed(1)} s; ${[...counts].sort().map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
      const health = await fetch(`${b.url}/healthz`);
      assert.equal(health.status, 200, 'the broker still answers');
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} inputs got a 5xx or no answer (reproduce with TETHER_FUZZ_SEED=${SEED}, input index i)`);
    });
  });
}
