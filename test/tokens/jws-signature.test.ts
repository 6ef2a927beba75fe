/**
 * The synchronous DPoP signature check (src/tokens/jws-signature.ts) against jose's `compactVerify`:
 * for every algorithm we accept, on genuine signatures, tampered ones and keys of the wrong type or
 * size, both must give the same answer.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { CompactSign, compactVerify, exportJWK, importJWK } from 'jose';
import type { JWK } from 'jose';
import { DEFAULT_JWS_ALGORITHMS, type AsymmetricJwsAlgorithm } from '../../src/tokens/algorithms.js';
import { jwsSignatureVerifies, publicKeyFor } from '../../src/tokens/jws-signature.js';

function keyPairFor(alg: AsymmetricJwsAlgorithm, variant: 'right' | 'small' | 'other' = 'right'): { publicKey: KeyObject; privateKey: KeyObject } {
  if (alg.startsWith('RS') || alg.startsWith('PS')) return generateKeyPairSync('rsa', { modulusLength: variant === 'small' ? 1024 : 2048 });
  if (alg.startsWith('ES')) {
    const curves = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' } as Record<string, string>;
    const curve = variant === 'other' ? (alg === 'ES256' ? 'secp384r1' : 'prime256v1') : curves[alg]!;
    return generateKeyPairSync('ec', { namedCurve: curve });
  }
  return variant === 'other' ? generateKeyPairSync('ed448') : generateKeyPairSync('ed25519');
}

async function sign(alg: AsymmetricJwsAlgorithm, privateKey: KeyObject, payload = '{"jti":"x"}'): Promise<string> {
  const jwk = await exportJWK(privateKey);
  return new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg, typ: 'dpop+jwt' }).sign(await importJWK(jwk, alg));
}

async function joseVerifies(jws: string, alg: AsymmetricJwsAlgorithm, jwk: JWK): Promise<boolean> {
  try {
    await compactVerify(jws, await importJWK(jwk, alg), { algorithms: [alg] });
    return true;
  } catch {
    return false;
  }
}

const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);

describe('jwsSignatureVerifies agrees with jose', () => {
  for (const alg of DEFAULT_JWS_ALGORITHMS) {
    it(`${alg}: genuine, tampered and foreign signatures`, async () => {
      const { publicKey, privateKey } = keyPairFor(alg);
      const jwk = await exportJWK(publicKey);
      const key = publicKeyFor(alg, jwk);
      const good = await sign(alg, privateKey);
      const [h, p, s] = good.split('.') as [string, string, string];
      const other = await sign(alg, keyPairFor(alg).privateKey);
      const cases: Array<[string, string]> = [
        ['genuine', good],
        ['payload changed', `${h}.${flip(p, 2)}.${s}`],
        ['header changed', `${flip(h, 3)}.${p}.${s}`],
        ['signature bit flipped', `${h}.${p}.${flip(s, 5)}`],
        ['signature truncated', `${h}.${p}.${s.slice(0, -4)}`],
        ['signature empty', `${h}.${p}.`],
        ['another key signed', `${h}.${p}.${other.split('.')[2]}`],
        ['not base64url', `${h}.${p}.${s.slice(0, -1)}*`],
        ['four segments', `${good}.x`],
      ];
      for (const [name, jws] of cases) {
        assert.equal(jwsSignatureVerifies(jws, alg, key), await joseVerifies(jws, alg, jwk), `${alg} ${name}`);
      }
      assert.equal(jwsSignatureVerifies(good, alg, key), true);
      // Stricter than jose on purpose: RFC 7515 §2 base64url has no padding, and a segment that can be
      // written two ways is one more thing a cache or a log could disagree about.
      assert.equal(jwsSignatureVerifies(`${h}.${p}.${s}==`, alg, key), false);
    });
  }

  it('refuses keys of the wrong type, curve or size for the algorithm, as jose does', async () => {
    for (const [alg, variant] of [['RS256', 'small'], ['PS256', 'small'], ['ES256', 'other'], ['ES384', 'other'], ['EdDSA', 'other']] as const) {
      const { publicKey, privateKey } = keyPairFor(alg, variant);
      const jwk = await exportJWK(publicKey);
      assert.throws(() => publicKeyFor(alg, jwk), /not usable/, `${alg} with a ${variant} key`);
      // And a signature made with it does not verify under a key object of the wrong kind either.
      const jws = await sign(alg === 'ES256' ? 'ES384' : alg === 'ES384' ? 'ES256' : alg === 'EdDSA' ? 'EdDSA' : 'RS256', privateKey).catch(() => undefined);
      if (jws !== undefined) assert.equal(jwsSignatureVerifies(jws, alg, publicKey), false, `${alg} signature by a ${variant} key`);
    }
    // An RSA key for an EC algorithm and the other way round.
    const rsa = await exportJWK(keyPairFor('RS256').publicKey);
    const ec = await exportJWK(keyPairFor('ES256').publicKey);
    assert.throws(() => publicKeyFor('ES256', rsa), /not usable/);
    assert.throws(() => publicKeyFor('RS256', ec), /not usable/);
    assert.throws(() => publicKeyFor('EdDSA', ec), /not usable/);
  });

  it('refuses a private JWK as the key', async () => {
    const { privateKey } = keyPairFor('ES256');
    // createPublicKey derives the public half of a private JWK; the DPoP check refuses private
    // members before it gets here (dpop-proof.ts), and the key it builds is public either way.
    const key = publicKeyFor('ES256', await exportJWK(privateKey));
    assert.equal(key.type, 'public');
  });
});
