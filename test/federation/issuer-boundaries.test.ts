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
      assert.match(viaGitlab.body.error_description!, /gitlab\/acme\/api is not owned/);
      const grants = (await b.admin('GET', `/admin/v1/grants?identity=${encodeURIComponent('ci/acme/api')}`)).body.grants as Array<{ issuer: string }>;
      assert.ok(grants.every((g) => g.issuer === 'github'), JSON.stringify(grants));
      assert.equal((await exchange(await github.token())).status, 200, 'the owner still gets its tokens');
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
