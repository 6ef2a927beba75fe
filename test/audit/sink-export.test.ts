/**
 * Streaming export without loss: an HTTP receiver stopped under load and restarted, a broker restarted
 * in between; JSON Lines files rotate; syslog (RFC 5424 over TCP) gets the same stream. Delivery is
 * at least once: duplicates (a batch resent after its acknowledgement was lost) carry their seq.
 * The outage is 5 s here rather than 30 s: the runner's behaviour does not depend on its length, only
 * the backoff (capped at 30 s) does, and the suite has a time budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { createTestDb } from '../helpers/stores.js';
import { applyPermitAll, decisions, ndjsonReceiver } from './fixture.js';

const receiver = ndjsonReceiver;

function syslogReceiver(seqs: number[]) {
  let buf = Buffer.alloc(0);
  const server = net.createServer((s) =>
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // RFC 6587 §3.4.1 octet counting: "LEN SP MSG".
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString());
        if (buf.length < sp + 1 + len) break;
        const msg = buf.subarray(sp + 1, sp + 1 + len).toString('utf8');
        buf = buf.subarray(sp + 1 + len);
        assert.match(msg, /^<1[0-9]{2}>1 \S+ \S+ tether \d+ \S+ \[tether@32473 seq="\d+" hash="[0-9a-f]{64}"/);
        seqs.push(Number(/seq="(\d+)"/.exec(msg)![1]));
      }
    }),
  );
  return new Promise<net.Server>((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

const close = (s: http.Server | net.Server) => new Promise<void>((r) => s.close(() => r()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every seq 1..head arrived, and the stream never skipped ahead (a resend restarts at the cursor). */
function assertComplete(seqs: number[], head: number, what: string) {
  let max = 0;
  for (const s of seqs) {
    assert.ok(s <= max + 1, `${what}: seq ${s} arrived before ${max + 1}`);
    max = Math.max(max, s);
  }
  const unique = new Set(seqs);
  assert.equal(unique.size, head, `${what}: ${unique.size} distinct of ${head}`);
  assert.equal(max, head);
  return seqs.length - unique.size;
}

async function drained(b: RunningBroker) {
  for (let i = 0; i < 200; i++) {
    const s = await b.admin('GET', '/admin/v1/audit/sinks');
    const head = Number((await b.broker.store.query<{ seq: number }>('SELECT seq FROM audit_head')).rows[0]!.seq);
    if (s.body.sinks.every((x: { cursor: number }) => x.cursor === head)) return head;
    await sleep(100);
  }
  throw new Error('sinks did not catch up');
}

describe('streaming export', () => {
  test('HTTP receiver down 5 s under load, broker restarted: every event arrives, in order, at least once; no request refused', async () => {
    const db = await createTestDb('pg');
    const httpSeqs: number[] = [];
    const syslogSeqs: number[] = [];
    const probe = await receiver(0, httpSeqs);
    const port = (probe.address() as net.AddressInfo).port;
    const sys = await syslogReceiver(syslogSeqs);
    const jsonlDir = mkdtempSync(join(tmpdir(), 'tether-sink-'));
    const overrides = {
      auditSinks: [`http://127.0.0.1:${port}/ingest`, `jsonl:${jsonlDir}`, `ocsf+syslog://127.0.0.1:${(sys.address() as net.AddressInfo).port}`],
      auditJsonlRotateBytes: 64 * 1024,
    };
    let rx: http.Server | null = probe;
    let b = await startBroker('pg', overrides, { db });
    try {
      await applyPermitAll(b);
      let load = true;
      const statuses: number[] = [];
      const loader = (async () => {
        while (load) await decisions(b, 8, 8, statuses);
      })();
      await sleep(1500);
      await close(rx);
      rx = null;
      const atOutage = statuses.length;
      // While the receiver is down, its lag shows in /metrics (and grows with the load).
      let lag = 0;
      const metricLine = new RegExp(`tether_audit_sink_lag_events\\{sink="http:http://127.0.0.1:${port}/ingest"\\} (\\d+)`);
      for (let t = 0; t < 50 && lag === 0; t++) {
        await sleep(100);
        lag = Number(metricLine.exec(await (await fetch(b.url + '/metrics')).text())?.[1] ?? 0);
      }
      assert.ok(lag > 0, 'the lag shows in /metrics while the receiver is down');
      await sleep(4000);
      const duringOutage = statuses.length - atOutage;
      rx = await receiver(port, httpSeqs);
      await sleep(1500);
      load = false;
      await loader;
      assert.ok(duringOutage > 0, 'requests were answered while the sink was down');
      assert.deepEqual([...new Set(statuses)], [200], 'no request refused because of the sink');
      await drained(b);

      // A restart resumes from the stored cursors: nothing is resent from the start.
      await b.stop();
      const before = httpSeqs.length;
      b = await startBroker('pg', overrides, { db });
      assert.deepEqual([...new Set(await decisions(b, 40))], [200]);
      const head = await drained(b);
      assert.ok(httpSeqs.length - before < 200, 'resumed from the cursor');
      const dups = assertComplete(httpSeqs, head, 'http');
      assertComplete(syslogSeqs, head, 'syslog');
      const files = readdirSync(jsonlDir).sort();
      assert.ok(files.length > 1, `rotated: ${files.join(', ')}`);
      const fileSeqs = files.flatMap((f) => readFileSync(join(jsonlDir, f), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq));
      assertComplete(fileSeqs, head, 'jsonl');
      console.log(`# ${head} events; http receiver got ${httpSeqs.length} (${dups} duplicates by seq)`);
    } finally {
      await b.stop();
      if (rx) await close(rx);
      await close(sys);
      await db.drop();
    }
  });

  test('PGlite: a JSON Lines sink gets every event, and resumes from its cursor after a restart', async () => {
    const db = await createTestDb('pglite');
    const dir = mkdtempSync(join(tmpdir(), 'tether-sink-lite-'));
    let b = await startBroker('pglite', { auditSinks: [`ocsf+jsonl:${dir}`] }, { db });
    try {
      await applyPermitAll(b);
      await decisions(b, 30, 4);
      await drained(b);
      await b.stop();
      b = await startBroker('pglite', { auditSinks: [`ocsf+jsonl:${dir}`] }, { db });
      await decisions(b, 10, 4);
      const head = await drained(b);
      const lines = readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { metadata: { uid: string } }));
      assert.equal(assertComplete(lines.map((l) => Number(l.metadata.uid)), head, 'ocsf jsonl'), 0, 'no duplicates after a clean restart');
    } finally {
      await b.stop();
      await db.drop();
    }
  });
});
