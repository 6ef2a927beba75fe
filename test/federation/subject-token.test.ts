import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SignJWT, UnsecuredJWT, base64url, exportSPKI } from 'jose';
import { createJwksCache, parseIssuerConfig, verifySubjectToken } from '../../src/federation/index.js';
import type { IssuerConfig } from '../../src/federation/index.js';
import { fakeClock, rejectsWith, testIssuer } from './helpers.js';

const AUD = 'https://tether.example.com';
const GH = 'https://token.actions.githubusercontent.com';
const K8S = 'https://kubernetes.default.svc.cluster.local';

const t = fakeClock();
const noFetch: typeof fetch = async () => {
  throw new Error('no network in this test');
};
const jwks = createJwksCache({ clock: t.clock, fetch: noFetch });
const opts = { jwks, clock: t.clock };

const gh = await testIssuer('RS256', 'gh-1');
const k8s = await testIssuer('ES256', 'k8s-1');
const spire = await testIssuer('EdDSA', 'spire-1');
const stranger = await testIssuer('RS256', 'gh-1'); // same kid as GitHub's key, different key

const github: IssuerConfig = parseIssuerConfig({
  name: 'github-actions',
  issuer: GH,
  audience: AUD,
  jwks: { keys: [gh.jwk] },
  identity: 'ci/{repository}',
  claims: { repository_owner: 'acme' },
});
const kubernetes: IssuerConfig = parseIssuerConfig({
  name: 'kubernetes',
  issuer: K8S,
  audience: AUD,
  jwks: { keys: [k8s.jwk] },
  identity: 'k8s/{kubernetes.io.namespace}/{kubernetes.io.serviceaccount.name}',
});
const spiffe: IssuerConfig = parseIssuerConfig({
  name: 'spiffe-example',
  kind: 'spiffe',
  issuer: 'spiffe://example.org',
  audience: AUD,
  jwks: { keys: [spire.jwk] },
  identity: '{sub}',
});
const issuers = [github, kubernetes, spiffe];

function ghClaims(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: GH,
    aud: AUD,
    sub: 'repo:acme/api:ref:refs/heads/main',
    repository: 'acme/api',
    repository_owner: 'acme',
    ref: 'refs/heads/main',
    iat: t.now - 10,
    nbf: t.now - 10,
    exp: t.now + 300,
    ...over,
  };
}

describe('verifySubjectToken: good tokens', () => {
  it('maps a GitHub Actions token to ci/{repository}', async () => {
    const r = await verifySubjectToken(await gh.sign(ghClaims()), issuers, opts);
    assert.equal(r.identityId, 'ci/acme/api');
    assert.equal(r.issuer.name, 'github-actions');
    assert.equal(r.claims.repository, 'acme/api');
  });

  it('maps a Kubernetes projected token through the dotted "kubernetes.io" claim', async () => {
    const token = await k8s.sign({
      iss: K8S,
      aud: [AUD, 'https://kubernetes.default.svc'],
      sub: 'system:serviceaccount:payments:api',
      'kubernetes.io': {
        namespace: 'payments',
        serviceaccount: { name: 'api', uid: '2f0b6c5e-1d1a-4a7e-9d4b-0c6b1a2f3e4d' },
        pod: { name: 'api-7d9f', uid: 'a1' },
      },
      iat: t.now,
      exp: t.now + 3600,
    });
    const r = await verifySubjectToken(token, issuers, opts);
    assert.equal(r.identityId, 'k8s/payments/api');
  });

  it('maps a JWT-SVID without iss by its SPIFFE trust domain', async () => {
    const token = await spire.sign({ sub: 'spiffe://example.org/ns/prod/sa/api', aud: AUD, exp: t.now + 300, iat: t.now });
    const r = await verifySubjectToken(token, issuers, opts);
    assert.equal(r.identityId, 'spiffe://example.org/ns/prod/sa/api');
    assert.equal(r.issuer.kind, 'spiffe');
  });

  it('accepts an expired token within the skew, and a token whose nbf is within the skew', async () => {
    const r1 = await verifySubjectToken(await gh.sign(ghClaims({ exp: t.now - 20 })), issuers, opts);
    assert.equal(r1.identityId, 'ci/acme/api');
    const r2 = await verifySubjectToken(await gh.sign(ghClaims({ nbf: t.now + 20 })), issuers, opts);
    assert.equal(r2.identityId, 'ci/acme/api');
  });

  it('tries every issuer config sharing an iss (one per organisation) and picks the one that matches', async () => {
    const other = parseIssuerConfig({ ...github, name: 'github-other', claims: { repository_owner: 'other' }, identity: 'ext/{repository}' });
    const r = await verifySubjectToken(await gh.sign(ghClaims({ repository_owner: 'other', repository: 'other/x' })), [github, other], opts);
    assert.equal(r.issuer.name, 'github-other');
    assert.equal(r.identityId, 'ext/other/x');
  });

  it('verifies a kid-less token against a JWKS with several keys', async () => {
    const second = await testIssuer('RS256', 'gh-2');
    const multi = parseIssuerConfig({ ...github, jwks: { keys: [second.jwk, gh.jwk] } });
    const token = await new SignJWT(ghClaims()).setProtectedHeader({ alg: 'RS256' }).sign(gh.privateKey);
    const r = await verifySubjectToken(token, [multi], opts);
    assert.equal(r.identityId, 'ci/acme/api');
  });
});

