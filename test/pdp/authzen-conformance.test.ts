/**
 * Both AuthZEN conformance sets (test/conformance/) through the real endpoints, on PGlite and
 * PostgreSQL: policies and entities applied through the admin API as `tether apply` would, every case
 * sent exactly as recorded (headers, raw bodies, repeats), and the metadata checks except https (the
 * test speaks plain HTTP, certification README "Transport").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { STORE_KINDS } from '../helpers/stores.js';
import { loadConformance, type ConformanceCase } from '../policy/fixtures.js';
import { applyOk, send } from './http.js';

interface CertCase extends ConformanceCase {
  readonly expect_headers?: Record<string, string>;
}

async function runCase(b: RunningBroker, c: CertCase, label: string): Promise<number> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  for (const [k, v] of Object.entries(c.headers ?? {})) {
    for (const h of Object.keys(headers)) if (h.toLowerCase() === k.toLowerCase()) delete headers[h];
    headers[k] = v;
  }
  const body = c.request === null ? (c.raw_body ?? '') : JSON.stringify(c.request);
  const want = c.expected === undefined ? undefined : typeof c.expected === 'boolean' ? c.expected : c.expected.map((e) => e.decision);
  let decisions = 0;
  for (let i = 0; i < (c.repeat ?? 1); i += 1) {
    const r = await send(b.url, `/access/v1/${c.endpoint}`, { headers, body });
    assert.equal(r.status, c.expect_status ?? 200, `${label}: status (${JSON.stringify(r.body)})`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `${label}: JSON answer`);
    for (const [h, v] of Object.entries(c.expect_headers ?? {})) assert.equal(r.headers.get(h), v, `${label}: header ${h}`);
    if (r.status !== 200) {
      assert.equal(typeof r.body.error_description, 'string', `${label}: a 400 carries a message`);
      continue;
    }
    if (typeof want === 'boolean') {
      assert.equal(r.body.decision, want, `${label}: decision ${JSON.stringify(r.body)}`);
      assert.ok(r.body.context === undefined || typeof r.body.context === 'object');
      decisions += 1;
    } else if (want !== undefined) {
      assert.equal(r.body.decision, undefined, `${label}: no top-level decision in a batch answer`);
      assert.deepEqual(r.body.evaluations.map((e: { decision: boolean }) => e.decision), want, `${label}: decisions ${JSON.stringify(r.body)}`);
      decisions += want.length;
    }
  }
  return decisions;
}

for (const kind of STORE_KINDS) {
  describe(`AuthZEN conformance over HTTP (${kind})`, () => {
    let b: RunningBroker;
    before(async () => {
      b = await startBroker(kind);
    });
    after(async () => b.stop());

    for (const name of ['authzen', 'authzen-certification'] as const) {
      test(`${name}: every case through /access/v1/*`, async () => {
        const data = loadConformance(name);
        await applyOk(b, {
          policies: { [`${name}.cedar`]: data.policies },
          entities: data.entities,
          ...(data.schema === undefined ? {} : { schema: data.schema }),
        });
        let decisions = 0;
        for (const [n, c] of data.cases.entries()) decisions += await runCase(b, c as CertCase, c.id ?? `${name}#${n}`);
        assert.equal(decisions, name === 'authzen' ? 46 : 43);
      });
    }

    test('metadata: /.well-known/authzen-configuration', async () => {
      const r = await send(b.url, '/.well-known/authzen-configuration', { method: 'GET' });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(r.body.policy_decision_point, b.url, 'identical to the base URL the well-known path was built from');
      assert.equal(r.body.access_evaluation_endpoint, `${b.url}/access/v1/evaluation`);
      assert.equal(r.body.access_evaluations_endpoint, `${b.url}/access/v1/evaluations`);
      const u = new URL(r.body.policy_decision_point);
      assert.equal(u.search + u.hash, '');
    });
  });
}
