import assert from 'node:assert/strict';
import http from 'node:http';
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

/** A request whose body never finishes: its head is complete, so it is not an idle half-request. */
function slowBody(port: number, from: string): Promise<{ socket: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.resume();
    socket.once('connect', () => {
      socket.write('POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=');
      resolve({ socket, closed });
    });
    socket.once('close', () => resolve({ socket, closed }));
  });
}

/** GET /healthz from a given local address (127.0.0.0/8 is all loopback on Linux). */
function healthzFrom(port: number, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress: from, agent: false, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

test('one address holds at most its share: slow bodies from a few sources neither exceed the per-source cap nor lock out a newcomer', async () => {
  const port = Number(new URL(b.url).port);
  const per = SERVER_LIMITS.maxConnectionsPerSource;
  const held: Array<{ socket: net.Socket; closed: Promise<void> }> = [];
  const open = () => held.filter((h) => !h.socket.destroyed).length;
  // One source past its cap: the connections over it are closed at once.
  for (let i = 0; i < per + 20; i += 25) held.push(...(await Promise.all(Array.from({ length: Math.min(25, per + 20 - i) }, () => slowBody(port, '127.0.0.2')))));
  const settle = async (done: () => boolean) => {
    for (let i = 0; i < 50 && !done(); i++) await new Promise((r) => setTimeout(r, 100));
  };
  await settle(() => open() <= per);
  assert.equal(open(), per, `127.0.0.2 keeps ${per} connections`);
  // Enough sources to fill every slot with complete heads and unfinished bodies.
  const sources = Math.ceil(SERVER_LIMITS.maxConnections / per);
  for (let s = 3; s < 3 + sources - 1; s++) {
    for (let i = 0; i < per; i += 32) held.push(...(await Promise.all(Array.from({ length: Math.min(32, per - i) }, () => slowBody(port, `127.0.0.${s}`)))));
  }
  await settle(() => open() <= SERVER_LIMITS.maxConnections);
  assert.ok(open() <= SERVER_LIMITS.maxConnections, `${open()} open`);
  // A newcomer from another address is served: it evicts the oldest connection of the heaviest source.
  const t0 = performance.now();
  assert.equal(await healthzFrom(port, '127.0.0.200'), 200);
  assert.equal(await healthzFrom(port, '127.0.0.201'), 200);
  process.stdout.write(`# ${held.length} slow bodies from ${sources} addresses: ${open()} open; a newcomer served in ${Math.round(performance.now() - t0)} ms\n`);
  // The gateway's own address is not capped per source (the existing half-request flood above comes
  // from 127.0.0.1, the default gateway address, beyond 128 connections).
  for (const h of held) h.socket.destroy();
  await Promise.all(held.map((h) => h.closed));
});
