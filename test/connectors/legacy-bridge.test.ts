/**
 * The legacy bridge against the machine's real PostgreSQL, MariaDB and Redis: per-task accounts
 * issued through the kernel, used for real, ended with their grant (open sessions killed, account
 * gone), on expiry, and after the target comes back from an outage; apply refuses what the server
 * refuses; passwords never reach the audit log or the logs; discovery reports standing accounts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { decodeJwt } from 'jose';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { runCliAsync } from '../helpers/process.js';
import { createDpopKey, exchangeForToken } from '../helpers/dpop.js';
import { createWorkloadIssuer } from '../helpers/workload-issuer.js';
import { MARIADB, REDIS_URL, mariadbTarget, pgTarget, redisAdmin, tcpRelay } from '../helpers/legacy-targets.js';

const POLICIES = {
  'credentials.cedar': `
@id("tasks-get-credentials")
permit (principal, action == Action::"credentials:issue", resource);

@id("nobody-gets-pg-admin")
forbid (principal, action, resource == Connector::"pg1/admin");
`,
};
const IDENTITIES = ['api', 'worker', 'cache', 'relay', 'batch', 'exec'].map((n) => ({ id: `ci/acme/${n}`, kind: 'ci_job' as const, owner: 'team-orders' }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

describe('legacy bridge: per-task credentials on PostgreSQL, MariaDB and Redis', () => {
  let b: RunningBroker;
  let gha: Awaited<ReturnType<typeof createWorkloadIssuer>>;
  let pgt: Awaited<ReturnType<typeof pgTarget>>;
  let mdb: Awaited<ReturnType<typeof mariadbTarget>>;
  let redis: Awaited<ReturnType<typeof redisAdmin>>;
  let relay: Awaited<ReturnType<typeof tcpRelay>>;
  /** Every password handed out, to look for in the audit log and the logs. */
  const passwords: string[] = [];
  const usernames: string[] = [];
  const figures: string[] = [];

  const connectors = () => [
    {
      name: 'pg1',
      kind: 'postgresql',
      url: pgt.url,
      // Trust auth on this machine ignores it; what matters is that it is read from the environment.
      password_env: 'TETHER_TEST_PG_ADMIN_PASSWORD',
      max_ttl: 'PT10M',
      roles: {
        reader: { in_role: pgt.reader },
        admin: { in_role: pgt.reader },
        short: { in_role: pgt.reader, max_ttl: 'PT2S' },
      },
    },
    {
      name: 'maria1',
      kind: 'mariadb',
      url: `mysql://root@127.0.0.1:3306/${mdb.database}`,
      roles: { reader: { grants: [`GRANT SELECT ON \`${mdb.database}\`.* TO {{account}}`] } },
    },
    { name: 'redis1', kind: 'redis', url: REDIS_URL, roles: { cache: { acl: ['~orders:*', '+get', '+ping'] } } },
    { name: 'redis-relay', kind: 'redis', url: `redis://127.0.0.1:${relay.port}`, roles: { cache: { acl: ['~orders:*', '+get'] } } },
  ];

  before(async () => {
    process.env['TETHER_TEST_PG_ADMIN_PASSWORD'] = 'not-a-real-secret';
    [pgt, mdb, redis, relay] = await Promise.all([pgTarget(), mariadbTarget(), redisAdmin(), tcpRelay(6379)]);
    await redis.client.set('orders:1', '42');
    b = await startBroker('pglite');
    gha = await createWorkloadIssuer();
    const r = await b.admin('POST', '/admin/v1/apply', { identities: IDENTITIES, issuers: [gha.config()], policies: POLICIES, connectors: connectors() });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(r.body.changes.includes('connector pg1 applied'), JSON.stringify(r.body));
  });

  after(async () => {
    await b?.stop();
    await relay?.stop().catch(() => {});
    await redis?.close(usernames);
    await mdb?.drop(usernames);
    await pgt?.drop(usernames);
    if (figures.length) console.log(figures.join('\n'));
  });

  async function tokenFor(who: string, connector: string) {
    const key = await createDpopKey();
    const ex = await exchangeForToken({ endpointBase: b.url, key, subjectToken: await gha.token({ repository: `acme/${who}` }), scope: 'credentials:issue', audience: `tether:connector:${connector}` });
    assert.equal(ex.status, 200, JSON.stringify(ex.body));
    const token = ex.body.access_token!;
    return { key, token, grant: String(decodeJwt(token)['grant']) };
  }

  async function requestCredentials(t: { key: Awaited<ReturnType<typeof createDpopKey>>; token: string }, connector: string, role: string) {
    const url = `${b.url}/credentials/v1/${connector}/${role}`;
    const res = await fetch(url, { method: 'POST', headers: { authorization: `DPoP ${t.token}`, dpop: await t.key.proof('POST', url, { accessToken: t.token }) } });
    const body = (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    if (res.status === 201) {
      passwords.push(body['password']);
      usernames.push(body['username']);
    }
    return { status: res.status, body, headers: res.headers };
  }

  async function lease(id: string) {
    const r = await b.admin('GET', `/admin/v1/leases/${id}`);
    assert.equal(r.status, 200);
    return r.body;
  }

  /** Waits for a lease to be ended (the account goes first, then the row and its audit event). */
  const endedLease = (id: string) =>
    until('the lease to end', async () => {
      const x = await lease(id);
      return x.state === 'ended' ? x : null;
    });

  /** Runs `revoke`, then measures until `alive` fails: how long an open session outlives its revocation. */
  async function timeToKill(label: string, revoke: () => Promise<void>, alive: () => Promise<unknown>): Promise<number> {
    const t0 = performance.now();
    await revoke();
    await until('the session to be killed', async () => alive().then(() => false, () => true), 5000, 10);
    const ms = performance.now() - t0;
    figures.push(`${label} in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 1000, `${label}: the session survived ${ms} ms`);
    return ms;
  }

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`${b.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'));
    return line ? Number(line.split(' ').pop()) : NaN;
  }

  test('apply refuses a connector its server refuses, with the server message, and a URL carrying a password', async () => {
    const bad = (c: Record<string, unknown>) => b.admin('POST', '/admin/v1/apply', { connectors: [c] });
    const r1 = await bad({ name: 'pg-bad', kind: 'postgresql', url: pgt.url, roles: { r: { in_role: 'no_such_template_role' } } });
    assert.equal(r1.status, 400);
    assert.match(r1.body.error_description, /role pg-bad|role r refused/);
    assert.match(r1.body.error_description, /role "no_such_template_role" does not exist/);
    const r2 = await bad({ name: 'maria-bad', kind: 'mariadb', url: 'mysql://root@127.0.0.1:3306', roles: { r: { grants: ['GRANT SELEKT ON *.* TO {{account}}'] } } });
    assert.equal(r2.status, 400);
    assert.match(r2.body.error_description, /You have an error in your SQL syntax/);
    const r3 = await bad({ name: 'redis-bad', kind: 'redis', url: REDIS_URL, roles: { r: { acl: ['+nosuchcommand'] } } });
    assert.equal(r3.status, 400);
    assert.match(r3.body.error_description, /Unknown command|Error in ACL SETUSER/i);
    const r4 = await bad({ name: 'down', kind: 'redis', url: 'redis://127.0.0.1:1', roles: { r: { acl: ['+get'] } } });
    assert.equal(r4.status, 400);
    assert.match(r4.body.error_description, /connector down: cannot connect: .*ECONNREFUSED/);
    const r5 = await bad({ name: 'leaky', kind: 'postgresql', url: 'postgres://postgres:sekret@127.0.0.1:5432/x', roles: { r: { in_role: 'x' } } });
    assert.equal(r5.status, 400);
    assert.match(r5.body.error_description, /must not carry a password/);
    const r6 = await bad({ name: 'noenv', kind: 'redis', url: REDIS_URL, password_env: 'TETHER_TEST_UNSET_VAR', roles: { r: { acl: ['+get'] } } });
    assert.equal(r6.status, 400);
    assert.match(r6.body.error_description, /TETHER_TEST_UNSET_VAR is not set/);
    const list = await b.admin('GET', '/admin/v1/connectors');
    assert.deepEqual(list.body.connectors.map((c: { name: string }) => c.name).sort(), ['maria1', 'pg1', 'redis-relay', 'redis1']);
    // Applying the same connectors again changes nothing (and does not probe again).
    const again = await b.admin('POST', '/admin/v1/apply', { connectors: connectors() });
    assert.deepEqual(again.body, { changed: false, changes: [] });
  });

  test('PostgreSQL: a task reads what its role allows, is refused the rest; revoking the grant kills its open session and drops the role', async () => {
    const t = await tokenFor('api', 'pg1');
    const r = await requestCredentials(t, 'pg1', 'reader');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.match(r.body.username, /^tether_[0-9a-f]{24}$/);
    assert.ok(Date.parse(r.body.expires_at) <= Date.now() + 10 * 60_000 + 1000);
    assert.equal(r.body.database, pgt.database);

    const session = new pg.Client({ host: '127.0.0.1', port: 5432, user: r.body.username, password: r.body.password, database: pgt.database });
    session.on('error', () => {});
    await session.connect();
    assert.equal((await session.query('SELECT total FROM orders WHERE id = 1')).rows[0].total, 42);
    await assert.rejects(session.query('INSERT INTO orders VALUES (2, 1)'), /permission denied/);
    // The server itself bounds the login: VALID UNTIL is the lease's expiry.
    const admin = new pg.Client({ connectionString: pgt.url });
    await admin.connect();
    const vu = await admin.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [r.body.username]);
    await admin.end();
    assert.equal(new Date(vu.rows[0].rolvaliduntil).toISOString(), r.body.expires_at);

    await timeToKill(
      'postgresql: grant revoked → open session terminated',
      async () => assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'grant', value: t.grant, reason: 'task over' })).status, 201),
      () => session.query('SELECT 1'),
    );
    const l = await endedLease(r.body.lease_id);
    assert.equal(l.end_reason, 'grant_ended');
    assert.equal(l.sessions_killed, 1);
    assert.equal(await pgt.roleExists(r.body.username), false);
    await session.end().catch(() => {});
    // The grant is over: the same token gets nothing more.
    const again = await requestCredentials(t, 'pg1', 'reader');
    assert.equal(again.status, 401);
  });

  test('MariaDB: RFC 7009 revocation by the holder kills the open connection and drops the user', async () => {
    const t = await tokenFor('worker', 'maria1');
    const r = await requestCredentials(t, 'maria1', 'reader');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const conn = await mysql.createConnection({ host: MARIADB.host, port: MARIADB.port, user: r.body.username, password: r.body.password, database: mdb.database });
    conn.on('error', () => {});
    const [rows] = await conn.query('SELECT total FROM orders WHERE id = 1');
    assert.equal((rows as Array<{ total: number }>)[0]!.total, 42);
    await assert.rejects(conn.query('INSERT INTO orders VALUES (2, 1)'), /INSERT command denied/);
    // A wrong password is refused by the server (MariaDB checks it, unlike trust-auth PostgreSQL here).
    await assert.rejects(mysql.createConnection({ host: MARIADB.host, port: MARIADB.port, user: r.body.username, password: 'wrong', database: mdb.database }), /Access denied/);

    const url = `${b.url}/oauth/revoke`;
    const proof = await t.key.proof('POST', url, { accessToken: t.token });
    await timeToKill(
      'mariadb: RFC 7009 revoke → open connection killed',
      async () => {
        const body = new URLSearchParams({ token: t.token, token_type_hint: 'access_token' }).toString();
        const rv = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof }, body });
        assert.equal(rv.status, 200);
      },
      () => conn.query('SELECT 1'),
    );
    const l = await endedLease(r.body.lease_id);
    assert.ok(['token_revoked', 'grant_ended'].includes(l.end_reason), l.end_reason);
    assert.equal(l.sessions_killed, 1);
    assert.equal(await mdb.userExists(r.body.username), false);
    conn.destroy();
  });

  test('Redis: suspending the identity disconnects its client and deletes the ACL user', async () => {
    const t = await tokenFor('cache', 'redis1');
    const r = await requestCredentials(t, 'redis1', 'cache');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const c = createClient({ url: REDIS_URL, username: r.body.username, password: r.body.password, socket: { reconnectStrategy: false } });
    c.on('error', () => {});
    await c.connect();
    assert.equal(await c.get('orders:1'), '42');
    await assert.rejects(c.set('orders:1', 'x'), /NOPERM/);
    await assert.rejects(c.get('other:1'), /NOPERM/);

    await timeToKill(
      'redis: identity suspended → client disconnected',
      async () => assert.equal((await b.admin('POST', '/admin/v1/revocations', { kind: 'identity', value: 'ci/acme/cache', reason: 'suspected leak' })).status, 201),
      () => c.sendCommand(['PING']),
    );
    await endedLease(r.body.lease_id);
    assert.equal(await redis.userExists(r.body.username), false);
    c.destroy();
  });

  test('lease expiry ends the account and its session without any revocation', async () => {
    const t = await tokenFor('batch', 'pg1');
    const r = await requestCredentials(t, 'pg1', 'short');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.ok(Date.parse(r.body.expires_at) - Date.now() <= 2000);
    const session = new pg.Client({ host: '127.0.0.1', port: 5432, user: r.body.username, password: r.body.password, database: pgt.database });
    session.on('error', () => {});
    await session.connect();
    const expiresAt = Date.parse(r.body.expires_at);
    await until('the session to be killed', async () => session.query('SELECT 1').then(() => false, () => true), 10_000, 20);
    const late = Date.now() - expiresAt;
    figures.push(`postgresql: lease expiry → session terminated ${late} ms after expires_at (sweep every 1 s)`);
    assert.ok(late < 2500, `${late} ms after expiry`);
    const l = await endedLease(r.body.lease_id);
    assert.equal(l.end_reason, 'expired');
    assert.equal(await pgt.roleExists(r.body.username), false);
  });

  test('the kernel decides: a forbidden role and a token for another connector get no account', async () => {
    const t = await tokenFor('batch', 'pg1');
    const before = (await b.admin('GET', '/admin/v1/leases?connector=pg1&limit=1000')).body.leases.length;
    const denied = await requestCredentials(t, 'pg1', 'admin');
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    assert.equal(denied.body.error, 'access_denied');
    const wrongAud = await requestCredentials(t, 'maria1', 'reader');
    assert.equal(wrongAud.status, 401);
    assert.match(wrongAud.headers.get('www-authenticate') ?? '', /^DPoP/);
    const unknown = await requestCredentials(t, 'pg1', 'nope');
    assert.equal(unknown.status, 404);
    assert.equal((await b.admin('GET', '/admin/v1/leases?connector=pg1&limit=1000')).body.leases.length, before);
    const decisions = await b.admin('GET', '/admin/v1/audit?type=decision&identity=ci/acme/batch&limit=1000');
    const d = decisions.body.events.map((e: { data: Record<string, any> }) => e.data).filter((x: Record<string, any>) => x['entry'] === 'credentials'); // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.ok(d.some((x: Record<string, any>) => x['decision'] === 'deny' && x['resource'].type === 'Connector' && x['resource'].id === 'pg1/admin')); // eslint-disable-line @typescript-eslint/no-explicit-any
  });

  test('target down while ending: retried with backoff, visible in /metrics and the admin API, finished when it is back', async () => {
    const t = await tokenFor('relay', 'redis-relay');
    const r = await requestCredentials(t, 'redis-relay', 'cache');
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await relay.stop();
    const rv = await b.admin('POST', '/admin/v1/revocations', { kind: 'grant', value: t.grant, reason: 'task over' });
    assert.equal(rv.status, 201);
    const failing = await until('an attempt to fail', async () => {
      const x = await lease(r.body.lease_id);
      return x.state === 'ending' && x.attempts >= 2 ? x : null;
    });
    assert.match(failing.last_error, /ECONNREFUSED|connect/i);
    assert.ok(Date.parse(failing.next_attempt_at) > Date.parse(failing.ending_since));
    assert.ok((await metric('tether_credential_revocations_pending')) >= 1);
    assert.ok((await metric('tether_credential_revocations_failing')) >= 1);
    assert.ok((await metric('tether_credential_end_failures_total')) >= 2);
    const listed = await b.admin('GET', '/admin/v1/leases?state=ending');
    assert.ok(listed.body.failing >= 1);
    assert.ok(listed.body.leases.some((x: { id: string }) => x.id === r.body.lease_id));
    assert.equal(await redis.userExists(r.body.username), true, 'the account is still there while its target is unreachable');
    const failed = await b.admin('GET', `/admin/v1/audit?type=credential.end_failed&identity=ci/acme/relay`);
    assert.ok(failed.body.events.length >= 2);

    await relay.start();
    const ended = await until('the lease to end once the target is back', async () => {
      const x = await lease(r.body.lease_id);
      return x.state === 'ended' ? x : null;
    }, 30_000, 100); // backoff: up to 60 s between attempts, but the outage here is a few seconds
    assert.ok(ended.attempts >= 3);
    assert.equal(await redis.userExists(r.body.username), false);
    assert.equal(await metric('tether_credential_revocations_pending'), 0);
    assert.equal(await metric('tether_credential_revocations_failing'), 0);
  });

  test('tether exec runs a command with the credentials and leaves no account behind, also when the command fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-exec-'));
    const subject = join(dir, 'subject.jwt');
    const script = "import pg from 'pg'; const c = new pg.Client(); await c.connect(); const r = await c.query('SELECT total FROM orders'); console.log('total=' + r.rows[0].total + ' user=' + process.env.PGUSER); await c.end(); process.exit(Number(process.env.EXIT_WITH))";
    for (const exitWith of [0, 3]) {
      writeFileSync(subject, await gha.token({ repository: 'acme/exec' }));
      const r = await runCliAsync(['exec', '--credentials', 'pg1/reader', '--url', b.url, '--subject-token-file', subject, '--', process.execPath, '--input-type=module', '-e', script], { EXIT_WITH: String(exitWith) });
      assert.equal(r.code, exitWith, r.stderr);
      const m = /total=42 user=(tether_[0-9a-f]{24})/.exec(r.stdout);
      assert.ok(m, r.stdout + r.stderr);
      usernames.push(m[1]!);
      await until('the account to be dropped', async () => !(await pgt.roleExists(m[1]!)), 5000);
    }
    const leases = (await b.admin('GET', '/admin/v1/leases?identity=ci/acme/exec')).body.leases;
    assert.equal(leases.length, 2);
    await until('both leases to end', async () => (await b.admin('GET', '/admin/v1/leases?identity=ci/acme/exec')).body.leases.every((l: { state: string; end_reason: string }) => l.state === 'ended' && l.end_reason === 'token_revoked'));
  });

  test('no password reaches the audit log or the logs', async () => {
    assert.ok(passwords.length >= 5);
    let after = 0;
    const all: unknown[] = [];
    for (;;) {
      const page = await b.admin('GET', `/admin/v1/audit?after=${after}&limit=1000`);
      all.push(...page.body.events);
      if (page.body.next_after === null) break;
      after = page.body.next_after;
    }
    const audit = JSON.stringify(all);
    assert.ok(audit.includes('credential.issued') && audit.includes('credential.ended'));
    for (const p of passwords) {
      assert.ok(!audit.includes(p), 'a password is in the audit log');
      assert.ok(!b.logs.join('').includes(p), 'a password is in the logs');
    }
    assert.ok(!audit.includes('not-a-real-secret') && !b.logs.join('').includes('not-a-real-secret'), 'the admin secret leaked');
  });

  test('discover records standing accounts as unowned service accounts and posture reports them', async () => {
    const cli = await runCliAsync(['discover', '--connector', 'pg1', '--url', b.url], { TETHER_ADMIN_TOKEN: ADMIN_TOKEN });
    assert.equal(cli.code, 0, cli.stderr);
    const r = { body: JSON.parse(cli.stdout) as { accounts: Array<{ account: string; new: boolean }> } };
    const names = r.body.accounts.map((a: { account: string }) => a.account);
    assert.ok(r.body.accounts.find((a) => a.account === pgt.standing)?.new);
    assert.ok(names.includes(pgt.standing), JSON.stringify(names));
    assert.ok(!names.some((n: string) => usernames.includes(n)), 'an account Tether made was reported as standing');
    const id = `connector/pg1/${pgt.standing}`;
    const ident = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(id)}`);
    assert.equal(ident.status, 200, JSON.stringify(ident.body));
    assert.equal(ident.body.kind, 'service_account');
    assert.equal(ident.body.status, 'unowned');
    assert.equal(ident.body.owner, null);
    assert.equal(ident.body.labels['tether.source'], 'connector:pg1');
    assert.equal(ident.body.discovered_by, 'connector:pg1');
    // A second run records nothing new.
    const again = await b.admin('POST', '/admin/v1/connectors/pg1/discover');
    assert.ok(again.body.accounts.every((a: { new: boolean }) => !a.new));

    const posture = await b.admin('GET', '/admin/v1/posture');
    assert.equal(posture.status, 200);
    const mine = posture.body.findings.filter((f: { identity: string }) => f.identity === id);
    const kinds = new Set(mine.map((f: { kind: string }) => f.kind));
    for (const k of ['long_lived_credential', 'standing_access', 'unowned']) assert.ok(kinds.has(k), `${k} missing: ${JSON.stringify(mine)}`);
    for (const f of mine.filter((x: { kind: string }) => x.kind !== 'unused_permission')) {
      assert.ok(f.owasp.length > 0 && f.csf.length > 0, JSON.stringify(f));
    }
  });
});
