import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDpopNonces } from '../../src/tokens/index.js';
import { fakeClock } from './helpers.js';

const secret = Buffer.alloc(32, 3);

describe('stateless DPoP nonces (RFC 9449 §8)', () => {
  it('accepts its own nonce and one from another instance sharing the secret', () => {
    const t = fakeClock();
    const a = createDpopNonces({ secret, clock: t.clock });
    const b = createDpopNonces({ secret: Buffer.from(secret), clock: t.clock });
    const n = a.issue();
    assert.match(n, /^[A-Za-z0-9_-]+$/);
    assert.equal(a.check(n), true);
    assert.equal(b.check(n), true);
  });

  it('stays valid for at least 60 s and expires after its lifetime', () => {
    const t = fakeClock();
    const nonces = createDpopNonces({ secret, clock: t.clock });
    const n = nonces.issue();
    t.advance(60);
    assert.equal(nonces.check(n), true);
    t.advance(60);
    assert.equal(nonces.check(n), true);
    t.advance(1);
    assert.equal(nonces.check(n), false);
  });

  it('refuses another secret, tampering, and garbage', () => {
    const t = fakeClock();
    const nonces = createDpopNonces({ secret, clock: t.clock });
    const other = createDpopNonces({ secret: Buffer.alloc(32, 4), clock: t.clock });
    const n = nonces.issue();
    assert.equal(other.check(n), false);
    const raw = Buffer.from(n, 'base64url');
    raw[3] = (raw[3] ?? 0) ^ 1;
    assert.equal(nonces.check(raw.toString('base64url')), false);
    for (const junk of ['', 'x', '!!!', 'a'.repeat(100)]) assert.equal(nonces.check(junk), false);
  });

  it('refuses weak configuration', () => {
    const t = fakeClock();
    assert.throws(() => createDpopNonces({ secret: Buffer.alloc(16), clock: t.clock }), /32 bytes/);
    assert.throws(() => createDpopNonces({ secret, clock: t.clock, lifetimeSeconds: 30 }), /at least 60/);
  });
});
