import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { TetherError } from '../../src/errors.js';
import {
  createDpopNonces,
  createImportedKeyCache,
  createMemoryReplayGuard,
  dpopChallengeFor,
  verifyDpopProof,
} from '../../src/tokens/index.js';
import type { VerifyDpopProofOptions } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith } from './helpers.js';

const HTU = 'https://tether.example.com/oauth/token';
const t = fakeClock();

interface Client {
  alg: string;
  jwk: JWK;
  privateKey: CryptoKey;
  privateJwk: JWK;
}

async function client(alg = 'ES256'): Promise<Client> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, jwk: await exportJWK(publicKey), privateKey, privateJwk: await exportJWK(privateKey) };
}

function proof(c: Client, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ htm: 'POST', htu: HTU, iat: t.now, jti: randomUUID(), ...claims })
    .setProtectedHeader({ typ: 'dpop+jwt', alg: c.alg, jwk: c.jwk, ...header })
    .sign(c.privateKey);
}

function opts(over: Partial<VerifyDpopProofOptions> = {}): VerifyDpopProofOptions {
  return { htm: 'POST', htu: HTU, clock: t.clock, replayGuard: createMemoryReplayGuard({ max: 1000, clock: t.clock }), ...over };
}

const ath = (token: string): string => createHash('sha256').update(token).digest('base64url');
const es = await client('ES256');

