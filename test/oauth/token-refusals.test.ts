import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { base64url, decodeJwt, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';

const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

describe('token endpoint refusals: 4xx with an RFC 6749 error, never a token, never a 5xx', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let tokenUrl: string;

  before(async () => {
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    key = await createDpopKey();
    tokenUrl = `${b.url}/oauth/token`;
    const r = await b.admin('POST', '/admin/v1/apply', {
      identities: [...EXCHANGE_IDENTITIES, { id: 'ci/acme/suspended', kind: 'ci_job', owner: 'x', status: 'suspended' }],
      issuers: [gha.config()],
      policies: EXCHANGE_POLICIES,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b.stop();
  });

  async function post(params: Record<string, string>, dpop?: string | null, extraHeaders: Record<string, string> = {}) {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...extraHeaders };
    if (dpop !== null) headers.dpop = dpop ?? (await key.proof('POST', tokenUrl));
    const res = await fetch(tokenUrl, { method: 'POST', headers, body: new URLSearchParams(params).toString() });
    const text = await res.text();
    let body: Record<string, string> = {};
    try {
      body = JSON.parse(text) as Record<string, string>;
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body, headers: res.headers };
  }
  const base = async (o: Record<string, string> = {}) => ({ grant_type: TE, subject_token: await gha.token(), subject_token_type: JWT_TYPE, scope: 'orders:read', audience: ORDERS_AUD, ...o });

  async function refused(params: Record<string, string>, error: string, dpop?: string | null, re?: RegExp) {
    const r = await post(params, dpop);
    assert.ok(r.status >= 400 && r.status < 500, `status ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error, error, JSON.stringify(r.body));
    assert.equal(typeof r.body.error_description, 'string');
    assert.equal(r.body.access_token, undefined);
    if (re) assert.match(r.body.error_description!, re);
    return r;
  }

  test('the happy path works with the same helpers (so each refusal below is about its one defect)', async () => {
    const r = await post(await base());
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.token_type, 'DPoP');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  test('subject token defects', async () => {
    const other = await createWorkloadIssuer();
    await refused(await base({ subject_token: await other.token() }), 'invalid_grant'); // unknown key (same kid, other key)
    await refused(await base({ subject_token: await gha.token({}, { kid: 'unknown-kid' }) }), 'invalid_grant');
    const wrongIss = await createWorkloadIssuer({ iss: 'https://evil.example' });
    await refused(await base({ subject_token: await wrongIss.token({}, { key: gha.privateKey }) }), 'invalid_grant');
    const wrongAud = await createWorkloadIssuer({ aud: 'someone-else' });
    await refused(await base({ subject_token: await wrongAud.token({}, { key: gha.privateKey }) }), 'invalid_grant');
    await refused(await base({ subject_token: await gha.token({}, { iat: Math.floor(Date.now() / 1000) - 4000, ttl: 300 }) }), 'invalid_grant', undefined, /exp/);
    await refused(await base({ subject_token: await gha.token({}, { iat: Math.floor(Date.now() / 1000) + 3600 }) }), 'invalid_grant');
    await refused(await base({ subject_token: await gha.token({ repository_owner: 'evil' }) }), 'invalid_grant', undefined, /repository_owner/);
    // alg: none
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: gha.iss, aud: gha.aud, sub: 'x', repository: 'acme/api', repository_owner: 'acme', iat: now, exp: now + 300 };
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(payload))}.`;
    await refused(await base({ subject_token: none }), 'invalid_grant');
    // HS256 keyed with the issuer's public key (the classic confusion attack)
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'test-key-1' }).sign(new TextEncoder().encode(JSON.stringify(gha.publicJwk)));
    await refused(await base({ subject_token: hs }), 'invalid_grant');
    // jku / x5u pointing at the attacker's keys: ignored, the token is still checked against configured keys only
    const attacker = (await generateKeyPair('ES256')).privateKey as CryptoKey;
    const jku = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'attacker', jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert' }).sign(attacker);
    await refused(await base({ subject_token: jku }), 'invalid_grant');
    // garbage and oversized
    await refused(await base({ subject_token: 'not-a-jwt' }), 'invalid_grant');
    await refused(await base({ subject_token: 'a'.repeat(40000) }), 'invalid_grant');
  });

  test('request defects', async () => {
    await refused(await base({ grant_type: 'client_credentials' }), 'unsupported_grant_type');
    await refused(await base({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 'invalid_request');
    const noSubject = await base();
    delete (noSubject as Record<string, string>).subject_token;
    await refused(noSubject, 'invalid_request', undefined, /subject_token/);
    await refused(await base({ scope: '' }), 'invalid_scope');
    await refused(await base({ scope: 'orders:read <script>' }), 'invalid_scope');
    const noAud = await base();
    delete (noAud as Record<string, string>).audience;
    await refused(noAud, 'invalid_target');
    await refused(await base({ authorization_details: '{not json' }), 'invalid_request');
    await refused(await base({ authorization_details: JSON.stringify([{ type: 'payment_initiation' }]) }), 'invalid_request');
    await refused(await base({ client_secret: 'hunter2' }), 'invalid_request', undefined, /no client secret/);
    // a repeated parameter is refused, not guessed at (RFC 6749 §3.2)
    const body = new URLSearchParams(await base());
    body.append('scope', 'orders:delete');
    const res = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: await key.proof('POST', tokenUrl) }, body: body.toString() });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error_description: string }).error_description, /repeated/);
    // wrong content type, oversized body
    const ct = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await base()) });
    assert.equal(ct.status, 400);
    const big = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=' + 'x'.repeat(1024 * 1024 + 1) });
    assert.equal(big.status, 413);
  });

  test('policy refusals: a scope the policy does not allow, default deny, suspended and unknown identities', async () => {
    await refused(await base({ scope: 'orders:read orders:refund' }), 'invalid_scope', undefined, /orders:refund/);
    await refused(await base({ audience: 'https://payments.example.test' }), 'invalid_scope');
    await refused(await base({ subject_token: await gha.token({ repository: 'acme/suspended' }) }), 'invalid_grant', undefined, /suspended/);
    // A workload first seen through a trusted issuer is recorded as unowned and refused until owned.
    await refused(await base({ subject_token: await gha.token({ repository: 'acme/new-service' }) }), 'invalid_grant', undefined, /unowned|owner/);
    const discovered = await b.admin('GET', '/admin/v1/identities/ci%2Facme%2Fnew-service');
    assert.equal(discovered.body.status, 'unowned');
    assert.equal(discovered.body.discovered_by, 'github');
    const patched = await b.admin('PATCH', '/admin/v1/identities/ci%2Facme%2Fnew-service', { owner: 'team-new' });
    assert.equal(patched.body.status, 'active');
  });

  test('DPoP defects: missing, foreign, stale, replayed, wrong method or URL, private key inside, wrong typ, symmetric alg', async () => {
    await refused(await base(), 'invalid_dpop_proof', null, /DPoP/);
    await refused(await base(), 'invalid_dpop_proof', await key.proof('GET', tokenUrl));
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', 'https://other.example/oauth/token'));
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', tokenUrl, { iat: Math.floor(Date.now() / 1000) - 600 }));
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', tokenUrl, { iat: Math.floor(Date.now() / 1000) + 600 }));
    const once = await key.proof('POST', tokenUrl);
    assert.equal((await post(await base(), once)).status, 200);
    await refused(await base(), 'invalid_dpop_proof', once, /replay|used/i);
    // signed by another key than the one in the header ("foreign")
    const other = await createDpopKey();
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', tokenUrl, { key: other.privateKey }));
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', tokenUrl, { headerJwk: await key.privateJwk() }), /private|public key/);
    await refused(await base(), 'invalid_dpop_proof', await key.proof('POST', tokenUrl, { typ: 'JWT' }));
    const hs = await new SignJWT({ htm: 'POST', htu: tokenUrl, jti: 'x1', iat: Math.floor(Date.now() / 1000) })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: 'c2VjcmV0' } as unknown as { kty: string } })
      .sign(new TextEncoder().encode('secret'));
    await refused(await base(), 'invalid_dpop_proof', hs);
    await refused(await base(), 'invalid_dpop_proof', 'garbage');
    const two = `${await key.proof('POST', tokenUrl)}, ${await key.proof('POST', tokenUrl)}`;
    await refused(await base(), 'invalid_dpop_proof', two);
  });

  test('every refusal is audited with its reason; issued tokens are audited with their jti', async () => {
    const refusals = await b.admin('GET', '/admin/v1/audit?type=token.refused&limit=1000');
    assert.ok(refusals.body.events.length >= 20);
    for (const e of refusals.body.events) {
      assert.equal(typeof e.data.error, 'string');
      assert.equal(typeof e.data.reason, 'string');
      assert.ok(!JSON.stringify(e).includes('eyJ'), 'no token in the audit record');
    }
    const issued = await b.admin('GET', '/admin/v1/audit?type=token.issued&limit=1000');
    assert.ok(issued.body.events.every((e: { data: { jti: string } }) => typeof e.data.jti === 'string'));
    assert.ok(!b.logs.join('').includes('eyJ'), 'no token in the logs');
  });

  test('admin revocation by jti, grant, identity and issuer; keys rotate and old keys stay in the JWKS', async () => {
    const issue = async () => {
      const r = await post(await base());
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.access_token!;
    };
    const introspect = async (t: string) => {
      const res = await fetch(`${b.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer test-admin-token-0123456789abcdef` }, body: `token=${t}` });
      return ((await res.json()) as { active: boolean }).active;
    };
    const noAuth = await fetch(`${b.url}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });
    assert.equal(noAuth.status, 401);

    const t1 = await issue();
    assert.equal(await introspect(t1), true);
    assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: decodeJwt(t1).jti, reason: 'leaked in a log' })).status, 201);
    assert.equal(await introspect(t1), false);

    const t2 = await issue();
    await b.admin('POST', '/admin/v1/revocations', { kind: 'grant', value: decodeJwt(t2).grant, reason: 'task cancelled' });
    assert.equal(await introspect(t2), false);
    assert.equal((await b.admin('GET', `/admin/v1/grants/${decodeJwt(t2).grant}`)).body.state, 'revoked');

    const t3 = await issue();
    await b.admin('POST', '/admin/v1/revocations', { kind: 'issuer', value: 'github', reason: 'issuer compromised' });
    assert.equal(await introspect(t3), false);
    // A revoked issuer stays stopped until an operator restores it.
    await refused(await base(), 'invalid_grant', undefined, /no trusted issuer/);
    assert.equal((await b.admin('POST', '/admin/v1/issuers/github/restore', { reason: 'keys rotated at the issuer' })).status, 200);

    const t4 = await issue();
    const kidBefore = (await b.admin('GET', '/admin/v1/keys')).body.active.kid;
    const rot = await b.admin('POST', '/admin/v1/keys/rotate', {});
    assert.notEqual(rot.body.kid, kidBefore);
    const jwks = (await (await fetch(`${b.url}/oauth/jwks`)).json()) as { keys: Array<{ kid: string }> };
    assert.ok(jwks.keys.some((k) => k.kid === kidBefore) && jwks.keys.some((k) => k.kid === rot.body.kid));
    assert.equal(await introspect(t4), true, 'tokens signed by the retired key stay valid until they expire');
    const t5 = await issue();
    assert.equal((JSON.parse(Buffer.from(t5.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid, rot.body.kid);

    await b.admin('POST', '/admin/v1/revocations', { kind: 'identity', value: 'ci/acme/api', reason: 'owner left' });
    assert.equal(await introspect(t4), false);
    assert.equal(await introspect(t5), false);
    assert.equal((await b.admin('GET', '/admin/v1/identities/ci%2Facme%2Fapi')).body.status, 'suspended');
    await refused(await base(), 'invalid_grant', undefined, /suspended/);
    assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'team', value: 'x', reason: 'y' })).status, 400);
  });
});
