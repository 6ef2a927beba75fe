import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { createPgDatabase, PG_ADMIN_URL } from './stores.js';

/** The machine's MariaDB (root, empty password) and Redis, as .ci/run starts them. */
export const MARIADB = { host: '127.0.0.1', port: 3306, user: 'root' };
export const REDIS_URL = 'redis://127.0.0.1:6379';

const tag = () => randomBytes(4).toString('hex');

/** A throwaway PostgreSQL database with an `orders` table, a template role that may read it, and a standing LOGIN role. */
export async function pgTarget() {
  const db = await createPgDatabase();
  const t = tag();
  const reader = `orders_reader_${t}`;
  const standing = `legacy_app_${t}`;
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('CREATE TABLE orders (id int PRIMARY KEY, total int)');
  await c.query('INSERT INTO orders VALUES (1, 42)');
  await c.query(`CREATE ROLE ${reader} NOLOGIN`);
  await c.query(`GRANT SELECT ON orders TO ${reader}`);
  await c.query(`CREATE ROLE ${standing} LOGIN PASSWORD 'hunter2'`);
  await c.end();
  return {
    url: db.url,
    database: new URL(db.url).pathname.slice(1),
    reader,
    standing,
    /** Roles whose name starts with this (accounts Tether made and may have left). */
    async rolesLike(prefix: string): Promise<string[]> {
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      const r = await a.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`${prefix}%`]);
      await a.end();
      return r.rows.map((x) => x.rolname);
    },
    async roleExists(name: string): Promise<boolean> {
      return (await this.rolesLike(name)).includes(name);
    },
    async drop(extraRoles: string[] = []) {
      await db.drop();
      const a = new pg.Client({ connectionString: PG_ADMIN_URL });
      await a.connect();
      for (const r of [reader, standing, ...extraRoles]) await a.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r)}`).catch(() => {});
      await a.end();
    },
  };
}

/** A throwaway MariaDB database with an `orders` table. */
export async function mariadbTarget() {
  const name = `tether_t_${tag()}`;
  const c = await mysql.createConnection(MARIADB);
  await c.query(`CREATE DATABASE ${name}`);
  await c.query(`CREATE TABLE ${name}.orders (id int PRIMARY KEY, total int)`);
  await c.query(`INSERT INTO ${name}.orders VALUES (1, 42)`);
  await c.end();
  return {
    database: name,
    async userExists(user: string): Promise<boolean> {
      const a = await mysql.createConnection(MARIADB);
      const [rows] = await a.query('SELECT 1 FROM mysql.user WHERE User = ?', [user]);
      await a.end();
      return (rows as unknown[]).length > 0;
    },
    async drop(users: string[] = []) {
      const a = await mysql.createConnection(MARIADB);
      await a.query(`DROP DATABASE IF EXISTS ${name}`);
      for (const u of users) await a.query(`DROP USER IF EXISTS ?@'%'`, [u]).catch(() => {});
      await a.end();
    },
  };
}

export async function redisAdmin() {
  const c = createClient({ url: REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  return {
    client: c,
    async userExists(user: string): Promise<boolean> {
      return (await c.sendCommand(['ACL', 'GETUSER', user])) !== null;
    },
    async close(users: string[] = []) {
      for (const u of users) await c.sendCommand(['ACL', 'DELUSER', u]).catch(() => {});
      await c.quit();
    },
  };
}

/**
 * A TCP relay standing between Tether and a target, so a test can take the target "down" for
 * Tether alone (stop) and bring it back on the same port (start), while the workload's own
 * connection goes straight to the real server.
 */
export async function tcpRelay(targetPort: number) {
  let server: Server | null = null;
  const sockets = new Set<Socket>();
  let port = 0;
  const start = async () => {
    server = createServer((inbound) => {
      const out = connect(targetPort, '127.0.0.1');
      sockets.add(inbound).add(out);
      inbound.pipe(out).pipe(inbound);
      const end = () => {
        inbound.destroy();
        out.destroy();
        sockets.delete(inbound);
        sockets.delete(out);
      };
      inbound.on('error', end).on('close', end);
      out.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    port = (server!.address() as { port: number }).port;
  };
  await start();
  return {
    get port() {
      return port;
    },
    start,
    async stop() {
      for (const s of sockets) s.destroy();
      sockets.clear();
      await new Promise<void>((r) => server!.close(() => r()));
    },
  };
}
