import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';
import * as oauth from 'oauth4webapi';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const insecure = { [oauth.allowInsecureRequests]: true } as const;
/** Resource servers introspect with the admin token as Bearer (RFC 7662 §2.1 leaves the method open; this is ours for now). */
const adminAuth: oauth.ClientAuth = (_as, _client, _body, headers) => {
  headers.set('authorization', `Bearer ${ADMIN_TOKEN}`);
};

for (const kind of STORE_KINDS) {
  describe(`token exchange (RFC 8693 + DPoP) on ${kind}`, () => {
    let b: RunningBroker;
    let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
    let as: oauth.AuthorizationServer;
    const client: oauth.Client = { client_id: 'ci/acme/api' };

    before(async () => {
      b = await startBroker(kind);
      gha = await createWorkloadIssuer();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const issuer = new URL(b.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
    });
    after(async () => {
      await b.stop();
    });

    async function exchange(params: Record<string, string>, dpop?: oauth.DPoPHandle) {
      const res = await oauth.genericTokenEndpointRequest(as, client, oauth.None(), TE, { subject_token_type: JWT_TYPE, ...params }, { ...insecure, ...(dpop ? { DPoP: dpop } : {}) });
      return res;
    }

    test('a real OAuth client discovers the broker and gets a DPoP-bound token that verifies against the JWKS', async () => {
      assert.equal(as.token_endpoint, `${b.url}/oauth/token`);
      assert.deepEqual(as.grant_types_supported, [TE]);
      assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'));
      const keyPair = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, keyPair);
      const res = await exchange({ subject_token: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD }, dpop);
      const tr = await oauth.processGenericTokenEndpointResponse(as, client, res);
      assert.equal(tr.token_type, 'dpop');
      assert.equal(tr.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(tr.scope, 'orders:read');
      assert.ok(tr.expires_in! > 0 && tr.expires_in! <= 900);

      const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
      const { payload, protectedHeader } = await jwtVerify(tr.access_token, jwks, { issuer: b.url, audience: ORDERS_AUD, typ: 'at+jwt' });
      assert.equal(protectedHeader.alg, 'EdDSA');
      assert.equal(payload.sub, 'ci/acme/api');
      assert.equal((payload.cnf as { jkt: string }).jkt, await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)));
      assert.ok(payload.exp! - payload.iat! <= 15 * 60);
      assert.equal(typeof payload.grant, 'string');

      // Introspection (admin token as Bearer for now) says active.
      const intro = await oauth.introspectionRequest(as, client, adminAuth, tr.access_token, insecure);
      const ir = await oauth.processIntrospectionResponse(as, client, intro);
      assert.equal(ir.active, true);
      assert.equal(ir.sub, 'ci/acme/api');

      // RFC 7009: the holder revokes its own token, proving possession of its DPoP key (oauth4webapi
      // has no DPoP option for revocation: the proof goes in as a header); it becomes inactive.
      const proof = await new SignJWT({ htm: 'POST', htu: as.revocation_endpoint, jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(tr.access_token).digest('base64url') })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keyPair.publicKey) })
        .sign(keyPair.privateKey);
      const rev = await oauth.revocationRequest(as, client, oauth.None(), tr.access_token, { ...insecure, headers: { dpop: proof } });
      await oauth.processRevocationResponse(rev);
      const intro2 = await oauth.introspectionRequest(as, client, adminAuth, tr.access_token, insecure);
      assert.equal((await oauth.processIntrospectionResponse(as, client, intro2)).active, false);

      // The audit log records the issued jti, the revocation and the task's end.
      const audit = await b.admin('GET', '/admin/v1/audit?identity=ci%2Facme%2Fapi&limit=1000');
      const issued = audit.body.events.find((e: { type: string }) => e.type === 'token.issued');
      assert.equal(issued.data.jti, payload.jti);
      assert.ok(audit.body.events.some((e: { type: string; data: { jti?: string } }) => e.type === 'token.revoked' && e.data.jti === payload.jti));
      assert.ok(audit.body.events.some((e: { type: string }) => e.type === 'grant.ended'));
      const grant = await b.admin('GET', `/admin/v1/grants/${payload.grant}`);
      assert.equal(grant.body.state, 'ended');
    });

    test('a platform token may serve several exchanges; the grant is reused', async () => {
      const subject = await gha.token();
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const a = await oauth.processGenericTokenEndpointResponse(as, client, await exchange({ subject_token: subject, scope: 'orders:list', audience: ORDERS_AUD }, dpop));
      const c = await oauth.processGenericTokenEndpointResponse(as, client, await exchange({ subject_token: subject, scope: 'orders:list', audience: ORDERS_AUD }, dpop));
      assert.equal(decodeJwt(a.access_token).grant, decodeJwt(c.access_token).grant);
      assert.notEqual(decodeJwt(a.access_token).jti, decodeJwt(c.access_token).jti);
    });

    test('@approval("required") yields authorization_pending with a grant_id; after approval the same exchange succeeds', async () => {
      const params = { scope: 'orders:delete', audience: ORDERS_AUD, authorization_details: JSON.stringify([{ type: 'tether_task', purpose: 'delete test orders', ticket: 'OPS-42' }]) };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = await exchange({ subject_token: await gha.token(), ...params }, dpop);
      assert.equal(first.status, 400);
      const body = (await first.json()) as { error: string; grant_id: string };
      assert.equal(body.error, 'authorization_pending');
      assert.ok(body.grant_id);
      const again = await exchange({ subject_token: await gha.token(), ...params }, dpop);
      assert.equal(((await again.json()) as { grant_id: string }).grant_id, body.grant_id);
      const pending = await b.admin('GET', '/admin/v1/grants?state=pending');
      assert.ok(pending.body.grants.some((g: { id: string }) => g.id === body.grant_id));
      assert.equal((await b.admin('POST', `/admin/v1/grants/${body.grant_id}/approve`, {})).status, 400, 'a reason is required');
      // The approver is the authenticated operator (alice), never a name in the body.
      const alice = await b.admin('POST', '/admin/v1/operators', { name: 'alice', role: 'approver' });
      assert.equal(alice.status, 201, JSON.stringify(alice.body));
      const ok = await b.admin('POST', `/admin/v1/grants/${body.grant_id}/approve`, { reason: 'OPS-42 approved' }, { authorization: `Bearer ${alice.body.token}` });
      assert.equal(ok.body.state, 'active');
      assert.equal((await b.admin('POST', `/admin/v1/grants/${body.grant_id}/approve`, { reason: 'twice' })).status, 409);
      const tr = await oauth.processGenericTokenEndpointResponse(as, client, await exchange({ subject_token: await gha.token(), ...params }, dpop));
      const claims = decodeJwt(tr.access_token);
      assert.equal(claims.grant, body.grant_id);
      assert.deepEqual(claims.task, { id: body.grant_id, purpose: 'delete test orders', ticket: 'OPS-42' });
      const ev = await b.admin('GET', '/admin/v1/audit?type=grant.approved');
      assert.equal(ev.body.events.at(-1).data.approver, 'alice');
    });

    test('a denied grant refuses the exchange', async () => {
      const params = { scope: 'orders:delete', audience: ORDERS_AUD, authorization_details: JSON.stringify([{ type: 'tether_task', purpose: 'wipe', ticket: 'OPS-43' }]) };
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const first = (await (await exchange({ subject_token: await gha.token(), ...params }, dpop)).json()) as { grant_id: string };
      await b.admin('POST', `/admin/v1/grants/${first.grant_id}/deny`, { reason: 'not during the freeze' });
      const r = await exchange({ subject_token: await gha.token(), ...params }, dpop);
      assert.equal(r.status, 400);
      const body = (await r.json()) as { error: string; error_description: string };
      assert.equal(body.error, 'access_denied');
      assert.match(body.error_description, /freeze/);
    });

    test('break-glass needs a justification, is capped at 15 minutes, and raises its own alert event', async () => {
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const noWhy = await exchange({ subject_token: await gha.token(), scope: 'orders:admin', audience: ORDERS_AUD, authorization_details: JSON.stringify([{ type: 'tether_task', break_glass: true }]) }, dpop);
      assert.equal(noWhy.status, 400);
      assert.match(((await noWhy.json()) as { error_description: string }).error_description, /justification/);
      const notBg = await exchange({ subject_token: await gha.token(), scope: 'orders:admin', audience: ORDERS_AUD }, dpop);
      assert.equal(((await notBg.json()) as { error: string }).error, 'invalid_scope');
      const tr = await oauth.processGenericTokenEndpointResponse(
        as,
        client,
        await exchange({ subject_token: await gha.token(), scope: 'orders:admin', audience: ORDERS_AUD, authorization_details: JSON.stringify([{ type: 'tether_task', break_glass: true, justification: 'INC-7: orders stuck, on-call fix' }]) }, dpop),
      );
      const c = decodeJwt(tr.access_token);
      assert.ok(c.exp! - c.iat! <= 600);
      const alert = await b.admin('GET', '/admin/v1/audit?type=grant.break_glass');
      assert.equal(alert.body.events.length, 1);
      assert.equal(alert.body.events[0].data.justification, 'INC-7: orders stuck, on-call fix');
      const g = await b.admin('GET', `/admin/v1/grants/${c.grant}`);
      assert.equal(g.body.break_glass, true);
      assert.ok(Date.parse(g.body.not_after) - Date.parse(g.body.activated_at) <= 15 * 60 * 1000);
    });
  });
}
