import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { SERVER_LIMITS } from '../../src/server/limits.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';

let b: RunningBroker;
before(async () => {
  b = await startBroker('pg'); // the limits do not depend on the store
});
after(async () => {
  await b?.stop();
});

/** A request head that never ends: the connection stays open, waiting for the rest. */
function halfRequest(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    // Past the cap the broker may close one before it is even established here: that is eviction.
    const closed = new Promise<number>((r) => socket.once('close', () => r(performance.now() - t0)));
    socket.on('error', () => {});
    socket.resume(); // read the 408 and the close, as a client would
    socket.once('connect', () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      resolve({ socket, closed });
    });
    socket.once('close', () => resolve({ socket, closed }));
  });
}

test('a flood of idle half-requests neither stops /healthz nor outlives the header timeout', async () => {
  const port = Number(new URL(b.url).port);
  const n = SERVER_LIMITS.maxConnections + 200; // past the cap: the oldest half-requests are evicted
  const held: Array<{ socket: net.Socket; closed: Promise<number> }> = [];
  for (let i = 0; i < n; i += 50) held.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => halfRequest(port)))));
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${b.url}/healthz`, { signal: AbortSignal.timeout(2000) });
    assert.equal(res.status, 200);
  }
  const healthMs = performance.now() - t0;
  const lifetimes = await Promise.all(held.map((h) => h.closed));
  const max = Math.max(...lifetimes);
  process.stdout.write(`# ${n} half-requests: /healthz x5 in ${Math.round(healthMs)} ms; every half-request closed within ${Math.round(max)} ms\n`);
  assert.ok(max <= SERVER_LIMITS.headersTimeoutMs + 5000, `a half-request stayed open ${Math.round(max)} ms`);
  assert.ok(lifetimes.filter((ms) => ms < SERVER_LIMITS.headersTimeoutMs).length >= n - SERVER_LIMITS.maxConnections, 'past the cap, the oldest half-requests were evicted');
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const port = Number(new URL(b.url).port);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.resume();
  await new Promise((r) => socket.once('connect', r));
  socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  const t0 = performance.now();
  await new Promise((r) => socket.once('data', r));
  await new Promise((r) => socket.once('close', r));
  const ms = performance.now() - t0;
  assert.ok(ms >= SERVER_LIMITS.keepAliveTimeoutMs - 500 && ms <= SERVER_LIMITS.keepAliveTimeoutMs + 5000, `closed after ${Math.round(ms)} ms`);
});
