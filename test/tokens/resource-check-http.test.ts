/**
 * The resource-server check's other users over HTTP: RFC 7009 revocation needs proof of possession
 * for a DPoP-bound token, introspection answers `active: false` for a suspended identity, the token
 * endpoint refuses an unusable DPoP jwk with 400, and the DPoP challenge is exact.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const GW = 'http://envoy.test';

for (const kind of STORE_KINDS) {
  describe(`resource-server check: revocation, introspection, challenges (${kind})`, () => {
    let b: RunningBroker;
    let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;

    before(async () => {
      b = await startBroker(kind);
      gha = await createWorkloadIssuer();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => b?.stop());

    const issue = async (key: Awaited<ReturnType<typeof createDpopKey>>) => {
      const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
      assert.equal(t.status, 200, JSON.stringify(t.body));
      return t.body.access_token!;
    };
    const introspect = async (token: string) =>
      (await b.admin('POST', '/oauth/introspect', `token=${token}`, { 'content-type': 'application/x-www-form-urlencoded' })).body as { active: boolean };
    const revoke = (token: string, dpop?: string) =>
      fetch(`${b.url}/oauth/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop } : {}) }, body: `token=${token}` });

    test('RFC 7009: a bare copy of a DPoP-bound token cannot revoke it; a proof by its key can', async () => {
      const key = await createDpopKey();
      const token = await issue(key);
      const url = `${b.url}/oauth/revoke`;
      const bare = await revoke(token);
      assert.equal(bare.status, 400);
      assert.equal(((await bare.json()) as { error: string }).error, 'invalid_dpop_proof');
      const thief = await createDpopKey();
      assert.equal((await revoke(token, await thief.proof('POST', url, { accessToken: token }))).status, 400, 'a proof by another key');
      assert.equal((await revoke(token, await key.proof('POST', url))).status, 400, 'a proof without ath');
      assert.equal((await revoke(token, await key.proof('POST', `${b.url}/oauth/token`, { accessToken: token }))).status, 400, 'a proof for another URL');
      assert.equal((await introspect(token)).active, true, 'none of these revoked it');
      const ok = await revoke(token, await key.proof('POST', url, { accessToken: token }));
      assert.equal(ok.status, 200);
      assert.equal((await introspect(token)).active, false);
      // §2.2: revoking a token that is no longer valid answers 200 (no proof needed for a dead token).
      assert.equal((await revoke(token)).status, 200);
      assert.equal((await revoke('not-a-token')).status, 200);
    });

    test('RFC 7662: the token of a suspended identity is not active', async () => {
      const token = await issue(await createDpopKey());
      assert.equal((await introspect(token)).active, true);
      const id = encodeURIComponent(EXCHANGE_IDENTITIES[0]!.id);
      assert.equal((await b.admin('PATCH', `/admin/v1/identities/${id}`, { status: 'suspended' })).status, 200);
      try {
        let active = true;
        for (let i = 0; i < 50 && active; i++) active = (await introspect(token)).active;
        assert.equal(active, false);
      } finally {
        assert.equal((await b.admin('PATCH', `/admin/v1/identities/${id}`, { status: 'active' })).status, 200);
        // The suspension revoked the identity's tokens issued up to its second (token `iat` has whole
        // seconds, so the revocation fails closed for that second): later tests start in the next one.
        await new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
      }
    });

    test('a DPoP jwk that is no usable key is a 400 invalid_dpop_proof at the token endpoint, never a 500', async () => {
      const key = await createDpopKey();
      for (const jwk of [{ kty: 'foo' }, { kty: 'EC', x: key.jwk.x, y: key.jwk.y }, { kty: 'RSA', e: 'AQAB' }, { kty: 'EC', crv: 'P-256', x: [1] }, {}]) {
        const bad = { proof: (htm: string, htu: string) => key.proof(htm, htu, { headerJwk: jwk as never }) };
        const r = await exchangeForToken({ endpointBase: b.url, key: bad, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
        assert.equal(r.status, 400, JSON.stringify(jwk));
        assert.equal(r.body.error, 'invalid_dpop_proof');
        assert.equal(typeof r.body.error_description, 'string');
      }
    });

    test('WWW-Authenticate: DPoP challenge with the metadata\'s algs, exactly', async () => {
      const meta = (await (await fetch(`${b.url}/.well-known/oauth-authorization-server`)).json()) as { dpop_signing_alg_values_supported: string[] };
      const algs = meta.dpop_signing_alg_values_supported.join(' ');
      assert.ok(meta.dpop_signing_alg_values_supported.length >= 4);
      const none = await fetch(`${b.url}/ext-authz/orders/orders/1`);
      assert.equal(none.status, 401);
      // RFC 6750 §3.1: no credential, no error code.
      assert.equal(none.headers.get('www-authenticate'), `DPoP algs="${algs}"`);
      const bad = await fetch(`${b.url}/ext-authz/orders/orders/1`, { headers: { authorization: 'DPoP not-a-jwt' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers.get('www-authenticate'), `DPoP error="invalid_token", error_description="access token is not a well-formed JWS", algs="${algs}"`);
      const key = await createDpopKey();
      const token = await issue(key);
      const noProof = await fetch(`${b.url}/ext-authz/orders/orders/1`, { headers: { authorization: `DPoP ${token}` } });
      assert.equal(noProof.status, 401);
      assert.equal(noProof.headers.get('www-authenticate'), `DPoP error="invalid_dpop_proof", error_description="exactly one DPoP proof is required", algs="${algs}"`);
      const two = `${await key.proof('GET', `${GW}/orders/1`, { accessToken: token })}, ${await key.proof('GET', `${GW}/orders/1`, { accessToken: token })}`;
      const twice = await fetch(`${b.url}/ext-authz/orders/orders/1`, { headers: { authorization: `DPoP ${token}`, dpop: two } });
      assert.equal(twice.status, 401);
      assert.equal(twice.headers.get('www-authenticate'), `DPoP error="invalid_dpop_proof", error_description="exactly one DPoP header is allowed", algs="${algs}"`);
    });
  });
}
