import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

for (const kind of STORE_KINDS) {
  describe(`issuer boundaries over HTTP (${kind})`, () => {
    let b: RunningBroker;
    let github: Awaited<ReturnType<typeof createWorkloadIssuer>>;
    let gitlab: Awaited<ReturnType<typeof createWorkloadIssuer>>;

    before(async () => {
      b = await startBroker(kind);
      github = await createWorkloadIssuer();
      gitlab = await createWorkloadIssuer({ iss: 'https://gitlab.example.test' });
      const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [github.config()], policies: EXCHANGE_POLICIES });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    });
    after(async () => {
      await b?.stop();
    });

    const exchange = async (subjectToken: string) => exchangeForToken({ endpointBase: b.url, key: await createDpopKey(), subjectToken, scope: 'orders:read', audience: ORDERS_AUD });

    test('an identity template that could map onto another issuer\'s identities is refused at apply, naming both', async () => {
      for (const identity of ['ci/{repository}', 'ci/{sub}', '{repository}', 'ci/acme/api']) {
        const r = await b.admin('POST', '/admin/v1/apply', { issuers: [gitlab.config({ name: 'gitlab', identity })] });
        assert.equal(r.status, 400, `${identity}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'invalid_request');
        assert.match(r.body.error_description, /issuer "gitlab" identity: .*issuer "github"/);
        const direct = await b.admin('POST', '/admin/v1/issuers', gitlab.config({ name: 'gitlab', identity }));
        assert.equal(direct.status, 400, identity);
      }
      assert.equal((await b.admin('GET', '/admin/v1/issuers')).body.issuers.length, 1, 'nothing was stored');
    });

    test('an identity owned through one issuer cannot be reached through another', async () => {
      const r = await b.admin('POST', '/admin/v1/apply', { issuers: [gitlab.config({ name: 'gitlab', identity: 'gitlab/{repository}' })] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // The same claims as the GitHub workload that owns ci/acme/api, signed by the other issuer
      // (polled: applied issuers reach the token endpoint through the store's change notice).
      let viaGitlab = await exchange(await gitlab.token({ repository: 'acme/api', sub: 'ci/acme/api' }));
      for (let i = 0; i < 100 && /no trusted issuer/.test(viaGitlab.body.error_description ?? ''); i++) {
        await new Promise((res) => setTimeout(res, 10));
        viaGitlab = await exchange(await gitlab.token({ repository: 'acme/api', sub: 'ci/acme/api' }));
      }
      assert.equal(viaGitlab.status, 400, JSON.stringify(viaGitlab.body));
      assert.equal(viaGitlab.body.error, 'invalid_grant');
      assert.match(viaGitlab.body.error_description!, /"gitlab\/acme\/api" is unowned/);
      const grants = (await b.admin('GET', `/admin/v1/grants?identity=${encodeURIComponent('ci/acme/api')}`)).body.grants as Array<{ issuer: string }>;
      assert.ok(grants.every((g) => g.issuer === 'github'), JSON.stringify(grants));
      assert.equal((await exchange(await github.token())).status, 200, 'the owner still gets its tokens');
    });

    test('an unusable jwks_uri is refused at apply, naming the issuer and field; unreachable keys fail exchanges with an OAuth 4xx/503, never a 500', async () => {
      for (const jwks_uri of ['http://keys.example.test/jwks', 'http://127.0.0.1:9/jwks']) {
        const cfg = { name: 'plain-http', issuer: 'https://plain.example.test', audience: 'tether', jwks_uri, identity: 'plain/{repository}' };
        for (const r of [await b.admin('POST', '/admin/v1/apply', { issuers: [cfg] }), await b.admin('POST', '/admin/v1/issuers', cfg)]) {
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.equal(r.body.error, 'invalid_request');
          assert.match(r.body.error_description, /issuer config "plain-http": jwks_uri: must use https/);
        }
      }
      // Reachable config, unreachable keys.
      const down = await createWorkloadIssuer({ iss: 'https://down.example.test' });
      const applied = await b.admin('POST', '/admin/v1/issuers', { ...down.config({ name: 'down', identity: 'down/{repository}' }), jwks: undefined, jwks_uri: 'https://127.0.0.1:1/jwks' });
      assert.equal(applied.status, 201, JSON.stringify(applied.body));
      const r1 = await exchange(await down.token());
      assert.ok(r1.status === 503 || (r1.status >= 400 && r1.status < 500), `status ${r1.status} ${JSON.stringify(r1.body)}`);
      assert.equal(typeof r1.body.error, 'string');
      assert.match(r1.body.error_description!, /keys/);
      // A config stored before https was enforced at apply: the exchange is unavailable, not a 500.
      const legacy = await createWorkloadIssuer({ iss: 'https://legacy.example.test' });
      const cfg = { ...legacy.config({ name: 'legacy', identity: 'legacy/{repository}' }), jwks: undefined, jwks_uri: 'http://127.0.0.1:9/jwks' };
      await b.broker.store.query(`INSERT INTO issuers (name, config, updated_at) VALUES ('legacy', $1, now())`, [JSON.stringify(cfg)]);
      await b.broker.tokens.issuers.reload();
      const r2 = await exchange(await legacy.token());
      assert.equal(r2.status, 503, JSON.stringify(r2.body));
      assert.equal(r2.body.error, 'unavailable');
      assert.match(r2.body.error_description!, /jwks_uri must use https/);
    });

    test('a subject token with an absurd lifetime or a future iat is refused', async () => {
      const longLived = await exchange(await github.token({}, { ttl: 3 * 86_400 }));
      assert.equal(longLived.status, 400, JSON.stringify(longLived.body));
      assert.equal(longLived.body.error, 'invalid_grant');
      assert.match(longLived.body.error_description!, /lifetime/);
      const future = await exchange(await github.token({}, { iat: Math.floor(Date.now() / 1000) + 3600 }));
      assert.equal(future.status, 400, JSON.stringify(future.body));
      assert.equal(future.body.error, 'invalid_grant');
    });
  });
}
