import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { errors } from 'jose';
import { createKeyRing, createVerifiedJwtCache, generateSigningKey, sealPrivateKey, stillTimely, verifyAccessToken } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith } from './helpers.js';

const ISS = 'https://tether.example.com';
const master = randomBytes(32);

async function ring(t: ReturnType<typeof fakeClock>) {
  const k = await generateSigningKey('EdDSA');
  const stored = { kid: k.kid, alg: 'EdDSA' as const, publicJwk: k.publicJwk, sealed: await sealPrivateKey(k.privateJwk, master), createdAt: t.now - 100 };
  return createKeyRing([stored], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: 900 });
}

const accessClaims = (now: number, exp: number) => ({ iss: ISS, sub: 'ci/acme/api', aud: 'orders', jti: 'j1', iat: now, exp, scope: 'orders:read', client_id: 'ci/acme/api', grant: 'g1' });

describe('verified-token cache (a signature is checked once per token bytes; time, key and claims on every use)', () => {
  it('answers a token presented again with the same frozen claims, until it expires: then jose refuses it as expired', async () => {
    const t = fakeClock();
    const r = await ring(t);
    const token = await r.sign(accessClaims(t.now, t.now + 60), { typ: 'at+jwt' });
    const a = await verifyAccessToken(r, token, { issuer: ISS, audience: 'orders', clock: t.clock });
    const b = await verifyAccessToken(r, token, { issuer: ISS, audience: 'orders', clock: t.clock });
    assert.equal(a, b, 'the second use is answered from the cache');
    assert.ok(Object.isFrozen(a), 'shared claims cannot be altered');
    assert.throws(() => {
      (a as { sub: string }).sub = 'someone-else';
    }, TypeError);

    t.advance(64); // within the 5 s skew: still valid
    assert.equal((await verifyAccessToken(r, token, { issuer: ISS, audience: 'orders', clock: t.clock })).jti, 'j1');
    t.advance(2); // past exp + skew: verified again in full, and refused the way jose refuses it
    const e = await rejectsWith(verifyAccessToken(r, token, { issuer: ISS, audience: 'orders', clock: t.clock }), 'invalid_token', /exp/);
    assert.ok((e as { cause?: unknown }).cause instanceof errors.JWTExpired);
  });

  it('does not answer for other verify options: a token cached for one audience is refused for another', async () => {
    const t = fakeClock();
    const r = await ring(t);
    const token = await r.sign(accessClaims(t.now, t.now + 60), { typ: 'at+jwt' });
    await verifyAccessToken(r, token, { issuer: ISS, audience: 'orders', clock: t.clock });
    const e = await rejectsWith(verifyAccessToken(r, token, { issuer: ISS, audience: 'billing', clock: t.clock }), 'invalid_token', /aud/);
    assert.ok((e as { cause?: unknown }).cause instanceof errors.JWTClaimValidationFailed);
    await rejectsWith(verifyAccessToken(r, token, { issuer: 'https://other.example', audience: 'orders', clock: t.clock }), 'invalid_token', /iss/);
  });

  it('misses when the key it was verified with is not the key given now, and admits only verified tokens within bounds', () => {
    const c = createVerifiedJwtCache({ max: 2, maxTokenChars: 10 });
    const k1 = {};
    const k2 = {};
    const v = { payload: { exp: 200 }, protectedHeader: { alg: 'EdDSA' } };
    c.set('tok-a', 's', k1, v);
    assert.equal(c.get('tok-a', 's', () => k2, 100, 0), undefined, 'another key object: rotated or refetched');
    assert.equal(c.size(), 0, 'a miss on the key drops the entry');
    c.set('tok-a', 's', k1, v);
    assert.equal(c.get('tok-a', 'other scope', () => k1, 100, 0), undefined);
    c.set('tok-a', 's', k1, v);
    assert.deepEqual(c.get('tok-a', 's', () => k1, 100, 0)?.payload, { exp: 200 });
    c.set('tok-b', 's', k1, v);
    c.set('tok-c', 's', k1, v);
    assert.equal(c.size(), 2, 'least recently used goes first');
    assert.equal(c.peek('tok-a'), undefined);
    c.set('a-token-longer-than-ten', 's', k1, v);
    assert.equal(c.peek('a-token-longer-than-ten'), undefined, 'long tokens are never remembered');
  });

  it('re-checks exp and nbf as jose does (strictly before exp, nbf not in the future, with tolerance)', () => {
    assert.equal(stillTimely({ exp: 100 }, 99, 0), true);
    assert.equal(stillTimely({ exp: 100 }, 100, 0), false);
    assert.equal(stillTimely({ exp: 100 }, 104, 5), true);
    assert.equal(stillTimely({ nbf: 100 }, 95, 5), true);
    assert.equal(stillTimely({ nbf: 100 }, 94, 5), false);
    assert.equal(stillTimely({ exp: '100' } as never, 1, 0), false);
    assert.equal(stillTimely({}, 1, 0), true);
  });
});
