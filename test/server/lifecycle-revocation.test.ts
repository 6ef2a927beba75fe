import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../helpers/gateway-fixture.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const ID = 'ci/acme/api';
const GW = 'http://envoy.lifecycle.test';
/**
 * Token iat has whole seconds, so the revocation set treats a token issued in the second of a
 * revocation as issued before it (fail closed): tokens meant to outlive one start a second later.
 */
const nextSecond = () => new Promise((r) => setTimeout(r, 1001 - (Date.now() % 1000)));
const idPath = `/admin/v1/identities/${encodeURIComponent(ID)}`;

for (const kind of STORE_KINDS) {
  describe(`issuer revocation stops the issuer; suspension and retirement end access (${kind})`, () => {
    let b: RunningBroker;
    let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
    let bundle: Record<string, unknown>;

    before(async () => {
      b = await startBroker(kind);
      gha = await createWorkloadIssuer();
      bundle = { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES }, routes: [ordersRoute(GW)] };
      const r = await b.admin('POST', '/admin/v1/apply', bundle);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => {
      await b?.stop();
    });

    const exchange = async (key?: Awaited<ReturnType<typeof createDpopKey>>) =>
      exchangeForToken({ endpointBase: b.url, key: key ?? (await createDpopKey()), subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD });
    /** The gateway check, Envoy style (the original request's path appended to the route). */
    const extAuthz = async (token: string, key: Awaited<ReturnType<typeof createDpopKey>>) =>
      (await fetch(`${b.url}/ext-authz/orders/orders/7`, { headers: { authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}/orders/7`, { accessToken: token }) } })).status;
    const issue = async (): Promise<string> => {
      const r = await exchange();
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.access_token!;
    };
    const introspect = async (t: string): Promise<boolean> => {
      const res = await fetch(`${b.url}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${ADMIN_TOKEN}` },
        body: `token=${t}`,
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { active: boolean }).active;
    };
    const grantState = async (t: string) => (await b.admin('GET', `/admin/v1/grants/${String(decodeJwt(t).grant)}`)).body.state as string;
    const refusedNow = async (re: RegExp) => {
      const r = await exchange();
      assert.ok(r.status >= 400 && r.status < 500, `status ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error, 'invalid_grant');
      assert.equal(r.body.access_token, undefined);
      assert.match(r.body.error_description!, re);
    };

    test('a revoked issuer is refused at the next exchange, stays refused across re-apply, and is back only once restored (audited)', async () => {
      const t = await issue();
      assert.equal(await introspect(t), true);
      // A misspelt issuer stops nothing, so it is refused rather than recorded.
      const typo = await b.admin('POST', '/admin/v1/revocations', { kind: 'issuer', value: 'githb', reason: 'issuer key leaked' });
      assert.equal(typo.status, 404, JSON.stringify(typo.body));
      assert.match(String(typo.body.error_description ?? typo.body.message ?? JSON.stringify(typo.body)), /no issuer named "githb"/);
      const rv = await b.admin('POST', '/admin/v1/revocations', { kind: 'issuer', value: 'github', reason: 'issuer key leaked' });
      assert.equal(rv.status, 201, JSON.stringify(rv.body));
      assert.equal(rv.body.grants_revoked, 1);

      await refusedNow(/no trusted issuer/);
      assert.equal(await introspect(t), false, 'tokens issued through the issuer die');
      assert.equal(await grantState(t), 'revoked', 'its live grants end');
      const listed = (await b.admin('GET', '/admin/v1/issuers')).body.issuers as Array<{ name: string; revoked: boolean }>;
      assert.deepEqual(listed.map((i) => [i.name, i.revoked]), [['github', true]]);

      // Applying the same configuration again changes nothing and does not lift the stop.
      const again = await b.admin('POST', '/admin/v1/apply', bundle);
      assert.equal(again.body.changed, false, JSON.stringify(again.body));
      await refusedNow(/no trusted issuer/);

      assert.equal((await b.admin('POST', '/admin/v1/issuers/github/restore', {})).status, 400, 'a reason is required');
      assert.equal((await b.admin('POST', '/admin/v1/issuers/nope/restore', { reason: 'x' })).status, 409);
      const restored = await b.admin('POST', '/admin/v1/issuers/github/restore', { reason: 'issuer rotated its keys' });
      assert.equal(restored.status, 200, JSON.stringify(restored.body));
      assert.equal(restored.body.revocation_id, rv.body.id);
      assert.equal((await b.admin('POST', '/admin/v1/issuers/github/restore', { reason: 'twice' })).status, 409);
      await nextSecond();

      const t2 = await issue();
      assert.equal(await introspect(t2), true);
      assert.equal(await introspect(t), false, 'restoring the issuer does not revive revoked tokens');
      const audit = await b.admin('GET', '/admin/v1/audit?type=issuer.restored');
      assert.equal(audit.body.events.length, 1);
      assert.equal(audit.body.events[0].actor, 'admin');
      assert.equal(audit.body.events[0].data.reason, 'issuer rotated its keys');
    });

    test('suspending an identity (admin PATCH) ends its grants and revokes its tokens in the same transaction', async () => {
      const key = await createDpopKey();
      const ex = await exchange(key);
      assert.equal(ex.status, 200, JSON.stringify(ex.body));
      const t = ex.body.access_token!;
      assert.equal(await introspect(t), true);
      assert.equal(await extAuthz(t, key), 200);
      // Grants are per task instance (one per DPoP key here): every live one of the identity ends.
      const live = ((await b.admin('GET', `/admin/v1/grants?identity=${encodeURIComponent(ID)}&state=active&limit=100`)).body.grants as unknown[]).length;
      assert.ok(live >= 1);
      const p = await b.admin('PATCH', idPath, { status: 'suspended' });
      assert.equal(p.status, 200, JSON.stringify(p.body));
      assert.equal(await introspect(t), false);
      assert.ok([401, 403].includes(await extAuthz(t, key)), 'the gateway refuses it too');
      assert.equal(await grantState(t), 'revoked');
      await refusedNow(/suspended/);
      const ev = (await b.admin('GET', `/admin/v1/audit?type=identity.updated&identity=${encodeURIComponent(ID)}`)).body.events.at(-1);
      assert.deepEqual(ev.data.changed, ['status']);
      assert.equal(typeof ev.data.revocation_id, 'number');
      assert.equal(ev.data.grants_revoked, live);
      const rows = (await b.admin('GET', '/admin/v1/revocations?limit=1000')).body.revocations as Array<{ id: number; kind: string; value: string }>;
      assert.ok(rows.some((r) => r.id === ev.data.revocation_id && r.kind === 'identity' && r.value === ID));

      // Reactivated: new tokens work, the old one stays dead.
      assert.equal((await b.admin('PATCH', idPath, { status: 'active' })).status, 200);
      await nextSecond();
      const t2 = await issue();
      assert.equal(await introspect(t2), true);
      assert.equal(await introspect(t), false);
    });

    test('suspending through apply ends access too', async () => {
      const t = await issue();
      const r = await b.admin('POST', '/admin/v1/apply', { identities: [{ ...EXCHANGE_IDENTITIES[0], status: 'suspended' }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // Learned by this instance through the store's change notice, as every other instance does.
      let active = true;
      for (let i = 0; i < 100 && active; i++) {
        active = await introspect(t);
        if (active) await new Promise((res) => setTimeout(res, 10));
      }
      assert.equal(active, false);
      assert.equal(await grantState(t), 'revoked');
      assert.equal((await b.admin('PATCH', idPath, { status: 'active' })).status, 200);
      await nextSecond();
    });

    test('retiring an identity ends its grants and revokes its tokens', async () => {
      const t = await issue();
      assert.equal(await introspect(t), true);
      const r = await b.admin('DELETE', idPath, { reason: 'pipeline removed' });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, 'retired');
      assert.equal(await introspect(t), false);
      assert.equal(await grantState(t), 'revoked');
      await refusedNow(/retired/);
      const ev = (await b.admin('GET', `/admin/v1/audit?type=identity.retired&identity=${encodeURIComponent(ID)}`)).body.events[0];
      assert.equal(ev.data.grants_revoked, 1);
      assert.equal(typeof ev.data.revocation_id, 'number');
    });
  });
}
