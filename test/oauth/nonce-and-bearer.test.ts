import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const POLICIES = {
  'p.cedar': `
@id("reads")
permit (principal == Identity::"ci/acme/api", action == Action::"orders:read", resource);

@id("legacy-bearer")
@bearer("allowed")
permit (principal == Identity::"ci/acme/api", action == Action::"legacy:read", resource);
`,
};

describe('DPoP server nonces (--require-dpop-nonce) and policy-allowed bearer tokens', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  before(async () => {
    b = await startBroker('pglite', { requireDpopNonce: true });
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b.stop();
  });

  const exchange = async (scope: string, dpop?: string) =>
    fetch(`${b.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(dpop ? { dpop } : {}) },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: await gha.token(),
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        scope,
        audience: ORDERS_AUD,
      }).toString(),
    });

  test('a proof without the server nonce gets use_dpop_nonce and a DPoP-Nonce header; with it, a token', async () => {
    const key = await createDpopKey();
    const htu = `${b.url}/oauth/token`;
    const first = await exchange('orders:read', await key.proof('POST', htu));
    assert.equal(first.status, 400);
    assert.equal(((await first.json()) as { error: string }).error, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    assert.ok(nonce);
    const stale = await exchange('orders:read', await key.proof('POST', htu, { nonce: 'not-a-nonce' }));
    assert.equal(((await stale.json()) as { error: string }).error, 'use_dpop_nonce');
    const ok = await exchange('orders:read', await key.proof('POST', htu, { nonce }));
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.ok(ok.headers.get('dpop-nonce'), 'a fresh nonce comes with every answer');
  });

  test('without a proof, a token is issued only where every deciding policy allows bearer, and audited as such', async () => {
    const denied = await exchange('orders:read');
    assert.equal(((await denied.json()) as { error: string }).error, 'invalid_dpop_proof');
    const res = await exchange('legacy:read');
    const body = (await res.json()) as { token_type: string; access_token: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.token_type, 'Bearer');
    assert.equal(decodeJwt(body.access_token).cnf, undefined);
    const ev = await b.admin('GET', '/admin/v1/audit?type=token.issued&limit=100');
    assert.ok(ev.body.events.some((e: { data: { bearer: boolean; scope: string[] } }) => e.data.bearer && e.data.scope.includes('legacy:read')));
  });
});
