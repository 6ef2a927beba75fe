/**
 * A `_method` query parameter makes Express (method-override, Node's querystring), Symfony and
 * Laravel (PHP's variable registration) run another method than the one Tether authorized. Those
 * parsers decode the parameter name before reading it, and PHP also rewrites it (`.`, ` `, `[`
 * become `_`), so every spelling that they read as `_method` must be refused, not only the literal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import type { createDpopKey } from '../helpers/dpop.js';
import { auditedDecisions, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';
import { rawRequest } from '../helpers/raw-http.js';

const GW = 'http://gw.example.test';

describe('ext-authz refuses every spelling of a _method query override', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    ({ b, key, token } = await startGatewayBroker([ordersRoute(GW, 'envoy')], { scope: 'orders:read orders:list' }));
  });
  after(async () => {
    await b?.stop();
  });

  /** An Envoy-style check of GET <path>?<query> with a valid token and proof. */
  const check = async (path: string, query: string) =>
    (await rawRequest(b.url, 'GET', `/ext-authz/orders${path}?${query}`, { authorization: `DPoP ${token}`, dpop: await key.proof('GET', `${GW}${path}`, { accessToken: token }) })).status;

  test('encoded or PHP-mangled names of _method are refused (403, audited as method_override)', async () => {
    const spellings = [
      '_%6Dethod=DELETE', // Express: querystring decodes the name
      '_%6dethod=DELETE',
      '%5F%6D%65%74%68%6F%64=DELETE',
      '.method=DELETE', // PHP turns "." into "_"
      '%2Emethod=DELETE',
      '%2E%6Dethod=DELETE', // both at once
      '%5Bmethod=DELETE', // PHP turns an unmatched "[" into "_"
      '%20_method=DELETE', // PHP drops leading spaces
      '_method%00x=DELETE', // PHP's name ends at NUL
      'a=1;_method=DELETE', // parsers that split on ";" too
      '_method%5B%5D=DELETE',
    ];
    for (const q of spellings) {
      assert.equal(await check('/orders/1', q), 403, q);
      const last = (await auditedDecisions(b)).at(-1)!;
      assert.equal(last.data.refusal, 'method_override', q);
      assert.equal(last.data.decision, 'deny', q);
    }
  });

  test('parameters that no framework reads as _method still pass', async () => {
    // PHP drops leading spaces before it rewrites the rest: " method" is "method".
    for (const q of ['method=DELETE', '+method=DELETE', 'x_method=DELETE', 'page=2&sort=_method', 'q=%5Fmethod']) {
      assert.equal(await check('/orders/1', q), 200, q);
    }
  });
});
