import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { TetherError } from '../../src/errors.js';
import { assertUsableByBroker, parseIssuerConfig, parseIssuerConfigs, readClaim, renderIdentity } from '../../src/federation/index.js';

const base = {
  name: 'github-actions',
  issuer: 'https://token.actions.githubusercontent.com',
  audience: 'https://tether.example.com',
  jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
  identity: 'ci/{repository}',
};

function refused(input: unknown, field: RegExp): void {
  assert.throws(
    () => parseIssuerConfig(input),
    (e: unknown) => e instanceof TetherError && e.code === 'invalid_request' && field.test(e.message),
  );
}

describe('issuer config', () => {
  it('parses a minimal config', () => {
    const c = parseIssuerConfig(base);
    assert.equal(c.name, 'github-actions');
    assert.equal(c.kind, undefined);
  });

  it('requires exactly one of jwks and jwks_uri', () => {
    refused({ ...base, jwks_uri: undefined }, /exactly one of jwks and jwks_uri/);
    refused({ ...base, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } }, /exactly one/);
  });

  it('refuses symmetric and private keys in an inline JWKS', () => {
    const noUri = { ...base, jwks_uri: undefined };
    refused({ ...noUri, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, /jwks/);
    refused({ ...noUri, jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' }] } }, /public keys only/);
  });

  it('refuses none, HMAC and unknown algorithms', () => {
    for (const alg of ['none', 'HS256', 'XX1']) refused({ ...base, algorithms: [alg] }, /algorithms/);
  });

  it('refuses malformed identity templates, unknown fields and non-http jwks_uri', () => {
    for (const identity of ['ci/{repository', 'ci/{}', 'ci/{a b}', 'ci x', '']) refused({ ...base, identity }, /identity/);
    refused({ ...base, audiance: 'typo' }, /audiance|Unrecognized/);
    refused({ ...base, jwks_uri: 'file:///etc/jwks.json' }, /jwks_uri/);
  });

  it('refuses an http jwks_uri (loopback aside), credentials and fragments, naming the issuer and field', () => {
    for (const jwks_uri of ['http://token.actions.githubusercontent.com/.well-known/jwks', 'http://10.0.0.1/jwks', 'http://127.0.0.1.evil.example/jwks']) {
      refused({ ...base, jwks_uri }, /^invalid issuer config "github-actions": jwks_uri: must use https/);
    }
    refused({ ...base, jwks_uri: 'https://user:pw@issuer.example/jwks' }, /jwks_uri: must not carry credentials/);
    refused({ ...base, jwks_uri: 'https://issuer.example/jwks#x' }, /jwks_uri: must not carry credentials or a fragment/);
    // Loopback http parses (tests give their own JWKS cache the allowInsecureJwksUri symbol); the broker refuses it at apply.
    for (const jwks_uri of ['http://127.0.0.1:8080/jwks', 'http://localhost/jwks', 'http://[::1]:9/jwks']) assert.equal(parseIssuerConfig({ ...base, jwks_uri }).jwks_uri, jwks_uri);
    assert.throws(() => assertUsableByBroker(parseIssuerConfig({ ...base, jwks_uri: 'http://127.0.0.1:8080/jwks' })), /"github-actions": jwks_uri: must use https/);
  });

  it('refuses duplicate issuer names', () => {
    assert.throws(() => parseIssuerConfigs([base, base]), /duplicate issuer name/);
  });

  it('every example in examples/issuers parses', () => {
    // Found by walking up from this file, so it works from src (tsx) and from any build outDir.
    let root = dirname(fileURLToPath(import.meta.url));
    while (!existsSync(join(root, 'examples', 'issuers')) && dirname(root) !== root) root = dirname(root);
    const dir = join(root, 'examples', 'issuers');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 5);
    for (const f of files) {
      const doc: unknown = parse(readFileSync(join(dir, f), 'utf8'));
      const list = Array.isArray(doc) ? doc : [doc];
      assert.ok(parseIssuerConfigs(list).length >= 1, f);
    }
  });
});

describe('claim paths and identity templates', () => {
  const claims = {
    sub: 'system:serviceaccount:payments:api',
    'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } },
    a: { b: { c: 'deep' } },
    'a.b': { c: 'dotted' },
    n: 12345,
    f: 1.5,
  };

  it('resolves nested and dotted-key paths, preferring the longest own key', () => {
    assert.equal(readClaim(claims, 'kubernetes.io.namespace'), 'payments');
    assert.equal(readClaim(claims, 'kubernetes.io.serviceaccount.name'), 'api');
    assert.equal(readClaim(claims, 'a.b.c'), 'dotted');
    assert.equal(readClaim(claims, 'a.x'), undefined);
    assert.equal(readClaim(claims, '__proto__'), undefined);
  });

  it('renders integers but not fractions', () => {
    assert.equal(renderIdentity('id/{n}', claims), 'id/12345');
    assert.throws(() => renderIdentity('id/{f}', claims), /lacks the claim "f"/);
  });
});