describe('verifyDpopProof (RFC 9449 §4.3)', () => {
  it('accepts a valid proof and returns the key thumbprint', async () => {
    for (const c of [es, await client('EdDSA'), await client('PS256')]) {
      const r = await verifyDpopProof(await proof(c, { jti: 'j-1' }), opts());
      assert.equal(r.jkt, await calculateJwkThumbprint(c.jwk, 'sha256'));
      assert.equal(r.jti, 'j-1');
      assert.equal(r.iat, t.now);
      assert.deepEqual(r.jwk, c.jwk);
    }
  });

  it('compares htu after normalisation, ignoring query and fragment', async () => {
    const r = await verifyDpopProof(await proof(es, { htu: 'HTTPS://Tether.Example.COM:443/oauth/%74oken?x=1#f' }), opts());
    assert.ok(r.jkt.length > 0);
  });

  it('refuses the wrong htm or htu', async () => {
    await rejectsWith(verifyDpopProof(await proof(es, { htm: 'GET' }), opts()), 'invalid_dpop_proof', /htm/);
    await rejectsWith(verifyDpopProof(await proof(es, { htm: 'post' }), opts()), 'invalid_dpop_proof', /htm/);
    for (const htu of ['https://tether.example.com/oauth/token2', 'http://tether.example.com/oauth/token', 'https://tether.example.com:8443/oauth/token', 'https://evil.example/oauth/token', 'not a uri']) {
      await rejectsWith(verifyDpopProof(await proof(es, { htu }), opts()), 'invalid_dpop_proof', /htu/);
    }
  });

  it('refuses a stale or future iat', async () => {
    await rejectsWith(verifyDpopProof(await proof(es, { iat: t.now - 61 }), opts()), 'invalid_dpop_proof', /too old/);
    await rejectsWith(verifyDpopProof(await proof(es, { iat: t.now + 6 }), opts()), 'invalid_dpop_proof', /future/);
    const ok = await verifyDpopProof(await proof(es, { iat: t.now - 59 }), opts());
    assert.equal(ok.iat, t.now - 59);
  });

  it('refuses a replayed jti through the memory guard, per key', async () => {
    const o = opts();
    const p = await proof(es, { jti: 'once' });
    await verifyDpopProof(p, o);
    await rejectsWith(verifyDpopProof(p, o), 'invalid_dpop_proof', /already been used/);
    const other = await verifyDpopProof(await proof(await client(), { jti: 'once' }), o);
    assert.equal(other.jti, 'once'); // another key's jti is its own
  });

  it('refuses a private key in the jwk header', async () => {
    await rejectsWith(verifyDpopProof(await proof(es, {}, { jwk: es.privateJwk }), opts()), 'invalid_dpop_proof', /public key/);
    const withK = { ...es.jwk, k: 'c2VjcmV0' };
    await rejectsWith(verifyDpopProof(await proof(es, {}, { jwk: withK }), opts()), 'invalid_dpop_proof', /public key/);
  });

  it('refuses a missing jwk, a jwk that did not sign, the wrong typ', async () => {
    const other = await client();
    await rejectsWith(verifyDpopProof(await proof(es, {}, { jwk: other.jwk }), opts()), 'invalid_dpop_proof', /signature is invalid/);
    await rejectsWith(verifyDpopProof(await new SignJWT({ htm: 'POST', htu: HTU, iat: t.now, jti: 'x' }).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256' }).sign(es.privateKey), opts()), 'invalid_dpop_proof', /no jwk/);
    for (const typ of ['JWT', 'at+jwt', 'application/dpop+jwt2']) {
      await rejectsWith(verifyDpopProof(await proof(es, {}, { typ }), opts()), 'invalid_dpop_proof', /typ/);
    }
  });

  it('refuses HS256 and none', async () => {
    const header = base64url.encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'HS256', jwk: es.jwk }));
    const payload = base64url.encode(JSON.stringify({ htm: 'POST', htu: HTU, iat: t.now, jti: 'h' }));
    const sig = createHmac('sha256', JSON.stringify(es.jwk)).update(`${header}.${payload}`).digest('base64url');
    await rejectsWith(verifyDpopProof(`${header}.${payload}.${sig}`, opts()), 'invalid_dpop_proof', /alg/);
    const none = base64url.encode(JSON.stringify({ typ: 'dpop+jwt', alg: 'none', jwk: es.jwk }));
    await rejectsWith(verifyDpopProof(`${none}.${payload}.`, opts()), 'invalid_dpop_proof', /alg/);
  });

  it('requires jti (at most 256 characters), htm, htu and iat', async () => {
    await rejectsWith(verifyDpopProof(await proof(es, { jti: undefined }), opts()), 'invalid_dpop_proof', /"jti"/);
    await rejectsWith(verifyDpopProof(await proof(es, { jti: 'x'.repeat(257) }), opts()), 'invalid_dpop_proof', /jti/);
    await rejectsWith(verifyDpopProof(await proof(es, { htm: undefined }), opts()), 'invalid_dpop_proof', /"htm"/);
    await rejectsWith(verifyDpopProof(await proof(es, { iat: undefined }), opts()), 'invalid_dpop_proof', /"iat"/);
  });

  it('refuses garbage', async () => {
    for (const junk of ['', 'garbage', 'a.b.c', 'x'.repeat(9000)]) {
      await rejectsWith(verifyDpopProof(junk, opts()), 'invalid_dpop_proof');
    }
  });

  it('requires ath when an access token is presented, and it must match', async () => {
    const at = 'header.payload.signature';
    const good = await verifyDpopProof(await proof(es, { ath: ath(at) }), opts({ accessToken: at }));
    assert.ok(good.jkt);
    await rejectsWith(verifyDpopProof(await proof(es), opts({ accessToken: at })), 'invalid_dpop_proof', /must carry ath/);
    await rejectsWith(verifyDpopProof(await proof(es, { ath: ath('another.token.value') }), opts({ accessToken: at })), 'invalid_dpop_proof', /ath does not match/);
  });

  it('requires the key to match the token binding (cnf.jkt)', async () => {
    const jkt = await calculateJwkThumbprint(es.jwk, 'sha256');
    assert.equal((await verifyDpopProof(await proof(es), opts({ expectedJkt: jkt }))).jkt, jkt);
    const other = await client();
    await rejectsWith(verifyDpopProof(await proof(other), opts({ expectedJkt: jkt })), 'invalid_dpop_proof', /bound to/);
  });

  it('asks for a nonce when one is required and missing or stale, with a fresh one in extra', async () => {
    const nonces = createDpopNonces({ secret: Buffer.alloc(32, 7), clock: t.clock });
    const missing = await rejectsWith(verifyDpopProof(await proof(es), opts({ nonce: nonces })), 'use_dpop_nonce', /nonce is required/);
    const fresh = missing.extra?.dpop_nonce;
    assert.equal(typeof fresh, 'string');
    assert.equal(nonces.check(fresh as string), true);

    const ok = await verifyDpopProof(await proof(es, { nonce: fresh }), opts({ nonce: nonces }));
    assert.ok(ok.jkt);

    const stale = nonces.issue();
    t.advance(121);
    try {
      await rejectsWith(verifyDpopProof(await proof(es, { nonce: stale }), opts({ nonce: nonces })), 'use_dpop_nonce', /stale/);
      await rejectsWith(verifyDpopProof(await proof(es, { nonce: 'forged' }), opts({ nonce: nonces })), 'use_dpop_nonce');
    } finally {
      t.advance(-121);
    }
  });

  it('does not burn the jti of a proof refused for its nonce', async () => {
    const nonces = createDpopNonces({ secret: Buffer.alloc(32, 7), clock: t.clock });
    const o = opts({ nonce: nonces });
    await rejectsWith(verifyDpopProof(await proof(es, { jti: 'retry' }), o), 'use_dpop_nonce');
    const r = await verifyDpopProof(await proof(es, { jti: 'retry', nonce: nonces.issue() }), o);
    assert.equal(r.jti, 'retry');
  });
});

