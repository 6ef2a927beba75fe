import mysql from 'mysql2/promise';
import type { ConnectorConfig, RoleConfig } from './config.js';
import { targetError, type EndReport, type Target, type TargetAccount } from './target.js';

/** MariaDB's "unknown thread id": the connection ended between listing and killing it. */
const ER_NO_SUCH_THREAD = 1094;

/**
 * MariaDB. An account is `'tether_…'@'<account_host>'` with the role's GRANT statements
 * (`{{account}}` stands for it). MariaDB has no per-account expiry, so the lease sweeper is what ends
 * it. Ending it: `ALTER USER … ACCOUNT LOCK` so nothing new logs in, `KILL CONNECTION` for each of the
 * user's processlist ids (DROP USER alone leaves open connections working), then `DROP USER`.
 */
export function mariadbTarget(c: ConnectorConfig, secret: string | undefined): Target {
  const url = new URL(c.url);
  const host = c.account_host ?? '%';
  const pool = mysql.createPool({
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username) || 'root',
    ...(secret !== undefined ? { password: secret } : {}),
    ...(url.pathname.length > 1 ? { database: decodeURIComponent(url.pathname.slice(1)) } : {}),
    connectionLimit: 2,
    connectTimeout: 3000,
    multipleStatements: false,
  });
  const account = (u: string) => `${mysql.escape(u)}@${mysql.escape(host)}`;
  const grants = (u: string, role: RoleConfig) => (role.grants ?? []).map((g) => g.split('{{account}}').join(account(u)));

  const q = async (sql: string, params: unknown[] = [], secrets: string[] = []) => {
    try {
      const [rows] = await pool.query(sql, params);
      return rows as Array<Record<string, unknown>>;
    } catch (e) {
      throw targetError(e, secret, ...secrets);
    }
  };

  const dropUser = (u: string) => q(`DROP USER IF EXISTS ${account(u)}`);

  return {
    adminUser: decodeURIComponent(url.username) || 'root',
    async probe(role) {
      // DDL is not transactional in MariaDB: a locked probe account, dropped whatever happens.
      const name = `tether_probe_${Math.random().toString(16).slice(2, 10)}`;
      await q(`CREATE USER ${account(name)} ACCOUNT LOCK`);
      try {
        for (const s of grants(name, role)) await q(s);
      } finally {
        await dropUser(name).catch(() => {});
      }
    },
    async create(username, password, role) {
      await q(`CREATE USER ${account(username)} IDENTIFIED BY ${mysql.escape(password)}`, [], [password]);
      try {
        for (const s of grants(username, role)) await q(s);
      } catch (e) {
        await dropUser(username).catch(() => {});
        throw e;
      }
    },
    async end(username): Promise<EndReport> {
      const existed = (await q('SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?', [username, host])).length > 0;
      if (existed) await q(`ALTER USER ${account(username)} ACCOUNT LOCK`);
      const ids = (await q('SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?', [username])).map((r) => Number(r['ID']));
      let sessions = 0;
      for (const pid of ids) {
        try {
          await pool.query(`KILL CONNECTION ${Number(pid)}`);
          sessions++;
        } catch (e) {
          if ((e as { errno?: number }).errno !== ER_NO_SUCH_THREAD) throw targetError(e, secret);
        }
      }
      await dropUser(username);
      return { existed, sessions };
    },
    async accounts(): Promise<TargetAccount[]> {
      const rows = await q(
        `SELECT u.User AS user, u.Host AS host, u.password_expired AS expired
           FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host
          WHERE u.is_role = 'N' AND COALESCE(JSON_VALUE(g.Priv, '$.account_locked'), 0) = 0
          ORDER BY u.User, u.Host`,
      );
      return rows.map((r) => ({ name: `${String(r['user'])}@${String(r['host'])}`, facts: { host: String(r['host']), password_expired: r['expired'] === 'Y' } }));
    },
    close: () => pool.end(),
  };
}
