/**
 * One unauthenticated request must not stall the broker (README "Limits"): the MCP gateway keeps
 * its JSON body as bytes to forward, and the edge's storable-input check walked those bytes as an
 * object, one allocation per byte: a 4 MiB POST to /mcp/<anything> blocked the event loop for
 * seconds, before any credential was looked at. Endpoints anyone may post to whose requests are
 * small by nature (a login, an OAuth form) refuse a large body instead of parsing 1 MiB of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stallMeter } from '../helpers/event-loop.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';

describe('a large raw body is not walked byte by byte', () => {
  let b: RunningBroker;
  before(async () => {
    b = await startBroker('pglite');
  });
  after(async () => {
    await b?.stop();
  });

  test('an unauthenticated 4 MiB MCP POST is refused without blocking the event loop, and the broker keeps answering', async () => {
    const body = `"${'a'.repeat(4 * 1024 * 1024 - 64)}"`;
    // Warm up the route once with a small body, so the measurement is the body's cost alone.
    assert.equal((await fetch(`${b.url}/mcp/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 404);
    const lag = stallMeter();
    const res = await fetch(`${b.url}/mcp/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = (await res.json()) as { error?: string };
    const stalledMs = lag.stop();
    assert.equal(res.status, 404, JSON.stringify(answer));
    assert.equal(answer.error, 'not_found');
    const maxMs = stalledMs;
    // Before: about 3 s for this body on the test machine (4 M [index, byte] pairs); now a few ms.
    assert.ok(maxMs < 1000, `the event loop was blocked for ${Math.round(maxMs)} ms`);
    assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
  });

  test('endpoints anyone may post to refuse a body far beyond what they take (413, JSON), unparsed', async () => {
    // A JSON object of ~90k members: parsing and walking it held the event loop ~250 ms per request.
    const json = '{' + Array.from({ length: 90_000 }, (_, i) => `"k${i}":1`).join(',') + '}';
    const form = `token=${'a'.repeat(300 * 1024)}`;
    const cases: Array<[string, string, string]> = [
      ['/console/api/login', 'application/json', json],
      ['/oauth/token', 'application/json', json],
      ['/oauth/token', 'application/x-www-form-urlencoded', form],
      ['/oauth/revoke', 'application/x-www-form-urlencoded', form],
      ['/oauth/introspect', 'application/x-www-form-urlencoded', form],
      ['/credentials/v1/pg/reader', 'application/json', json],
    ];
    for (const [path, type, body] of cases) {
      const lag = stallMeter();
      const res = await fetch(`${b.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
      const answer = (await res.json()) as { error?: string };
      const stalledMs = lag.stop();
      assert.equal(res.status, 413, `${path} ${type}: ${JSON.stringify(answer)}`);
      assert.equal(answer.error, 'payload_too_large', path);
      assert.ok(stalledMs < 250, `${path}: the event loop was blocked for ${Math.round(stalledMs)} ms`);
    }
    // A login of normal size is still parsed and judged (a wrong token is 401, not 413).
    const login = await fetch(`${b.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'not-a-token' }) });
    assert.equal(login.status, 401);
  });

  test('the storable-input check still refuses a NUL in a JSON body, query or path', async () => {
    const r = await fetch(`${b.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'a\u0000b' }) });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error_description: string }).error_description, /NUL/);
    const q = await b.admin('GET', '/admin/v1/audit?type=a%00b');
    assert.equal(q.status, 400, JSON.stringify(q.body));
  });
});