describe('resource-side mapping (RFC 9449 §7.1)', () => {
  it('turns invalid_dpop_proof into a 401 with a DPoP challenge', async () => {
    const e = await rejectsWith(verifyDpopProof(await proof(es, { htm: 'GET' }), opts()), 'invalid_dpop_proof');
    assert.equal(e.status, 400); // token endpoint
    const rs = dpopChallengeFor(e);
    assert.equal(rs?.status, 401);
    assert.match(String(rs?.wwwAuthenticate), /^DPoP error="invalid_dpop_proof", error_description="[^"]*", algs="[A-Za-z0-9 ]+"$/);
  });

  it('carries the nonce for use_dpop_nonce and escapes quotes', async () => {
    const nonces = createDpopNonces({ secret: Buffer.alloc(32, 1), clock: t.clock });
    const e = await rejectsWith(verifyDpopProof(await proof(es), opts({ nonce: nonces })), 'use_dpop_nonce');
    const c = dpopChallengeFor(e);
    assert.equal(c?.status, 401);
    assert.equal(c?.dpopNonce, e.extra?.dpop_nonce);
    assert.match(c?.wwwAuthenticate ?? '', /error="use_dpop_nonce"/);
    const quoted = dpopChallengeFor(new TetherError('invalid_token', 'a "quoted" \\ thing'));
    assert.match(quoted?.wwwAuthenticate ?? '', /error_description="a \\"quoted\\" \\\\ thing"/);
    assert.equal(dpopChallengeFor(new TetherError('invalid_scope', 'x')), undefined);
  });
});

describe('imported-key cache (keys are the client\'s choice, RFC 9449 §4.2)', () => {
  it('stays within its bounds when clients mint a key per proof, and caches keys that are reused', async () => {
    const cache = createImportedKeyCache({ max: 20, seenOnceMax: 50 });
    const keys = await Promise.all(Array.from({ length: 80 }, async () => {
      const c = await client('ES256');
      return { jwk: c.jwk, jkt: await calculateJwkThumbprint(c.jwk, 'sha256') };
    }));
    // A key seen once is imported but not cached: a one-shot key never takes a cache slot.
    for (const k of keys) {
      const e = await cache.get('ES256', k.jwk);
      assert.equal(e.key.type, 'public');
      assert.equal(e.jkt, k.jkt);
    }
    assert.deepEqual(cache.sizes(), { cached: 0, seenOnce: 50 });
    // Keys in real reuse are admitted on their second sighting, up to the cache bound, and then hit.
    const reused = keys.slice(-30);
    for (const k of reused) await cache.get('ES256', k.jwk);
    assert.deepEqual(cache.sizes(), { cached: 20, seenOnce: 20 });
    const last = reused[reused.length - 1]!;
    assert.equal((await cache.get('ES256', last.jwk)).key, (await cache.get('ES256', last.jwk)).key);
    assert.equal(cache.sizes().cached, 20);
  });
});