describe('verifySubjectToken: refusals are invalid_grant', () => {
  it('refuses an unknown issuer', async () => {
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ iss: 'https://evil.example' })), issuers, opts), 'invalid_grant', /no trusted issuer/);
  });

  it('refuses a kid the issuer does not publish', async () => {
    const token = await gh.sign(ghClaims(), { kid: 'not-published' });
    await rejectsWith(verifySubjectToken(token, issuers, opts), 'invalid_grant', /no trusted key matches/);
  });

  it('refuses a token signed by another key under a published kid', async () => {
    await rejectsWith(verifySubjectToken(await stranger.sign(ghClaims()), issuers, opts), 'invalid_grant', /signature is invalid/);
  });

  it('refuses the wrong audience', async () => {
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ aud: 'https://other.example' })), issuers, opts), 'invalid_grant', /audience/);
  });

  it('refuses a token with no aud', async () => {
    const { aud: _aud, ...claims } = ghClaims();
    await rejectsWith(verifySubjectToken(await gh.sign(claims), issuers, opts), 'invalid_grant', /no aud/);
  });

  it('refuses an expired token beyond the skew', async () => {
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ exp: t.now - 31 })), issuers, opts), 'invalid_grant', /expired/);
  });

  it('refuses a token whose nbf is in the future beyond the skew', async () => {
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ nbf: t.now + 60 })), issuers, opts), 'invalid_grant', /not yet valid/);
  });

  it('refuses a token without exp', async () => {
    const { exp: _exp, ...claims } = ghClaims();
    await rejectsWith(verifySubjectToken(await gh.sign(claims), issuers, opts), 'invalid_grant', /"exp"/);
  });

  it('refuses alg "none"', async () => {
    const token = new UnsecuredJWT(ghClaims()).encode();
    await rejectsWith(verifySubjectToken(token, issuers, opts), 'invalid_grant', /alg is not allowed/);
  });

  it('refuses HS256 signed with the public key bytes as the HMAC secret (algorithm confusion)', async () => {
    for (const secret of [await exportSPKI(gh.publicKey), JSON.stringify(gh.jwk)]) {
      const header = base64url.encode(JSON.stringify({ alg: 'HS256', kid: gh.kid, typ: 'JWT' }));
      const payload = base64url.encode(JSON.stringify(ghClaims()));
      const sig = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
      await rejectsWith(verifySubjectToken(`${header}.${payload}.${sig}`, issuers, opts), 'invalid_grant', /alg is not allowed/);
    }
  });

  it('refuses an algorithm outside the issuer allowlist', async () => {
    const esOnly = parseIssuerConfig({ ...github, algorithms: ['ES256'] });
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims()), [esOnly], opts), 'invalid_grant', /alg is not allowed/);
  });

  it('ignores jku and x5u: an attacker key they point to never verifies, a good token still does', async () => {
    const fetched: string[] = [];
    const spyCache = createJwksCache({
      clock: t.clock,
      fetch: async (url) => {
        fetched.push(String(url));
        throw new Error('offline');
      },
    });
    const spyOpts = { jwks: spyCache, clock: t.clock };
    const forged = await stranger.sign(ghClaims(), { jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert.pem' });
    await rejectsWith(verifySubjectToken(forged, issuers, spyOpts), 'invalid_grant', /signature is invalid/);
    const good = await gh.sign(ghClaims(), { jku: 'https://evil.example/jwks', x5u: 'https://evil.example/cert.pem' });
    const r = await verifySubjectToken(good, issuers, spyOpts);
    assert.equal(r.identityId, 'ci/acme/api');
    assert.deepEqual(fetched, []);
  });

  it('refuses a violated claim constraint', async () => {
    await rejectsWith(
      verifySubjectToken(await gh.sign(ghClaims({ repository_owner: 'evil' })), issuers, opts),
      'invalid_grant',
      /"repository_owner" does not satisfy/,
    );
  });

  it('refuses a constraint that would only match after type coercion', async () => {
    const numeric = parseIssuerConfig({ ...github, claims: { repository_id: 42 } });
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ repository_id: '42' })), [numeric], opts), 'invalid_grant', /repository_id/);
  });

  it('refuses an identity claim that is missing or carries disallowed characters', async () => {
    const { repository: _r, ...noRepo } = ghClaims();
    await rejectsWith(verifySubjectToken(await gh.sign(noRepo), issuers, opts), 'invalid_grant', /lacks the claim "repository"/);
    for (const repository of ['acme/api"x', 'acme/api x', 'acme/{api}', 'acme/a\u0000', 'acme/ü']) {
      await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ repository })), issuers, opts), 'invalid_grant', /not allowed in an identity id/);
    }
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims({ repository: { x: 1 } })), issuers, opts), 'invalid_grant', /lacks/);
  });

  it('never reads the prototype through a claim path', async () => {
    const proto = parseIssuerConfig({ ...github, claims: undefined, identity: 'ci/{constructor.name}' });
    await rejectsWith(verifySubjectToken(await gh.sign(ghClaims()), [proto], opts), 'invalid_grant', /lacks the claim/);
  });

  it('refuses garbage, JWE-shaped and oversized input', async () => {
    for (const junk of ['', 'garbage', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.e30', '....']) {
      await rejectsWith(verifySubjectToken(junk, issuers, opts), 'invalid_grant');
    }
    const big = await gh.sign(ghClaims({ pad: 'x'.repeat(20000) }));
    await rejectsWith(verifySubjectToken(big, issuers, opts), 'invalid_grant', /larger than 16384 bytes/);
  });

  it('refuses a JWT-SVID whose sub is not a SPIFFE ID of the trust domain', async () => {
    for (const sub of ['spiffe://other.org/ns/prod', 'spiffe://example.org', 'spiffe://example.org/../x', 'workload']) {
      const token = await spire.sign({ iss: 'spiffe://example.org', sub, aud: AUD, exp: t.now + 300 });
      await rejectsWith(verifySubjectToken(token, issuers, opts), 'invalid_grant');
    }
  });

  it('never puts the token in the error message', async () => {
    const token = await gh.sign(ghClaims({ aud: 'nope' }));
    const e = await rejectsWith(verifySubjectToken(token, issuers, opts), 'invalid_grant');
    assert.ok(!e.message.includes(token.split('.')[1] ?? '#'));
  });
});
