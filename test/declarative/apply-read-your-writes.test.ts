/**
 * What an apply commits is in force on the instance that answered it as soon as the answer arrives:
 * caches are otherwise refreshed by the change notification, a moment later, so an exchange sent
 * right after applying its issuer could be refused. Each round replaces the issuer (a new `iss` and key) and exchanges a
 * token from it at once, on PostgreSQL (where the notification makes a round trip).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

describe('apply, then use at once (pg)', () => {
  let b: RunningBroker;
  before(async () => {
    b = await startBroker('pg');
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, policies: EXCHANGE_POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b?.stop();
  });

  test('an issuer applied is trusted by the next request, every time', async () => {
    const key = await createDpopKey();
    for (let i = 0; i < 15; i++) {
      const issuer = await createWorkloadIssuer({ iss: `https://issuer-${i}.example.test` });
      const applied = await b.admin('POST', '/admin/v1/apply', { identities: [], issuers: [issuer.config()] });
      assert.equal(applied.status, 200, JSON.stringify(applied.body));
      const t = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await issuer.token(), scope: 'orders:read', audience: ORDERS_AUD });
      assert.equal(t.status, 200, `round ${i}: ${JSON.stringify(t.body)}`);
    }
  });
});
