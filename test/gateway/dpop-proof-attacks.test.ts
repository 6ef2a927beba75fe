/**
 * An attacker holding a copied DPoP-bound token and proofs it observed, but not the private key,
 * against the real ext-authz endpoint: every re-encoding of an observed proof is a replay (the
 * replay guard keys on the key's thumbprint and `jti`, RFC 9449 §11.1, not on the proof's bytes), and
 * no header trick makes a proof by another key pass for the token's (§6.1). Each is a 401, never a
 * 5xx (src/tokens/jws-signature.ts verifies synchronously with OpenSSL).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import { createDpopKey } from '../helpers/dpop.js';
import { CLIENT_ADDRESS_HEADER, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';

const GW = 'http://envoy.test';
const PDP_TOKEN = 'pdp-token-0123456789abcdef';
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The same ECDSA signature with s replaced by n − s: valid for OpenSSL, different bytes. */
function highS(proof: string): string {
  const [h, p, s] = proof.split('.') as [string, string, string];
  const sig = Buffer.from(s, 'base64url');
  const other = P256_ORDER - BigInt(`0x${sig.subarray(32).toString('hex')}`);
  return `${h}.${p}.${b64(Buffer.concat([sig.subarray(0, 32), Buffer.from(other.toString(16).padStart(64, '0'), 'hex')]))}`;
}

/** The same signature with the unused low bits of its last base64url character set (86 chars → 2 spare bits). */
function otherTrailingBits(proof: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const i = alphabet.indexOf(proof.at(-1)!);
  return proof.slice(0, -1) + alphabet[(i & ~3) | ((i + 1) & 3)]!;
}

describe('ext-authz: a copied token with observed proofs but no key gets nothing', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    ({ b, key, token } = await startGatewayBroker([ordersRoute(GW, 'envoy', { clientAddress: true })], { pdpToken: PDP_TOKEN }));
  });
  after(async () => {
    await b.stop();
  });

  const check = (dpop: string) =>
    fetch(`${b.url}/ext-authz/orders/orders/5`, { headers: { 'x-tether-pdp-token': PDP_TOKEN, [CLIENT_ADDRESS_HEADER]: '192.0.2.1', authorization: `DPoP ${token}`, dpop } });
  const proof = (o: Parameters<typeof key.proof>[2] = {}) => key.proof('GET', `${GW}/orders/5`, { accessToken: token, ...o });

  test('an observed proof, re-sent or re-encoded, is a replay', async () => {
    const seen = await proof();
    assert.equal((await check(seen)).status, 200);
    for (const [name, replay] of [['as sent', seen], ['high-S', highS(seen)], ['other trailing bits', otherTrailingBits(seen)]] as const) {
      const r = await check(replay);
      assert.equal(r.status, 401, name);
      assert.match(r.headers.get('www-authenticate') ?? '', /invalid_dpop_proof|invalid_token/, name);
    }
    // A re-encoded proof that was never accepted is not a replay of anything: it verifies once.
    const fresh = await proof();
    assert.equal((await check(highS(fresh))).status, 200);
    assert.equal((await check(fresh)).status, 401);
  });

  test('no header trick makes a proof pass for the token key', async () => {
    // RS256 in the header over the victim's EC key, an HMAC alg, none: refused before any signature check.
    const [h, p, s] = (await proof()).split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const cases: Array<[string, string]> = [
      ['alg RS256 over an EC key', `${b64(JSON.stringify({ ...header, alg: 'RS256' }))}.${p}.${s}`],
      ['alg HS256', `${b64(JSON.stringify({ ...header, alg: 'HS256' }))}.${p}.${s}`],
      ['alg none', `${b64(JSON.stringify({ ...header, alg: 'none' }))}.${p}.`],
      ['b64 false', `${b64(JSON.stringify({ ...header, b64: false, crit: ['b64'] }))}.${p}.${s}`],
    ];
    // An RSA key whose verification would take tens of milliseconds: refused, still a 401.
    const n = randomBytes(384);
    n[0]! |= 0x80;
    const e = randomBytes(383);
    e[0] = (e[0]! & 0x7f) | 0x40;
    e[382]! |= 1;
    const claims = { htm: 'GET', htu: `${GW}/orders/5`, iat: Math.floor(Date.now() / 1000), jti: randomUUID() };
    cases.push(['RSA with a 3072-bit exponent', `${b64(JSON.stringify({ typ: 'dpop+jwt', alg: 'RS256', jwk: { kty: 'RSA', n: b64(n), e: b64(e) } }))}.${b64(JSON.stringify(claims))}.${b64(Buffer.alloc(384, 1))}`]);
    const mallory = await createDpopKey();
    cases.push(["mallory signs, header carries the victim's jwk", await mallory.proof('GET', `${GW}/orders/5`, { accessToken: token, headerJwk: key.jwk })]);
    for (const [name, dpop] of cases) assert.equal((await check(dpop)).status, 401, name);
    // None of these proved another key: the genuine holder still gets through.
    assert.equal((await check(await proof())).status, 200);
    // A valid proof by another key is a copied token (key_mismatch): refused, whatever members its jwk adds.
    for (const headerJwk of [mallory.jwk, { ...mallory.jwk, alg: 'ES256', key_ops: ['verify'], kid: 'victim' }]) {
      assert.equal((await check(await mallory.proof('GET', `${GW}/orders/5`, { accessToken: token, headerJwk }))).status, 401);
    }
  });
});
