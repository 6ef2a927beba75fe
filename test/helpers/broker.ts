import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type Broker } from '../../src/server/app.js';
import { loadConfig, type ConfigInput } from '../../src/config/index.js';
import { createLogger } from '../../src/server/logger.js';
import { createTestDb, type TestDb } from './stores.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
/** One master key for every test broker, so brokers sharing a database (a cluster) share signing keys. */
const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64url');

export interface RunningBroker {
  url: string;
  broker: Broker;
  db: TestDb;
  logs: string[];
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stop(): Promise<void>;
}

/** Starts a real broker over HTTP on port 0 with a fresh store of the given kind. */
export async function startBroker(kind: 'pg' | 'pglite', overrides: Partial<ConfigInput> = {}, opts: { clock?: () => Date; db?: TestDb } = {}): Promise<RunningBroker> {
  const db = opts.db ?? (await createTestDb(kind));
  const store = await db.open();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig({ port: 0, logLevel: 'info', dataDir: db.dataDir ?? mkdtempSync(join(tmpdir(), 'tether-pg-broker-')), databaseUrl: db.databaseUrl, masterKey: TEST_MASTER_KEY, ...overrides }, {});
  const broker = await buildApp({ config, store, logger: createLogger('info', sink), adminToken: ADMIN_TOKEN, ...(opts.clock ? { clock: opts.clock } : {}) });
  const address = await broker.app.listen({ port: 0, host: '127.0.0.1' });
  broker.setListenUrl(address);
  return {
    url: address,
    broker,
    db,
    logs,
    async admin(method, path, body, headers = {}) {
      const res = await fetch(address + path, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: json, headers: res.headers };
    },
    async stop() {
      await broker.close();
      if (!opts.db) await db.drop();
    },
  };
}
