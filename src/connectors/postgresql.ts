import pg from 'pg';
import { guardPoolClients } from '../store/pg-pool-guard.js';
import type { ConnectorConfig, RoleConfig } from './config.js';
import { targetError, type EndReport, type Target, type TargetAccount } from './target.js';

/**
 * PostgreSQL. An account is a LOGIN role with `VALID UNTIL` (the server refuses logins past it even
 * if Tether were gone), made a member of the role's template role and/or given its GRANTs. Ending it
 * (what Vault's default revocation leaves out: open sessions keep working after DROP ROLE):
 * `ALTER ROLE … NOLOGIN` first so nothing new gets in, `pg_terminate_backend` on every session of
 * the role, waiting for each to exit, then `REASSIGN OWNED`/`DROP OWNED` and `DROP ROLE`.
 */
export function postgresqlTarget(c: ConnectorConfig, secret: string | undefined): Target {
  const url = new URL(c.url);
  const pool = new pg.Pool({ connectionString: c.url, ...(secret !== undefined ? { password: secret } : {}), max: 2, connectionTimeoutMillis: 3000, idleTimeoutMillis: 10_000 });
  // An idle connection the server dropped must not crash the broker: the next call reconnects.
  pool.on('error', () => {});
  // Nor one that fails while checked out (pg-pool-guard.ts says why the pool's listener
  // does not cover it); such a connection is destroyed on release.
  const broken = guardPoolClients(pool);
  const id = (s: string) => pg.escapeIdentifier(s);
  const lit = (s: string) => pg.escapeLiteral(s);

  const statements = (name: string, role: RoleConfig, head: string): string[] => [
    head + (role.in_role ? ` IN ROLE ${id(role.in_role)}` : ''),
    ...(role.grants ?? []).map((g) => g.split('{{name}}').join(id(name))),
  ];

  /** Runs statements in one transaction; rolls back instead of committing when `rollback`. */
  const inTx = async (stmts: string[], rollback: boolean, secrets: string[] = []) => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw targetError(e, secret);
    }
    try {
      await client.query('BEGIN');
      for (const s of stmts) await client.query(s);
      await client.query(rollback ? 'ROLLBACK' : 'COMMIT');
    } catch (e) {
      if (!broken.has(client)) await client.query('ROLLBACK').catch((err: Error) => broken.set(client, err));
      throw targetError(e, secret, ...secrets);
    } finally {
      client.release(broken.get(client));
    }
  };

  const q = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    try {
      return await pool.query<T>(sql, params);
    } catch (e) {
      throw targetError(e, secret);
    }
  };

  return {
    adminUser: decodeURIComponent(url.username) || 'postgres',
    async probe(role) {
      // CREATE ROLE and GRANT are transactional here: the probe is rolled back, nothing remains.
      const name = `tether_probe_${Math.random().toString(16).slice(2, 10)}`;
      await inTx(statements(name, role, `CREATE ROLE ${id(name)} NOLOGIN`), true);
    },
    async create(username, password, role, expiresAt) {
      await inTx(statements(username, role, `CREATE ROLE ${id(username)} LOGIN PASSWORD ${lit(password)} VALID UNTIL ${lit(expiresAt.toISOString())}`), false, [password]);
    },
    async end(username): Promise<EndReport> {
      const exists = (await q('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).rowCount! > 0;
      if (exists) await q(`ALTER ROLE ${id(username)} NOLOGIN`);
      // With a timeout (PostgreSQL 14+), pg_terminate_backend waits for the session to be gone.
      const t = await q<{ n: string }>('SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) AS n FROM pg_stat_activity WHERE usename = $1', [username]);
      if (exists) {
        await inTx([`REASSIGN OWNED BY ${id(username)} TO CURRENT_USER`, `DROP OWNED BY ${id(username)}`, `DROP ROLE IF EXISTS ${id(username)}`], false);
      }
      return { existed: exists, sessions: Number(t.rows[0]?.n ?? 0) };
    },
    async accounts(): Promise<TargetAccount[]> {
      const r = await q<{ rolname: string; rolvaliduntil: Date | null; rolsuper: boolean }>('SELECT rolname, rolvaliduntil, rolsuper FROM pg_roles WHERE rolcanlogin ORDER BY rolname');
      return r.rows.map((row) => ({ name: row.rolname, facts: { valid_until: row.rolvaliduntil ? new Date(row.rolvaliduntil).toISOString() : null, superuser: row.rolsuper } }));
    },
    close: () => pool.end(),
  };
}
