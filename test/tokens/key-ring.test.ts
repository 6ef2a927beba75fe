import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, importJWK } from 'jose';
import { TetherError } from '../../src/errors.js';
import { createKeyRing, generateSigningKey, sealPrivateKey } from '../../src/tokens/index.js';
import type { SigningAlgorithm, StoredSigningKey } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith } from './helpers.js';

const ISS = 'https://tether.example.com';
const master = randomBytes(32);
const MAX = 900;

async function stored(alg: SigningAlgorithm, createdAt: number, retiredAt?: number): Promise<StoredSigningKey & { privateJwk: Record<string, unknown> }> {
  const k = await generateSigningKey(alg);
  return { kid: k.kid, alg, publicJwk: k.publicJwk, sealed: await sealPrivateKey(k.privateJwk, master), createdAt, retiredAt, privateJwk: k.privateJwk };
}

const claims = (now: number) => ({ iss: ISS, sub: 'ci/acme/api', aud: 'orders', jti: 'j', iat: now, exp: now + 300 });

describe('key ring', () => {
  it('signs with the active key and verifies with local keys', async () => {
    const t = fakeClock();
    const a = await stored('EdDSA', t.now - 100);
    const ring = await createKeyRing([a], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    assert.deepEqual(ring.activeKey(), { kid: a.kid, alg: 'EdDSA' });
    assert.deepEqual(ring.jwks().keys.map((k) => k.kid), [a.kid]);
    assert.equal(ring.jwks().keys[0]?.d, undefined);
    const token = await ring.sign(claims(t.now), { typ: 'at+jwt' });
    const { payload, protectedHeader } = await ring.verifyJwt(token, { issuer: ISS, audience: 'orders', clock: t.clock });
    assert.equal(payload.sub, 'ci/acme/api');
    assert.deepEqual(protectedHeader, { typ: 'at+jwt', alg: 'EdDSA', kid: a.kid });
  });

  it('rotation: the new key signs, the retired key stays in the JWKS while its tokens live', async () => {
    const t = fakeClock();
    const a = await stored('EdDSA', t.now - 1000);
    const ringBefore = await createKeyRing([a], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    const oldToken = await ringBefore.sign(claims(t.now), { typ: 'at+jwt' });

    t.advance(10);
    const b = await stored('ES256', t.now);
    const ring = await createKeyRing([{ ...a, retiredAt: t.now }, b], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    assert.equal(ring.activeKey().kid, b.kid);
    assert.deepEqual(new Set(ring.jwks().keys.map((k) => k.kid)), new Set([a.kid, b.kid]));
    const newToken = await ring.sign(claims(t.now), { typ: 'at+jwt' });
    assert.equal((await ring.verifyJwt(oldToken, { issuer: ISS, clock: t.clock })).protectedHeader.kid, a.kid);
    assert.equal((await ring.verifyJwt(newToken, { issuer: ISS, clock: t.clock })).protectedHeader.kid, b.kid);

    t.advance(MAX + 1); // every token a signed has expired: a leaves the JWKS
    assert.deepEqual(ring.jwks().keys.map((k) => k.kid), [b.kid]);
  });

  it('never unseals long-retired keys and publishes not-yet-active ones', async () => {
    const t = fakeClock();
    const old = { ...(await stored('EdDSA', t.now - 10_000, t.now - 5_000)), sealed: 'v1.broken' };
    const current = await stored('EdDSA', t.now - 100);
    const next = await stored('EdDSA', t.now + 3600);
    const ring = await createKeyRing([old, current, next], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    assert.equal(ring.activeKey().kid, current.kid);
    assert.deepEqual(new Set(ring.jwks().keys.map((k) => k.kid)), new Set([current.kid, next.kid]));
  });

  it('fails closed when no key can sign, or a key cannot be opened', async () => {
    const t = fakeClock();
    const retired = await stored('EdDSA', t.now - 100, t.now - 1);
    const ring = await createKeyRing([retired], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    assert.throws(() => ring.activeKey(), (e: unknown) => e instanceof TetherError && e.code === 'unavailable');
    const live = await stored('EdDSA', t.now - 100);
    await assert.rejects(createKeyRing([live], { masterKey: randomBytes(32), clock: t.clock, maxTokenLifetimeSeconds: MAX }), /cannot open signing key/);
  });

  it('refuses tokens beyond the max lifetime at signing time', async () => {
    const t = fakeClock();
    const ring = await createKeyRing([await stored('EdDSA', t.now)], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    await assert.rejects(ring.sign({ ...claims(t.now), exp: t.now + MAX + 1 }, { typ: 'at+jwt' }), /maxTokenLifetimeSeconds/);
  });

  it('refuses unknown kids, foreign signatures and header tricks with invalid_token', async () => {
    const t = fakeClock();
    const a = await stored('EdDSA', t.now);
    const ring = await createKeyRing([a], { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: MAX });
    const foreign = await generateSigningKey('EdDSA');
    const foreignKey = await importJWK(foreign.privateJwk, 'EdDSA');
    const sign = (kid: string, extra: Record<string, unknown> = {}) =>
      new SignJWT(claims(t.now)).setProtectedHeader({ typ: 'at+jwt', alg: 'EdDSA', kid, ...extra }).sign(foreignKey);

    await rejectsWith(ring.verifyJwt(await sign(foreign.kid, { jku: 'https://evil.example/jwks' }), { issuer: ISS, clock: t.clock }), 'invalid_token', /kid is not one of/);
    await rejectsWith(ring.verifyJwt(await sign(a.kid), { issuer: ISS, clock: t.clock }), 'invalid_token', /signature is invalid/);
    await rejectsWith(ring.verifyJwt(await sign(a.kid, { jwk: foreign.publicJwk }), { issuer: ISS, clock: t.clock }), 'invalid_token', /signature is invalid/);
    await rejectsWith(ring.verifyJwt('garbage', { issuer: ISS, clock: t.clock }), 'invalid_token', /well-formed/);
    const good = await ring.sign(claims(t.now), { typ: 'at+jwt' });
    await rejectsWith(ring.verifyJwt(good, { issuer: 'https://other.example', clock: t.clock }), 'invalid_token', /unexpected issuer/);
  });
});
