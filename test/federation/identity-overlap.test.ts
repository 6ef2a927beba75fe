import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { assertNoIdentityOverlap, parseIssuerConfig } from '../../src/federation/index.js';
import { REPO_ROOT } from '../helpers/repo.js';

const KEY = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
const issuer = (name: string, identity: string, extra: Record<string, unknown> = {}) =>
  parseIssuerConfig({ name, issuer: `https://${name}.example`, audience: 'tether', jwks: { keys: [KEY] }, identity, ...extra });

const refused = (a: ReturnType<typeof issuer>, b: ReturnType<typeof issuer>) =>
  assert.throws(() => assertNoIdentityOverlap(a, [b]), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'invalid_request');
    assert.match(e.message, new RegExp(`issuer "${a.name}" identity: .*issuer "${b.name}"`));
    return true;
  });
const accepted = (a: ReturnType<typeof issuer>, b: ReturnType<typeof issuer>) => {
  assertNoIdentityOverlap(a, [b]);
  assertNoIdentityOverlap(b, [a]);
};

describe('identity templates of different issuers never overlap', () => {
  it('refuses templates that can render the same id', () => {
    refused(issuer('gitlab', 'ci/{project_path}'), issuer('github', 'ci/{repository}'));
    refused(issuer('any', '{sub}'), issuer('github', 'ci/{repository}'));
    refused(issuer('k', 'k8s/{ns}/{sa}'), issuer('k2', 'k8s/{a}'));
    refused(issuer('lit', 'ci/acme/api'), issuer('github', 'ci/{repository}'));
    refused(issuer('a', 'x{a}y'), issuer('b', 'xy{b}'));
  });

  it('accepts distinct prefixes, disjoint literals and placeholders pinned to different values', () => {
    accepted(issuer('gitlab', 'gitlab/{project_path}'), issuer('github', 'ci/{repository}'));
    accepted(issuer('a', 'ci/{owner}/{repo}', { claims: { owner: 'acme' } }), issuer('b', 'ci/{owner}/{repo}', { claims: { owner: 'other' } }));
    accepted(issuer('lit', 'ci/acme'), issuer('github', 'ci/{repository}/x'));
    // The same name is the same issuer being re-applied, not an overlap.
    assertNoIdentityOverlap(issuer('github', 'ci/{repository}'), [issuer('github', 'ci/{sub}')]);
  });

  it('knows what private_key_jwt and spiffe placeholders can be', () => {
    const pk = parseIssuerConfig({ name: 'billing', kind: 'private_key_jwt', issuer: 'svc/billing', audience: 'tether', jwks: { keys: [KEY] }, identity: '{sub}' });
    accepted(pk, issuer('github', 'ci/{repository}'));
    refused(pk, issuer('svc', 'svc/{name}'));
    const spiffe = parseIssuerConfig({ name: 'spire', kind: 'spiffe', issuer: 'spiffe://example.org', audience: 'tether', jwks: { keys: [KEY] }, identity: '{sub}' });
    accepted(spiffe, issuer('github', 'ci/{repository}'));
    accepted(spiffe, parseIssuerConfig({ name: 'spire2', kind: 'spiffe', issuer: 'spiffe://other.org', audience: 'tether', jwks: { keys: [KEY] }, identity: '{sub}' }));
    refused(spiffe, issuer('raw', '{sub}'));
  });

  it('the shipped examples can all be applied together', () => {
    const dir = join(REPO_ROOT, 'examples', 'issuers');
    const all = readdirSync(dir).map((f) => parseIssuerConfig(parse(readFileSync(join(dir, f), 'utf8'))));
    assert.ok(all.length >= 5);
    for (const c of all) assertNoIdentityOverlap(c, all);
  });
});
