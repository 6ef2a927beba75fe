import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createJwksCache, parseIssuerConfig, verifySubjectToken } from '../../src/federation/index.js';
import { createMemoryReplayGuard } from '../../src/tokens/index.js';
import { fakeClock, rejectsWith, testIssuer } from './helpers.js';

const TOKEN_ENDPOINT = 'https://tether.example.com/oauth/token';
const BROKER = 'https://tether.example.com';
const t = fakeClock();
const workload = await testIssuer('EdDSA', 'billing-1');

// A workload with no platform issuer registers its public key; its id is the assertion's iss and sub.
const billing = parseIssuerConfig({
  name: 'billing-export',
  kind: 'private_key_jwt',
  issuer: 'svc/billing-export',
  audience: [TOKEN_ENDPOINT, BROKER],
  jwks: { keys: [workload.jwk] },
  identity: '{sub}',
});

function options() {
  return {
    jwks: createJwksCache({ clock: t.clock }),
    clock: t.clock,
    replayGuard: createMemoryReplayGuard({ max: 100, clock: t.clock }),
  };
}

function assertion(over: Record<string, unknown> = {}): Promise<string> {
  return workload.sign({
    iss: 'svc/billing-export',
    sub: 'svc/billing-export',
    aud: TOKEN_ENDPOINT,
    jti: randomUUID(),
    iat: t.now,
    exp: t.now + 120,
    ...over,
  });
}

describe('private_key_jwt assertions (RFC 7523 §3)', () => {
  it('accepts a fresh assertion addressed to the token endpoint or the issuer URL', async () => {
    const o = options();
    const r1 = await verifySubjectToken(await assertion(), [billing], o);
    assert.equal(r1.identityId, 'svc/billing-export');
    const r2 = await verifySubjectToken(await assertion({ aud: BROKER }), [billing], o);
    assert.equal(r2.issuer.name, 'billing-export');
  });

  it('refuses the issuer name as iss = sub: iss is the configured issuer identifier only', async () => {
    // An issuer's name is a label in our config: accepted as iss, it would map onto identity "billing-export".
    await rejectsWith(verifySubjectToken(await assertion({ iss: 'billing-export', sub: 'billing-export' }), [billing], options()), 'invalid_grant', /no trusted issuer/);
    await rejectsWith(verifySubjectToken(await assertion({ iss: 'billing-export' }), [billing], options()), 'invalid_grant', /no trusted issuer/);
  });

  it('refuses a replayed jti', async () => {
    const o = options();
    const token = await assertion();
    await verifySubjectToken(token, [billing], o);
    await rejectsWith(verifySubjectToken(token, [billing], o), 'invalid_grant', /already been used/);
  });

  it('does not burn the jti of a refused assertion', async () => {
    const o = options();
    const jti = randomUUID();
    await rejectsWith(verifySubjectToken(await assertion({ jti, aud: 'https://elsewhere.example' }), [billing], o), 'invalid_grant', /audience/);
    const r = await verifySubjectToken(await assertion({ jti }), [billing], o);
    assert.equal(r.identityId, 'svc/billing-export');
  });

  it('refuses an exp more than five minutes ahead', async () => {
    await rejectsWith(verifySubjectToken(await assertion({ exp: t.now + 600 }), [billing], options()), 'invalid_grant', /at most 300 s/);
  });

  it('refuses a missing jti, sub different from iss, and the wrong audience', async () => {
    await rejectsWith(verifySubjectToken(await assertion({ jti: undefined }), [billing], options()), 'invalid_grant', /jti/);
    await rejectsWith(verifySubjectToken(await assertion({ sub: 'svc/other' }), [billing], options()), 'invalid_grant', /sub must equal its iss/);
    await rejectsWith(verifySubjectToken(await assertion({ aud: 'https://other.example/token' }), [billing], options()), 'invalid_grant', /audience/);
  });

  it('refuses an assertion signed by another key', async () => {
    const impostor = await testIssuer('EdDSA', 'billing-1');
    const token = await impostor.sign({ iss: 'svc/billing-export', sub: 'svc/billing-export', aud: TOKEN_ENDPOINT, jti: 'x', exp: t.now + 60 });
    await rejectsWith(verifySubjectToken(token, [billing], options()), 'invalid_grant', /signature is invalid/);
  });

  it('will not run without a replay guard (a wiring error, not a token refusal)', async () => {
    await assert.rejects(verifySubjectToken(await assertion(), [billing], { jwks: createJwksCache({ clock: t.clock }), clock: t.clock }), TypeError);
  });
});
