import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { TetherError } from '../../src/errors.js';
import {
  createKeyRing,
  createMemoryReplayGuard,
  generateSigningKey,
  mintAccessToken,
  sealPrivateKey,
  verifyAccessToken,
  verifyDpopProof,
} from '../../src/tokens/index.js';
import type { KeyRing } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith } from './helpers.js';

const ISS = 'https://tether.example.com';
const t = fakeClock();
const master = randomBytes(32);
const key = await generateSigningKey('EdDSA', { clock: () => new Date((t.now - 60) * 1000) });
const ring: KeyRing = await createKeyRing(
  [{ kid: key.kid, alg: key.alg, publicJwk: key.publicJwk, sealed: await sealPrivateKey(key.privateJwk, master), createdAt: key.createdAt }],
  { masterKey: master, clock: t.clock, maxTokenLifetimeSeconds: 3600 },
);

const base = {
  issuer: ISS,
  subject: 'ci/acme/api',
  audience: 'https://orders.example.com',
  scope: ['orders:read', 'orders:write'],
  ttlSeconds: 600,
  grantId: 'gr_123',
  clock: t.clock,
};

describe('access tokens (RFC 9068)', () => {
  it('mints a DPoP-bound at+jwt with the claims the design names', async () => {
    const m = await mintAccessToken(ring, {
      ...base,
      jkt: 'thumbprint-of-client-key',
      task: { id: 'deploy-42', purpose: 'release', ticket: 'OPS-7' },
      act: { sub: 'agent/planner', act: { sub: 'user/alice' } },
    });
    assert.deepEqual(decodeProtectedHeader(m.token), { typ: 'at+jwt', alg: 'EdDSA', kid: key.kid });
    assert.match(m.jti, /^[A-Za-z0-9_-]{22}$/); // 128 bits
    assert.equal(m.exp, t.now + 600);
    const c = await verifyAccessToken(ring, m.token, { issuer: ISS, audience: 'https://orders.example.com', clock: t.clock });
    assert.deepEqual(c, m.claims);
    assert.equal(c.scope, 'orders:read orders:write');
    assert.equal(c.client_id, 'ci/acme/api');
    assert.deepEqual(c.cnf, { jkt: 'thumbprint-of-client-key' });
    assert.equal(c.grant, 'gr_123');
    assert.deepEqual(c.task, { id: 'deploy-42', purpose: 'release', ticket: 'OPS-7' });
    assert.equal(c.act?.act?.sub, 'user/alice');
  });

  it('gives every token its own jti', async () => {
    const a = await mintAccessToken(ring, base);
    const b = await mintAccessToken(ring, base);
    assert.notEqual(a.jti, b.jti);
    assert.equal(a.claims.cnf, undefined);
  });

  it('refuses expired tokens, wrong issuer or audience', async () => {
    const m = await mintAccessToken(ring, { ...base, ttlSeconds: 60 });
    await rejectsWith(verifyAccessToken(ring, m.token, { issuer: 'https://evil.example', clock: t.clock }), 'invalid_token', /issuer/);
    await rejectsWith(verifyAccessToken(ring, m.token, { issuer: ISS, audience: 'https://billing.example.com', clock: t.clock }), 'invalid_token', /audience/);
    const later = () => new Date((t.now + 66) * 1000);
    await rejectsWith(verifyAccessToken(ring, m.token, { issuer: ISS, clock: later }), 'invalid_token', /expired/);
    const within = await verifyAccessToken(ring, m.token, { issuer: ISS, clock: () => new Date((t.now + 64) * 1000) });
    assert.equal(within.jti, m.jti);
  });

  it('requires typ at+jwt and well-formed Tether claims', async () => {
    const now = t.now;
    const idToken = await ring.sign({ iss: ISS, sub: 's', aud: 'a', exp: now + 60, iat: now, jti: 'j', scope: 'x', client_id: 'c', grant: 'g' }, { typ: 'JWT' });
    await rejectsWith(verifyAccessToken(ring, idToken, { issuer: ISS, clock: t.clock }), 'invalid_token', /typ/);
    const noGrant = await ring.sign({ iss: ISS, sub: 's', aud: 'a', exp: now + 60, iat: now, jti: 'j', scope: 'x', client_id: 'c' }, { typ: 'at+jwt' });
    await rejectsWith(verifyAccessToken(ring, noGrant, { issuer: ISS, clock: t.clock }), 'invalid_token', /"grant"/);
  });

  it('refuses bad mint input', async () => {
    await assert.rejects(mintAccessToken(ring, { ...base, ttlSeconds: 3601 }), TypeError);
    await assert.rejects(mintAccessToken(ring, { ...base, ttlSeconds: 0 }), TypeError);
    for (const scope of [[], ['has space'], ['quote"']]) {
      await assert.rejects(mintAccessToken(ring, { ...base, scope }), (e: unknown) => e instanceof TetherError && e.code === 'invalid_scope');
    }
  });

  it('end to end: a DPoP-bound token is usable only with a proof from its key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const jkt = await calculateJwkThumbprint(jwk, 'sha256');
    const { token } = await mintAccessToken(ring, { ...base, jkt });
    const claims = await verifyAccessToken(ring, token, { issuer: ISS, clock: t.clock });
    const proof = await new SignJWT({
      htm: 'GET',
      htu: 'https://orders.example.com/orders/42',
      iat: t.now,
      jti: 'p-1',
      ath: createHash('sha256').update(token).digest('base64url'),
    })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
      .sign(privateKey);
    const r = await verifyDpopProof(proof, {
      htm: 'GET',
      htu: 'https://orders.example.com/orders/42?expand=items',
      accessToken: token,
      expectedJkt: claims.cnf?.jkt,
      replayGuard: createMemoryReplayGuard({ max: 10, clock: t.clock }),
      clock: t.clock,
    });
    assert.equal(r.jkt, jkt);
  });
});
