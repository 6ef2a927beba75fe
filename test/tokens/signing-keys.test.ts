import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint } from 'jose';
import { TetherError } from '../../src/errors.js';
import { generateSigningKey, openPrivateKey, parseMasterKey, sealPrivateKey } from '../../src/tokens/index.js';
import { fakeClock } from './helpers.js';

const t = fakeClock();
const master = randomBytes(32);

function unavailable(e: unknown): boolean {
  return e instanceof TetherError && e.code === 'unavailable';
}

describe('signing keys', () => {
  it('generates EdDSA and ES256 keys whose kid is the JWK thumbprint', async () => {
    for (const alg of ['EdDSA', 'ES256'] as const) {
      const k = await generateSigningKey(alg, { clock: t.clock });
      assert.equal(k.kid, await calculateJwkThumbprint(k.publicJwk, 'sha256'));
      assert.equal(k.alg, alg);
      assert.equal(k.createdAt, t.now);
      assert.equal(k.publicJwk.d, undefined);
      assert.equal(typeof k.privateJwk.d, 'string');
      assert.equal(k.publicJwk.kid, k.kid);
    }
  });

  it('seals and opens a private key', async () => {
    const k = await generateSigningKey('EdDSA');
    const sealed = await sealPrivateKey(k.privateJwk, master);
    assert.match(sealed, new RegExp(`^v1\\.${k.kid}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    assert.ok(!sealed.includes(String(k.privateJwk.d)));
    assert.deepEqual(await openPrivateKey(sealed, master, k.kid), k.privateJwk);
    assert.notEqual(await sealPrivateKey(k.privateJwk, master), sealed); // fresh IV each time
  });

  it('fails with the wrong master key, a tampered blob, or a swapped kid', async () => {
    const k = await generateSigningKey('ES256');
    const other = await generateSigningKey('ES256');
    const sealed = await sealPrivateKey(k.privateJwk, master);
    await assert.rejects(openPrivateKey(sealed, randomBytes(32)), unavailable);

    const parts = sealed.split('.');
    const ct = Buffer.from(parts[3] ?? '', 'base64url');
    ct[0] = (ct[0] ?? 0) ^ 1;
    await assert.rejects(openPrivateKey([parts[0], parts[1], parts[2], ct.toString('base64url'), parts[4]].join('.'), master), unavailable);

    const swapped = [parts[0], other.kid, ...parts.slice(2)].join('.');
    await assert.rejects(openPrivateKey(swapped, master), unavailable); // kid is the AAD
    await assert.rejects(openPrivateKey(sealed, master, other.kid), unavailable);
    await assert.rejects(openPrivateKey('v2.a.b.c.d', master), unavailable);
    await assert.rejects(openPrivateKey('garbage', master), unavailable);
  });

  it('parses a 32-byte base64url master key and refuses anything else', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseMasterKey(key.toString('base64url')), key);
    assert.deepEqual(parseMasterKey(`${key.toString('base64url')}=`), key);
    for (const bad of ['', 'short', randomBytes(16).toString('base64url'), randomBytes(33).toString('base64url'), 'not base64!']) {
      assert.throws(() => parseMasterKey(bad), (e: unknown) => e instanceof TetherError && e.code === 'invalid_request');
    }
  });
});
