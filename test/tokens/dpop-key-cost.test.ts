/**
 * The proof key is the client's choice (RFC 9449 §4.2) and its signature is verified synchronously on
 * the event loop (src/tokens/jws-signature.ts), before the subject token authenticates anyone: a key
 * whose verification is expensive must be refused before OpenSSL runs it. A 3072-bit RSA modulus
 * with a 3072-bit public exponent passes OpenSSL's own limits and costs ~20–30 ms per verify.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { JWK } from 'jose';
import { createMemoryReplayGuard, verifyDpopProof } from '../../src/tokens/index.js';
import { publicKeyFor } from '../../src/tokens/jws-signature.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../helpers/workload-issuer.js';
import { fakeClock, rejectsWith } from './helpers.js';

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** An RSA public JWK with a random odd modulus of `bits` bits and a random odd exponent of `eBits` bits (< n). */
function rsaJwk(bits: number, eBits: number): JWK {
  const n = randomBytes(bits / 8);
  n[0]! |= 0x80;
  n[n.length - 1]! |= 1;
  const e = randomBytes(Math.ceil(eBits / 8));
  e[0] = (e[0]! & 0x7f) | 0x40;
  e[e.length - 1]! |= 1;
  return { kty: 'RSA', n: b64(n), e: b64(e) };
}

/** A proof whose header carries `jwk`; the signature is junk of the right length (the cost is in verifying it). */
function proofWith(jwk: JWK, htu: string, iat: number): string {
  const header = { typ: 'dpop+jwt', alg: 'RS256', jwk };
  const claims = { htm: 'POST', htu, iat, jti: randomUUID() };
  return `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}.${b64(Buffer.alloc(Buffer.from(jwk.n!, 'base64url').length, 0x11))}`;
}

describe('DPoP proof keys whose verification is expensive are refused before OpenSSL runs', () => {
  it('publicKeyFor refuses a huge RSA exponent, a huge modulus and an even or trivial exponent', () => {
    assert.throws(() => publicKeyFor('RS256', rsaJwk(3072, 3064)), /not usable/);
    assert.throws(() => publicKeyFor('PS256', rsaJwk(2048, 2040)), /not usable/);
    assert.throws(() => publicKeyFor('RS256', rsaJwk(2048, 64)), /not usable/);
    assert.throws(() => publicKeyFor('RS256', { ...rsaJwk(16384, 17), e: 'AQAB' }), /not usable/);
    assert.throws(() => publicKeyFor('RS256', { ...rsaJwk(2048, 17), e: 'AQAA' }), /not usable/); // 65536: even
    assert.throws(() => publicKeyFor('RS256', { ...rsaJwk(2048, 17), e: 'AQ' }), /not usable/); // 1
  });

  it('still accepts the RSA keys real clients use', () => {
    for (const [modulusLength, publicExponent] of [[2048, 65537], [2048, 3], [4096, 65537]] as const) {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength, publicExponent });
      const jwk = publicKey.export({ format: 'jwk' }) as JWK;
      assert.equal(publicKeyFor('RS256', jwk).asymmetricKeyDetails?.modulusLength, modulusLength);
      assert.equal(publicKeyFor('PS512', jwk).asymmetricKeyDetails?.modulusLength, modulusLength);
    }
  });

  it('verifyDpopProof refuses a proof with a 3072-bit exponent as an unusable key, not as a bad signature', async () => {
    const t = fakeClock();
    const htu = 'https://tether.example.com/oauth/token';
    const opts = { htm: 'POST', htu, clock: t.clock, replayGuard: createMemoryReplayGuard({ max: 100, clock: t.clock }) };
    await rejectsWith(verifyDpopProof(proofWith(rsaJwk(3072, 3064), htu, t.now), opts), 'invalid_dpop_proof', /not a usable public key/);
    await rejectsWith(verifyDpopProof(proofWith({ ...rsaJwk(16384, 17), e: 'AQAB' }, htu, t.now), opts), 'invalid_dpop_proof', /not a usable public key/);
    // The bound is on the key, so a genuine proof by a bounded key is unaffected.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const h = b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'RS256', jwk: publicKey.export({ format: 'jwk' }) }));
    const p = b64(JSON.stringify({ htm: 'POST', htu, iat: t.now, jti: 'ok' }));
    const ok = await verifyDpopProof(`${h}.${p}.${b64(sign('sha256', Buffer.from(`${h}.${p}`), privateKey))}`, opts);
    assert.equal(ok.jti, 'ok');
  });
});

describe('token endpoint over HTTP: an expensive proof key is a 400 invalid_dpop_proof', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  before(async () => {
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await b.stop();
  });

  it('refuses a proof whose RSA key has a 3072-bit exponent, before verifying it', async () => {
    const tokenUrl = `${b.url}/oauth/token`;
    const form = new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: await gha.token(),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      scope: 'orders:read',
      audience: ORDERS_AUD,
    });
    const res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proofWith(rsaJwk(3072, 3064), tokenUrl, Math.floor(Date.now() / 1000)) },
      body: form.toString(),
    });
    const body = (await res.json()) as { error?: string; error_description?: string; access_token?: string };
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.error, 'invalid_dpop_proof');
    assert.match(body.error_description ?? '', /not a usable public key/);
    assert.equal(body.access_token, undefined);
  });
});
