/**
 * PDP callers (AuthZEN, ext-authz) authenticate with TETHER_PDP_TOKEN unless the broker listens on
 * loopback only; anonymous callers learn the decision, never policy ids or inventory facts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startBroker, type RunningBroker } from '../helpers/broker.js';
import { applyOk, ask, evaluate, PDP_TOKEN } from '../pdp/http.js';

describe('PDP caller authentication', () => {
  test('a non-loopback listen address without TETHER_PDP_TOKEN refuses to start, naming the fix', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'tether.internal']) {
      assert.throws(() => loadConfig({ host }, {}), (e: unknown) => e instanceof ConfigError && /TETHER_PDP_TOKEN/.test(e.message) && e.message.includes(host));
    }
    assert.equal(loadConfig({ host: '0.0.0.0' }, { TETHER_PDP_TOKEN: PDP_TOKEN }).pdpToken, PDP_TOKEN);
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1']) assert.equal(loadConfig({ host }, {}).host, host);
  });

  describe('anonymous AuthZEN caller on loopback', () => {
    let b: RunningBroker;
    before(async () => {
      b = await startBroker('pglite');
      await applyOk(b, {
        identities: [{ id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders' }],
        policies: { 'p.cedar': '@id("secret-read") permit (principal == Identity::"ci/acme/api", action == Action::"orders:read", resource);' },
      });
    });
    after(async () => b?.stop());

    test('learns the decision and its audit id, no policy ids, errors or inventory facts', async () => {
      const allow = await evaluate(b, ask({ type: 'Identity', id: 'ci/acme/api' }, 'orders:read', { type: 'Order', id: '1' }));
      assert.equal(allow.status, 200);
      assert.equal(allow.body.decision, true);
      assert.deepEqual(Object.keys(allow.body.context), ['id']);
      const unknown = await evaluate(b, ask({ type: 'Identity', id: 'ci/nobody' }, 'orders:read', { type: 'Order', id: '1' }));
      assert.equal(unknown.body.decision, false);
      assert.deepEqual(Object.keys(unknown.body.context), ['id'], 'whether an identity exists is not said');
      assert.doesNotMatch(JSON.stringify(unknown.body), /inventory|secret-read/);
    });
  });
});
