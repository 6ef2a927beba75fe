/**
 * One unauthenticated request must not stall the broker (README "Limits"): the MCP gateway keeps
 * its JSON body as bytes to forward, and the edge's storable-input check walked those bytes as an
 * object, one allocation per byte: a 4 MiB POST to /mcp/<anything> blocked the event loop for
 * seconds, before any credential was looked at.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
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
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const res = await fetch(`${b.url}/mcp/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = (await res.json()) as { error?: string };
    lag.disable();
    assert.equal(res.status, 404, JSON.stringify(answer));
    assert.equal(answer.error, 'not_found');
    const maxMs = lag.max / 1e6;
    // Before: about 3 s for this body on the test machine (4 M [index, byte] pairs); now a few ms.
    assert.ok(maxMs < 1000, `the event loop was blocked for ${Math.round(maxMs)} ms`);
    assert.equal((await fetch(`${b.url}/healthz`)).status, 200);
  });

  test('the storable-input check still refuses a NUL in a JSON body, query or path', async () => {
    const r = await fetch(`${b.url}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'a\u0000b' }) });
    assert.equal(r.status, 400);
    assert.match(((await r.json()) as { error_description: string }).error_description, /NUL/);
    const q = await b.admin('GET', '/admin/v1/audit?type=a%00b');
    assert.equal(q.status, 400, JSON.stringify(q.body));
  });
});
