/**
 * Authorization is a singleton field (RFC 9110 §11.6.2). Node keeps only the first of repeated
 * Authorization fields, while a proxy or the upstream behind Envoy may read another: the gateway check
 * decided on one token while the request carried a second. A request with more than one is refused
 * as malformed (401), whoever the first token names. The MCP gateway and the legacy bridge pass
 * every field to the same resource-server check (tokens/check-resource-request.ts).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { RunningBroker } from '../helpers/broker.js';
import type { createDpopKey } from '../helpers/dpop.js';
import { auditedDecisions, ordersRoute, startGatewayBroker } from '../helpers/gateway-fixture.js';

const GW = 'http://gw.example.test';

/** Sends a request head byte for byte (fetch and node:http would merge or refuse repeated fields); the status. */
function rawHead(url: string, head: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => s.write(head));
    let got = '';
    s.on('data', (d) => (got += String(d)));
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1] ?? 0)));
    s.on('error', reject);
  });
}

describe('more than one Authorization field is refused', () => {
  let b: RunningBroker;
  let key: Awaited<ReturnType<typeof createDpopKey>>;
  let token: string;

  before(async () => {
    ({ b, key, token } = await startGatewayBroker([ordersRoute(GW, 'envoy')]));
  });
  after(async () => {
    await b?.stop();
  });

  const head = async (authorizations: string[]) =>
    `GET /ext-authz/orders/orders/1 HTTP/1.1\r\nHost: x\r\n${authorizations.map((a) => `Authorization: ${a}\r\n`).join('')}DPoP: ${await key.proof('GET', `${GW}/orders/1`, { accessToken: token })}\r\nConnection: close\r\n\r\n`;

  test('ext-authz: a valid token followed by another Authorization field is 401, audited as malformed', async () => {
    assert.equal(await rawHead(b.url, await head([`DPoP ${token}`])), 200, 'one field: allowed');
    assert.equal(await rawHead(b.url, await head([`DPoP ${token}`, 'Bearer someone-elses-token'])), 401);
    const last = (await auditedDecisions(b)).at(-1)!;
    assert.equal(last.data.refusal, 'authorization_malformed');
    assert.equal(last.identity, null, 'a refused request names nobody');
    assert.equal(await rawHead(b.url, await head([`DPoP ${token}`, `DPoP ${token}`])), 401, 'even the same token twice');
  });
});
