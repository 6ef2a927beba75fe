/**
 * Per-task accounts made and ended per second, per connector kind, against the machine's real
 * PostgreSQL, MariaDB and Redis: what Tether runs on the target (connectors/: create with the role's
 * template, then end: disable, kill sessions, drop) beside the database's own bare cost (CREATE +
 * DROP of an account with the same template, same driver, no session handling), in the same run,
 * rounds alternating. Target: bounded by the database's own CREATE/DROP cost.
 *
 *   npm run bench -- credentials
 *   env: BENCH_OPS (accounts per round, default 100), BENCH_ROUNDS (default 3)
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { ConnectorSchema, type ConnectorConfig } from '../src/connectors/config.js';
import { openTarget } from '../src/connectors/connector-store.js';
import { createPgDatabase, fmtNum, PG_ADMIN_URL, printTable } from './lib/index.js';

const OPS = Number(process.env.BENCH_OPS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const hex = () => randomBytes(12).toString('hex');

async function timed(n: number, op: (i: number) => Promise<void>): Promise<number> {
  const t = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return n / ((performance.now() - t) / 1000);
}

const db = await createPgDatabase();
const pgAdmin = new pg.Client({ connectionString: db.url });
await pgAdmin.connect();
await pgAdmin.query('CREATE TABLE orders (id int)');
const reader = `bench_reader_${hex().slice(0, 8)}`;
await pgAdmin.query(`CREATE ROLE ${reader} NOLOGIN`);
await pgAdmin.query(`GRANT SELECT ON orders TO ${reader}`);
const maria = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
const mdb = `bench_${hex().slice(0, 8)}`;
await maria.query(`CREATE DATABASE ${mdb}`);
const redis = createClient({ url: 'redis://127.0.0.1:6379' });
redis.on('error', () => {});
await redis.connect();

const conf = (c: Record<string, unknown>): ConnectorConfig => ConnectorSchema.parse(c);
const kinds: Array<{ kind: string; config: ConnectorConfig; bare: (u: string) => Promise<void> }> = [
  {
    kind: 'postgresql',
    config: conf({ name: 'pg', kind: 'postgresql', url: db.url, roles: { r: { in_role: reader } } }),
    bare: async (u) => {
      await pgAdmin.query(`CREATE ROLE ${u} LOGIN PASSWORD 'x${hex()}' IN ROLE ${reader}`);
      await pgAdmin.query(`DROP ROLE ${u}`);
    },
  },
  {
    kind: 'mariadb',
    config: conf({ name: 'maria', kind: 'mariadb', url: `mysql://root@127.0.0.1:3306/${mdb}`, roles: { r: { grants: [`GRANT SELECT ON ${mdb}.* TO {{account}}`] } } }),
    bare: async (u) => {
      await maria.query(`CREATE USER '${u}'@'%' IDENTIFIED BY 'x${hex()}'`);
      await maria.query(`GRANT SELECT ON ${mdb}.* TO '${u}'@'%'`);
      await maria.query(`DROP USER '${u}'@'%'`);
    },
  },
  {
    kind: 'redis',
    config: conf({ name: 'redis', kind: 'redis', url: 'redis://127.0.0.1:6379', roles: { r: { acl: ['~orders:*', '+get'] } } }),
    bare: async (u) => {
      await redis.sendCommand(['ACL', 'SETUSER', u, 'reset', '~orders:*', '+get', `>x${hex()}`, 'on']);
      await redis.sendCommand(['ACL', 'DELUSER', u]);
    },
  },
];

const rows: Array<Array<string>> = [];
try {
  for (const k of kinds) {
    const target = openTarget(k.config, undefined);
    const role = k.config.roles['r']!;
    const ours: number[] = [];
    const bare: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      bare.push(await timed(OPS, () => k.bare(`bench_${hex()}`)));
      ours.push(
        await timed(OPS, async () => {
          const u = `tether_${hex()}`;
          await target.create(u, randomBytes(24).toString('base64url'), role, new Date(Date.now() + 60_000));
          await target.end(u);
        }),
      );
    }
    await target.close();
    rows.push([k.kind, fmtNum(median(bare)), fmtNum(median(ours)), `${fmtNum((median(ours) / median(bare)) * 100)} %`]);
  }
  printTable(['kind', 'bare CREATE+DROP /s', 'Tether create+end /s', 'Tether / bare'], rows);
  console.log(`(${OPS} accounts per round, sequential, median of ${ROUNDS} rounds alternating; Tether's end also disables the account and kills its sessions)`);
} finally {
  await pgAdmin.end();
  await db.drop();
  const a = new pg.Client({ connectionString: PG_ADMIN_URL });
  await a.connect();
  await a.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => {});
  await a.end();
  await maria.query(`DROP DATABASE IF EXISTS ${mdb}`).catch(() => {});
  await maria.end();
  await redis.quit();
}
