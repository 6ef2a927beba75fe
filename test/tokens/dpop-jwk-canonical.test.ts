/**
 * One proof key, one thumbprint. `cnf.jkt` (RFC 9449 §6.1) and the `$dpop` task instance are the
 * RFC 7638 thumbprint of the `jwk` header's members *as written*, while OpenSSL reads those members
 * leniently (standard base64 alphabet, skipped junk characters, leading zero octets). RFC 7518
 * §6.2.1.2 (EC coordinates at full length), §6.3.1.1 (RSA modulus in the minimum octets) and RFC 7515
 * §2 (base64url) each allow one spelling; a key in any other spelling is refused. So are keys whose
 * `key_ops` exclude verifying (jose refused them before the synchronous verify) or whose `use` is not
 * `sig` (RFC 7517 §4.2–4.3).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { createMemoryReplayGuard, verifyDpopProof } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith } from './helpers.js';

const HTU = 'https://tether.example.com/oauth/token';
const t = fakeClock();
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const opts = () => ({ htm: 'POST', htu: HTU, clock: t.clock, replayGuard: createMemoryReplayGuard({ max: 100, clock: t.clock }) });

function proof(alg: 'ES256' | 'RS256' | 'EdDSA', privateKey: KeyObject, jwk: JWK): string {
  const h = b64(JSON.stringify({ typ: 'dpop+jwt', alg, jwk }));
  const p = b64(JSON.stringify({ htm: 'POST', htu: HTU, iat: t.now, jti: randomUUID() }));
  const hash = alg === 'EdDSA' ? null : 'sha256';
  const s = sign(hash, Buffer.from(`${h}.${p}`), alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  return `${h}.${p}.${b64(s)}`;
}

const leadingZero = (v: string) => b64(Buffer.concat([Buffer.alloc(1), Buffer.from(v, 'base64url')]));
const standardAlphabet = (v: string) => Buffer.from(v, 'base64url').toString('base64');
const junk = (v: string) => `${v.slice(0, 4)}!.${v.slice(4)}`;

describe('DPoP proof jwk: one key has one spelling, hence one thumbprint', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecJwk = ec.publicKey.export({ format: 'jwk' }) as JWK;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaJwk = rsa.publicKey.export({ format: 'jwk' }) as JWK;
  const ed = generateKeyPairSync('ed25519');
  const edJwk = ed.publicKey.export({ format: 'jwk' }) as JWK;

  it('accepts the canonical spelling, with its RFC 7638 thumbprint', async () => {
    for (const [alg, k, jwk] of [['ES256', ec.privateKey, ecJwk], ['RS256', rsa.privateKey, rsaJwk], ['EdDSA', ed.privateKey, edJwk]] as const) {
      const r = await verifyDpopProof(proof(alg, k, jwk), opts());
      assert.equal(r.jkt, await calculateJwkThumbprint(jwk, 'sha256'));
      // use/key_ops that allow verification are fine.
      await verifyDpopProof(proof(alg, k, { ...jwk, use: 'sig', key_ops: ['verify'] }), opts());
    }
  });

  it('refuses another spelling of the same key instead of giving it another thumbprint', async () => {
    const variants: Array<[string, 'ES256' | 'RS256' | 'EdDSA', KeyObject, JWK]> = [
      ['EC x with a leading zero octet', 'ES256', ec.privateKey, { ...ecJwk, x: leadingZero(ecJwk.x!) }],
      ['EC y with a leading zero octet', 'ES256', ec.privateKey, { ...ecJwk, y: leadingZero(ecJwk.y!) }],
      ['EC x with junk characters', 'ES256', ec.privateKey, { ...ecJwk, x: junk(ecJwk.x!) }],
      ['EC x with base64 padding', 'ES256', ec.privateKey, { ...ecJwk, x: `${ecJwk.x!}=` }],
      ['RSA n with a leading zero octet', 'RS256', rsa.privateKey, { ...rsaJwk, n: leadingZero(rsaJwk.n!) }],
      ['RSA n in the standard alphabet', 'RS256', rsa.privateKey, { ...rsaJwk, n: standardAlphabet(rsaJwk.n!) }],
      ['RSA e with a leading zero octet', 'RS256', rsa.privateKey, { ...rsaJwk, e: leadingZero(rsaJwk.e!) }],
      ['OKP x with junk characters', 'EdDSA', ed.privateKey, { ...edJwk, x: junk(edJwk.x!) }],
    ];
    for (const [name, alg, k, jwk] of variants) {
      const canonical = await calculateJwkThumbprint(alg === 'ES256' ? ecJwk : alg === 'RS256' ? rsaJwk : edJwk, 'sha256');
      let jkt: string | undefined;
      try {
        jkt = (await verifyDpopProof(proof(alg, k, jwk), opts())).jkt;
      } catch (e) {
        assert.match((e as Error).message, /not a usable public key/, name);
      }
      assert.equal(jkt, undefined, `${name}: accepted with thumbprint ${jkt} (canonical ${canonical})`);
    }
  });

  it('refuses a key whose use or key_ops says it is not for verifying signatures', async () => {
    await rejectsWith(verifyDpopProof(proof('ES256', ec.privateKey, { ...ecJwk, use: 'enc' }), opts()), 'invalid_dpop_proof', /not a usable public key/);
    await rejectsWith(verifyDpopProof(proof('ES256', ec.privateKey, { ...ecJwk, key_ops: ['encrypt'] }), opts()), 'invalid_dpop_proof', /not a usable public key/);
    await rejectsWith(verifyDpopProof(proof('ES256', ec.privateKey, { ...ecJwk, key_ops: 'verify' as unknown as string[] }), opts()), 'invalid_dpop_proof', /not a usable public key/);
  });
});
