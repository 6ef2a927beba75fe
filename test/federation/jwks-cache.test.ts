import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { JWK } from 'jose';
import { allowInsecureJwksUri, createJwksCache, parseIssuerConfig, verifySubjectToken } from '../../src/federation/index.js';
import { fakeClock, rejectsWith, testIssuer } from './helpers.js';

const ISS = 'https://issuer.test';
const AUD = 'https://tether.example.com';

/** A real JWKS endpoint on loopback whose answers and availability the test controls. */
async function jwksServer(initial: JWK[]) {
  const state = { keys: initial, hits: 0, status: 200, body: undefined as string | undefined };
  const server = createServer((req, res) => {
    state.hits++;
    if (state.status === 302) {
      res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
      return;
    }
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(state.body ?? JSON.stringify({ keys: state.keys }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks`;
  const stop = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close').catch(() => undefined);
  };
  after(() => (server.listening ? stop() : undefined));
  return { state, url, stop };
}

async function setup(opts: { minRefreshIntervalMs?: number; maxAgeMs?: number } = {}) {
  const key1 = await testIssuer('ES256', 'k1');
  const key2 = await testIssuer('ES256', 'k2');
  const srv = await jwksServer([key1.jwk]);
  const t = fakeClock();
  const cache = createJwksCache({ clock: t.clock, timeoutMs: 2000, [allowInsecureJwksUri]: true, ...opts });
  const issuer = parseIssuerConfig({ name: 'test', issuer: ISS, audience: AUD, jwks_uri: srv.url, identity: 'wl/{sub}' });
  const token = (k: typeof key1, sub = 'a') => k.sign({ iss: ISS, aud: AUD, sub, exp: t.now + 300 });
  const verify = async (tok: string) => (await verifySubjectToken(tok, [issuer], { jwks: cache, clock: t.clock })).identityId;
  return { key1, key2, srv, t, cache, token, verify };
}

describe('JWKS cache over a real HTTP endpoint', () => {
  it('refuses http jwks_uri unless the loud flag is set', () => {
    const t = fakeClock();
    assert.throws(() => createJwksCache({ clock: t.clock }).keyResolver('http://127.0.0.1/jwks'), /must use https/);
    assert.throws(() => createJwksCache({ clock: t.clock }).keyResolver('file:///jwks'), /must use https/);
  });

  it('fetches once and serves later verifications from memory, even concurrent ones', async () => {
    const { key1, srv, token, verify } = await setup();
    const results = await Promise.all([verify(await token(key1, 'a')), verify(await token(key1, 'b'))]);
    assert.deepEqual(results, ['wl/a', 'wl/b']);
    assert.equal(await verify(await token(key1, 'c')), 'wl/c');
    assert.equal(srv.state.hits, 1);
  });

  it('refuses a platform token verified before once its key has left the issuer\'s JWKS (verified results are tied to the key)', async () => {
    const { key1, key2, srv, t, token, verify } = await setup({ maxAgeMs: 60_000 });
    const tok = await token(key1);
    assert.equal(await verify(tok), 'wl/a');
    assert.equal(await verify(tok), 'wl/a');
    srv.state.keys = [key2.jwk]; // the issuer rotates k1 out
    t.advance(61); // the keys are stale: the next use refetches them, and k1 is gone
    await rejectsWith(verify(tok), 'invalid_grant', /no trusted key matches/);
    assert.equal(srv.state.hits, 2);
  });

  it('refetches on an unknown kid, but at most once per minRefreshInterval', async () => {
    const { key1, key2, srv, t, token, verify } = await setup();
    await verify(await token(key1));
    srv.state.keys = [key1.jwk, key2.jwk]; // the issuer rotates in k2

    t.advance(10); // within the 30 s rate limit: no refetch, k2 unknown
    await rejectsWith(verify(await token(key2)), 'invalid_grant', /no trusted key matches/);
    for (let i = 0; i < 5; i++) await rejectsWith(verify(await token(key2)), 'invalid_grant');
    assert.equal(srv.state.hits, 1);

    t.advance(21); // past the interval: one refetch finds k2
    assert.equal(await verify(await token(key2)), 'wl/a');
    assert.equal(srv.state.hits, 2);

    // made-up kids after that are again rate limited
    for (let i = 0; i < 5; i++) {
      const bogus = await key2.sign({ iss: ISS, aud: AUD, sub: 'a', exp: t.now + 300 }, { kid: `bogus-${i}` });
      await rejectsWith(verify(bogus), 'invalid_grant', /no trusted key matches/);
    }
    assert.equal(srv.state.hits, 2);
  });

  it('keeps serving the last good keys when the endpoint goes down', async () => {
    const { key1, key2, srv, t, token, verify } = await setup();
    await verify(await token(key1));
    await srv.stop();

    t.advance(3600); // keys are stale: a refresh is attempted, fails, and the old keys still verify
    assert.equal(await verify(await token(key1)), 'wl/a');
    await rejectsWith(verify(await token(key2)), 'invalid_grant', /no trusted key matches/);
    t.advance(60);
    assert.equal(await verify(await token(key1)), 'wl/a');
  });

  it('drops keys the issuer stopped publishing once refreshed', async () => {
    const { key1, key2, srv, t, token, verify } = await setup();
    await verify(await token(key1));
    srv.state.keys = [key2.jwk];
    t.advance(601); // past maxAge
    assert.equal(await verify(await token(key2)), 'wl/a');
    await rejectsWith(verify(await token(key1)), 'invalid_grant', /no trusted key matches/);
    assert.equal(srv.state.hits, 2);
  });

  it('fails closed with invalid_grant on a cold cache whose endpoint errors, and rate-limits retries', async () => {
    const { key1, srv, t, token, verify } = await setup();
    srv.state.status = 500;
    await rejectsWith(verify(await token(key1)), 'invalid_grant', /could not be fetched/);
    await rejectsWith(verify(await token(key1)), 'invalid_grant', /failed recently/);
    assert.equal(srv.state.hits, 1);
    srv.state.status = 200;
    t.advance(31);
    assert.equal(await verify(await token(key1)), 'wl/a');
  });

  it('does not follow redirects, and refuses non-JWKS, private or oversized answers', async () => {
    for (const [status, body] of [
      [302, undefined],
      [200, 'not json'],
      [200, JSON.stringify({ nokeys: [] })],
      [200, JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'k1' }] })],
      [200, JSON.stringify({ keys: [] , pad: 'x'.repeat(600 * 1024) })],
    ] as const) {
      const { key1, srv, token, verify } = await setup();
      srv.state.status = status;
      srv.state.body = body;
      await rejectsWith(verify(await token(key1)), 'invalid_grant', /could not be fetched/);
      await srv.stop();
    }
  });
});
