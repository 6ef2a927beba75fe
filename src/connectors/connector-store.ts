import { canonicalJson } from '../audit/index.js';
import { parseSectionItems } from '../declarative/section-items.js';
import type { ApplySection } from '../declarative/apply.js';
import { invalidRequest } from '../errors.js';
import { notifyChange, type Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';
import { AdminSecretError, adminSecret } from './admin-secret.js';
import { ConnectorSchema, type ConnectorConfig } from './config.js';
import type { Target, TargetFactory } from './target.js';

/** The login a connector uses when its URL names none: each kind's own default. */
const DEFAULT_ADMIN: Record<ConnectorConfig['kind'], string> = { postgresql: 'postgres', mariadb: 'root', redis: 'default' };

/**
 * The driver of each kind, loaded on first use: the Redis and MariaDB client libraries cost most of
 * a second to import on a busy machine, which every CLI command and every broker without connectors
 * would otherwise pay at start.
 */
export const openTarget: TargetFactory = (c, secret) => {
  let loaded: Promise<Target> | null = null;
  const load = () =>
    (loaded ??=
      c.kind === 'postgresql'
        ? import('./postgresql.js').then((m) => m.postgresqlTarget(c, secret))
        : c.kind === 'mariadb'
          ? import('./mariadb.js').then((m) => m.mariadbTarget(c, secret))
          : import('./redis.js').then((m) => m.redisTarget(c, secret)));
  return {
    adminUser: decodeURIComponent(new URL(c.url).username) || DEFAULT_ADMIN[c.kind],
    probe: async (role) => (await load()).probe(role),
    create: async (u, p, role, at) => (await load()).create(u, p, role, at),
    end: async (u) => (await load()).end(u),
    accounts: async () => (await load()).accounts(),
    close: async () => {
      if (loaded) await (await loaded).close();
    },
  };
};

export interface ConnectorStoreDeps {
  db: Queryable;
  clock: Clock;
  env?: NodeJS.ProcessEnv;
  targets?: TargetFactory;
}

/**
 * Connectors: the table is the truth; every instance keeps the configs and one open admin connection
 * per connector, refreshed by the `connectors` notice.
 */
export function createConnectorStore(deps: ConnectorStoreDeps) {
  const factory = deps.targets ?? openTarget;
  let configs = new Map<string, ConnectorConfig>();
  const open = new Map<string, { key: string; target: Target }>();

  /** Opens a target for `c` with its admin secret (read now: a rotated secret is picked up on reconnect). */
  const openFor = (c: ConnectorConfig): Target => factory(c, adminSecret(c, deps.env));

  return {
    get: (name: string) => configs.get(name),
    all: () => [...configs.values()],
    async reload(): Promise<void> {
      const r = await deps.db.query<{ config: unknown }>('SELECT config FROM connectors');
      const next = new Map<string, ConnectorConfig>();
      for (const row of r.rows) {
        const p = ConnectorSchema.safeParse(row.config);
        if (p.success) next.set(p.data.name, p.data);
      }
      configs = next;
      // A connection opened for an older config is closed; the next use opens one for the new.
      for (const [name, o] of open) {
        const c = configs.get(name);
        if (!c || canonicalJson(c) !== o.key) {
          open.delete(name);
          void o.target.close().catch(() => {});
        }
      }
    },
    /** The connector's admin connection (opened on first use). Throws AdminSecretError when its secret is missing. */
    target(name: string): Target | undefined {
      const c = configs.get(name);
      if (!c) return undefined;
      const key = canonicalJson(c);
      const o = open.get(name);
      if (o && o.key === key) return o.target;
      if (o) void o.target.close().catch(() => {});
      const target = openFor(c);
      open.set(name, { key, target });
      return target;
    },
    async close(): Promise<void> {
      const all = [...open.values()];
      open.clear();
      await Promise.all(all.map((o) => o.target.close().catch(() => {})));
    },
    /**
     * tether.yaml `connectors:`. A new or changed connector is validated on its real server: it must
     * connect, and each role's template must work (a probe account made with it and removed again);
     * otherwise the apply is refused with the server's own message. Apply never deletes.
     */
    section(): ApplySection {
      return async (q, emit, bundle, opts) => {
        const decl = bundle.connectors;
        if (!decl) return [];
        const parsed = parseSectionItems('connectors', ConnectorSchema, decl);
        const changes: string[] = [];
        for (const c of parsed) {
          const cur = await q.query<{ config: unknown }>('SELECT config FROM connectors WHERE name = $1 FOR UPDATE', [c.name]);
          if (cur.rows[0] && canonicalJson(cur.rows[0].config) === canonicalJson(c)) continue;
          await validateOnTarget(c);
          await q.query(
            `INSERT INTO connectors (name, kind, config, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config = EXCLUDED.config, updated_at = EXCLUDED.updated_at`,
            [c.name, c.kind, JSON.stringify(c), deps.clock()],
          );
          emit({ type: 'connector.upserted', actor: opts.actor, data: { connector: c } });
          changes.push(`connector ${c.name} applied`);
        }
        if (changes.length) await notifyChange(q, { kind: 'connectors' });
        return changes;
      };
    },
  };

  async function validateOnTarget(c: ConnectorConfig): Promise<void> {
    let t: Target;
    try {
      t = openFor(c);
    } catch (e) {
      if (e instanceof AdminSecretError) throw invalidRequest(e.message);
      throw e;
    }
    try {
      for (const [role, r] of Object.entries(c.roles)) {
        try {
          await t.probe(r);
        } catch (e) {
          const msg = (e as Error).message;
          const unreachable = (e as { unreachable?: boolean }).unreachable === true;
          throw invalidRequest(unreachable ? `connector ${c.name}: cannot connect: ${msg}` : `connector ${c.name}: role ${role} refused by the server: ${msg}`);
        }
      }
    } finally {
      await t.close().catch(() => {});
    }
  }
}

export type ConnectorStore = ReturnType<typeof createConnectorStore>;
