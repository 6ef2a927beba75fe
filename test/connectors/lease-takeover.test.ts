/**
 * Leases are in the store, so any instance finishes what another started: a cluster of two real
 * `tether serve` processes on one PostgreSQL; the first (which holds the sweeper lease, started
 * first) issues a Redis account and is killed with SIGKILL; the second ends the account when it
 * expires, once the dead holder's sweeper lease has lapsed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { startCluster } from '../helpers/cluster.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { REDIS_URL, redisAdmin } from '../helpers/legacy-targets.js';
import { createWorkloadIssuer } from '../helpers/workload-issuer.js';

describe('legacy bridge in a cluster', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let redis: Awaited<ReturnType<typeof redisAdmin>>;
  const made: string[] = [];

  before(async () => {
    cluster = await startCluster(2);
    redis = await redisAdmin();
  });
  after(async () => {
    await cluster?.stop();
    await redis?.close(made);
  });

  test('the issuing instance is killed: the other one ends the expired account and its session', async () => {
    const gha = await createWorkloadIssuer();
    const applied = await cluster.admin(0, 'POST', '/admin/v1/apply', {
      identities: [{ id: 'ci/acme/api', kind: 'ci_job', owner: 'team-orders' }],
      issuers: [gha.config()],
      policies: { 'c.cedar': 'permit (principal, action == Action::"credentials:issue", resource);' },
      connectors: [{ name: 'cache', kind: 'redis', url: REDIS_URL, roles: { short: { acl: ['~orders:*', '+get', '+ping'], max_ttl: 'PT3S' } } }],
    });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    const node0 = cluster.nodes[0]!;
    const key = await createDpopKey();
    const ex = await exchangeForToken({ endpointBase: node0.url, htuBase: cluster.issuerUrl, key, subjectToken: await gha.token(), scope: 'credentials:issue', audience: 'tether:connector:cache' });
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    const token = ex.body.access_token!;
    const proof = await key.proof('POST', `${cluster.issuerUrl}/credentials/v1/cache/short`, { accessToken: token });
    const res = await fetch(`${node0.url}/credentials/v1/cache/short`, {
      method: 'POST',
      headers: { authorization: `DPoP ${token}`, dpop: proof },
    });
    const cred = (await res.json()) as { username: string; password: string; lease_id: string; expires_at: string };
    assert.equal(res.status, 201, JSON.stringify(cred));
    made.push(cred.username);
    // The proof is single use cluster-wide (RFC 9449 §11.1): replayed on the other instance (claimed
    // with its decision record there) or on this one, it is refused, recorded, and issues nothing.
    for (const node of [cluster.nodes[1]!, node0]) {
      let again = 404;
      // The other instance learns the connector by notification: until then it has no such role.
      for (let i = 0; i < 50 && (again = (await fetch(`${node.url}/credentials/v1/cache/short`, { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: proof } })).status) === 404; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(again, 401);
    }
    const failed = (await cluster.admin(1, 'GET', '/admin/v1/audit?type=credential.failed')).body.events as Array<{ data: { reason: string } }>;
    assert.deepEqual(failed.map((e) => e.data.reason), ['dpop_proof_replayed', 'dpop_proof_replayed']);
    const leases = (await cluster.admin(1, 'GET', '/admin/v1/audit?type=decision')).body.events as Array<{ data: { entry: string; decision: string } }>;
    assert.equal(leases.filter((e) => e.data.entry === 'credentials' && e.data.decision === 'allow').length, 1, 'one allow record: the first use');
    const c = createClient({ url: REDIS_URL, username: cred.username, password: cred.password, socket: { reconnectStrategy: false } });
    c.on('error', () => {});
    await c.connect();
    assert.equal(await c.sendCommand(['PING']), 'PONG');

    node0.proc.kill('SIGKILL');
    await new Promise((r) => node0.proc.once('exit', r));
    const killedAt = Date.now();

    const deadline = Date.now() + 30_000;
    let gone = false;
    while (Date.now() < deadline && !(gone = !(await redis.userExists(cred.username)))) await new Promise((r) => setTimeout(r, 200));
    assert.ok(gone, 'the other instance never ended the account');
    console.log(`cluster: issuing instance SIGKILLed; the other ended the expired account ${Date.now() - killedAt} ms after the kill (expiry ${Date.parse(cred.expires_at) - killedAt} ms after it; sweeper lease 10 s)`);
    await assert.rejects(c.sendCommand(['PING']));
    // The account goes first, then the lease row is marked ended (with its audit event): wait for it.
    let lease = await cluster.admin(1, 'GET', `/admin/v1/leases/${cred.lease_id}`);
    for (let i = 0; i < 100 && lease.body.state !== 'ended'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      lease = await cluster.admin(1, 'GET', `/admin/v1/leases/${cred.lease_id}`);
    }
    assert.equal(lease.body.state, 'ended');
    assert.equal(lease.body.end_reason, 'expired');
    assert.equal(lease.body.sessions_killed, 1);
    c.destroy();
  });
});
