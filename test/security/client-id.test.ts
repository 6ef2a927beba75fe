/**
 * A token-exchange caller has no client authentication but its subject token (DESIGN.md flow 1), so
 * the issued token's `client_id` (RFC 9068 §2.2) is that verified workload. A `client_id` form
 * parameter used to be copied into the signed token (and the audit record, and introspection):
 * unverified input dressed as a signed fact naming another client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { RunningBroker } from '../helpers/broker.js';
import { exchangeForToken, type createDpopKey } from '../helpers/dpop.js';
import type { createWorkloadIssuer } from '../helpers/workload-issuer.js';
import { ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';
import { ORDERS_AUD } from '../helpers/workload-issuer.js';

describe('the issued token names the verified workload as its client', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let key: Awaited<ReturnType<typeof createDpopKey>>;

  before(async () => {
    ({ b, gha, key } = await startGatewayBroker([ordersRoute('http://gw.example.test')]));
  });
  after(async () => {
    await b?.stop();
  });

  test('a client_id parameter naming someone else does not reach the token, introspection or the audit log', async () => {
    const { status, body } = await exchangeForToken({
      endpointBase: b.url,
      key,
      subjectToken: await gha.token(),
      scope: 'orders:read',
      audience: ORDERS_AUD,
      extra: { client_id: 'ci/acme/payments-admin' },
    });
    assert.equal(status, 200, JSON.stringify(body));
    const claims = decodeJwt(body.access_token!);
    assert.equal(claims.sub, 'ci/acme/api');
    assert.equal(claims['client_id'], 'ci/acme/api');

    const intro = await fetch(`${b.url}/oauth/introspect`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789abcdef', 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: body.access_token! }).toString() });
    const seen = (await intro.json()) as { active: boolean; client_id?: string };
    assert.deepEqual([seen.active, seen.client_id], [true, 'ci/acme/api']);

    const issued = (await b.admin('GET', '/admin/v1/audit?type=token.issued&limit=10000')).body.events as Array<{ data: { jti: string; client_id: string } }>;
    const mine = issued.find((e) => e.data.jti === claims.jti)!;
    assert.equal(mine.data.client_id, 'ci/acme/api');
    assert.doesNotMatch(JSON.stringify(issued), /payments-admin/);
  });
});
