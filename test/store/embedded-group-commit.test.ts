/**
 * The embedded store runs each statement on the server's own thread. A group commit started from the
 * first request's microtasks would finish before the next request read in the same I/O phase was
 * parsed: one commit per decision. The writer waits for the phase instead (audit/writer.ts), so
 * concurrent decisions share commits, and every one of them is still durable before its answer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useOpenBroker } from './fixture.js';

const histogram = (metrics: string, name: string) => {
  const read = (suffix: string) => Number(new RegExp(`^${name}_${suffix}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  return { sum: read('sum'), count: read('count') };
};

describe('group commits on the embedded store', () => {
  const broker = useOpenBroker('pglite');

  const evaluate = (id: string) =>
    fetch(`${broker.b.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'Identity', id: 'svc/a' }, action: { name: 'read' }, resource: { type: 'Doc', id } }),
    });

  test('concurrent decisions share commits, and each answer names its durable record', async () => {
    // Open the connections first, so the measured requests arrive together.
    await Promise.all(Array.from({ length: 48 }, (_, i) => evaluate(`warm-${i}`)));
    const start = histogram(await (await fetch(`${broker.b.url}/metrics`)).text(), 'tether_audit_batch_events');
    const rounds = 5;
    for (let round = 0; round < rounds; round++) {
      const answers = await Promise.all(Array.from({ length: 48 }, (_, i) => evaluate(`doc-${round}-${i}`)));
      assert.deepEqual(answers.map((a) => a.status), answers.map(() => 200));
    }
    const afterwards = histogram(await (await fetch(`${broker.b.url}/metrics`)).text(), 'tether_audit_batch_events');
    const events = afterwards.sum - start.sum;
    const commits = afterwards.count - start.count;
    assert.ok(events >= rounds * 48, `every decision was recorded (${events} events)`);
    // One commit per decision was the old behaviour; requests read together must share.
    assert.ok(events / commits >= 3, `${events} events in ${commits} commits`);
    const audit = await broker.b.admin('GET', '/admin/v1/audit?type=decision&limit=1000');
    const recorded = new Set(audit.body.events.map((e: { data: { resource?: { id?: string } } }) => e.data.resource?.id));
    for (let round = 0; round < rounds; round++) for (let i = 0; i < 48; i++) assert.ok(recorded.has(`doc-${round}-${i}`), `doc-${round}-${i} recorded`);
  });
});
