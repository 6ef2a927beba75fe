/**
 * Webhook alerts against a real node:http server on 127.0.0.1: signature, retry with backoff on 5xx
 * and on refused connections, no retry on 4xx, bounded queue, notify() never waits.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createWebhookNotifier, type Finding, type WebhookLogger } from '../../src/detect/index.js';
import { T0, fakeClock } from './streams.js';

const SECRET = 'whsec-test-0123456789';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers each POST with the next status from `script` (then 204), recording what it got. */
function receiver(script: number[]): Promise<{ server: Server; url: string; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = script.shift() ?? 204;
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/hook`, got });
    }),
  );
}

function finding(id: string): Finding {
  return { id, rule: 'replay', identity: 'svc/a', severity: 'critical', status: 'open', evidence: { reason: 'key_mismatch' }, grantId: 'g1', createdAt: T0 };
}

function recordingLogger(): WebhookLogger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, warn: (_o, m) => lines.push(`warn ${m}`), error: (_o, m) => lines.push(`error ${m}`) };
}

/** What a receiver does: recompute the HMAC over the raw body, compare in constant time. */
function verify(r: Received): boolean {
  const want = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(r.body).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-tether-signature']));
  return got.length === want.length && timingSafeEqual(got, want);
}

describe('webhook notifier', () => {
  let rx: Awaited<ReturnType<typeof receiver>>;
  before(async () => {
    rx = await receiver([503, 500]);
  });
  after(() => new Promise<void>((r) => rx.server.close(() => r())));

  it('signs the body, retries 5xx with backoff, and delivers', async () => {
    const logger = recordingLogger();
    const n = createWebhookNotifier({ url: rx.url, secret: SECRET, clock: fakeClock(T0 + 1234), logger, baseDelayMs: 5 });
    n.notify(finding('f1'));
    // notify() only enqueued: not even the first attempt started on the caller's turn.
    assert.deepEqual(n.stats(), { delivered: 0, failed: 0, dropped: 0, queued: 1, attempts: 0 });
    await n.flush();
    assert.equal(rx.got.length, 3);
    const last = rx.got[2]!;
    assert.deepEqual(JSON.parse(last.body), { type: 'tether.finding', finding: finding('f1') });
    assert.ok(verify(last));
    assert.equal(last.headers['x-tether-timestamp'], String(Math.floor((T0 + 1234) / 1000)));
    assert.equal(last.headers['content-type'], 'application/json');
    assert.ok(rx.got.every((r) => r.body === last.body && verify(r)), 'every attempt carries the same signed body');
    assert.deepEqual(n.stats(), { delivered: 1, failed: 0, dropped: 0, queued: 0, attempts: 3 });
    assert.deepEqual(logger.lines, ['warn webhook delivery failed, retrying', 'warn webhook delivery failed, retrying']);
  });

  it('does not retry a 4xx, and gives up after maxAttempts on a dead receiver', async () => {
    const rx4 = await receiver([400]);
    try {
      const logger = recordingLogger();
      const n = createWebhookNotifier({ url: rx4.url, secret: SECRET, clock: fakeClock(), logger, baseDelayMs: 1 });
      n.notify(finding('f2'));
      await n.flush();
      assert.equal(rx4.got.length, 1);
      assert.equal(n.stats().failed, 1);
    } finally {
      await new Promise<void>((r) => rx4.server.close(() => r()));
    }
    // A closed port: connection refused on every attempt.
    const logger = recordingLogger();
    const dead = createWebhookNotifier({ url: rx4.url, secret: SECRET, clock: fakeClock(), logger, baseDelayMs: 1, maxAttempts: 3 });
    dead.notify(finding('f3'));
    await dead.flush();
    assert.deepEqual(dead.stats(), { delivered: 0, failed: 1, dropped: 0, queued: 0, attempts: 3 });
    assert.equal(logger.lines.at(-1), 'error webhook delivery failed, giving up');
  });

  it('drops the oldest alerts when the queue is full, and counts them', async () => {
    const seen: string[] = [];
    const fetch = async (_u: string, init: { body: string }) => {
      seen.push((JSON.parse(init.body) as { finding: Finding }).finding.id);
      return { status: 200, ok: true };
    };
    const n = createWebhookNotifier({ url: 'http://127.0.0.1:9/unused', secret: SECRET, clock: fakeClock(), logger: recordingLogger(), fetch, maxQueue: 3 });
    for (let i = 0; i < 6; i++) n.notify(finding(`q${i}`));
    await n.flush();
    assert.deepEqual(seen, ['q3', 'q4', 'q5']);
    assert.equal(n.stats().dropped, 3);
    assert.equal(n.stats().delivered, 3);
  });

  it('refuses to run without a secret', () => {
    assert.throws(() => createWebhookNotifier({ url: 'http://127.0.0.1:9', secret: '', clock: fakeClock(), logger: recordingLogger() }));
  });
});
