import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createJwksCache, parseIssuerConfig, verifySubjectToken } from '../../src/federation/index.js';
import { fakeClock, rejectsWith, testIssuer } from './helpers.js';

const AUD = 'https://tether.example.com';
const ISS = 'https://token.actions.githubusercontent.com';
const t = fakeClock();
const gh = await testIssuer('ES256', 'gh-1');
const opts = { jwks: createJwksCache({ clock: t.clock }), clock: t.clock };
const base = { name: 'github', issuer: ISS, audience: AUD, jwks: { keys: [gh.jwk] }, identity: 'ci/{repository}' };
const github = parseIssuerConfig(base);
const sign = (over: Record<string, unknown>) => gh.sign({ iss: ISS, aud: AUD, repository: 'acme/api', iat: t.now, exp: t.now + 300, ...over });

describe('subject token lifetime bounds', () => {
  it('accepts up to 24 h by default', async () => {
    assert.equal((await verifySubjectToken(await sign({ exp: t.now + 86_400 }), [github], opts)).identityId, 'ci/acme/api');
  });

  it('refuses exp − iat over 24 h, and a far exp without iat', async () => {
    await rejectsWith(verifySubjectToken(await sign({ exp: t.now + 86_400 + 120 }), [github], opts), 'invalid_grant', /lifetime .* 86400 s/);
    await rejectsWith(verifySubjectToken(await sign({ exp: t.now + 10 * 365 * 86_400 }), [github], opts), 'invalid_grant', /lifetime/);
    await rejectsWith(verifySubjectToken(await sign({ iat: undefined, exp: t.now + 2 * 86_400 }), [github], opts), 'invalid_grant', /lifetime/);
    // An old iat with a far exp is as long-lived as it says, even if little of it remains.
    await rejectsWith(verifySubjectToken(await sign({ iat: t.now - 3 * 86_400, exp: t.now + 60 }), [github], opts), 'invalid_grant', /lifetime/);
  });

  it('refuses an iat in the future beyond the skew, and a missing exp', async () => {
    await rejectsWith(verifySubjectToken(await sign({ iat: t.now + 3600, exp: t.now + 3900 }), [github], opts), 'invalid_grant', /iat/);
    assert.equal((await verifySubjectToken(await sign({ iat: t.now + 20 }), [github], opts)).identityId, 'ci/acme/api');
    await rejectsWith(verifySubjectToken(await sign({ exp: undefined }), [github], opts), 'invalid_grant', /exp/);
  });

  it('is configurable per issuer (max_token_lifetime, seconds)', async () => {
    const strict = parseIssuerConfig({ ...base, max_token_lifetime: 600 });
    assert.equal((await verifySubjectToken(await sign({ exp: t.now + 600 }), [strict], opts)).identityId, 'ci/acme/api');
    await rejectsWith(verifySubjectToken(await sign({ exp: t.now + 3600 }), [strict], opts), 'invalid_grant', /maximum of 600 s/);
    assert.throws(() => parseIssuerConfig({ ...base, max_token_lifetime: 30 * 86_400 }), /max_token_lifetime/);
  });
});
