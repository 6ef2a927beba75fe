import { canonicalJson } from '../audit/index.js';
import { parseSectionItems } from '../declarative/section-items.js';
import type { ApplySection } from '../declarative/apply.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { compileRoute, RouteSchema, type CompiledRoute, type RouteConfig } from './route-config.js';
import type { Clock } from '../clock.js';

/** Routes: the table is the truth; every instance keeps them compiled, refreshed by notification. */
export function createRouteStore(deps: { db: Queryable; clock: Clock }) {
  let routes = new Map<string, CompiledRoute>();

  return {
    get: (name: string) => routes.get(name),
    all: () => [...routes.values()],
    async reload(): Promise<void> {
      const r = await deps.db.query<{ config: unknown }>('SELECT config FROM routes');
      const next = new Map<string, CompiledRoute>();
      for (const row of r.rows) {
        const p = RouteSchema.safeParse(row.config);
        if (p.success) next.set(p.data.name, compileRoute(p.data));
      }
      routes = next;
    },
    section(): ApplySection {
      return async (q, emit, bundle, opts) => {
        if (!bundle.routes) return [];
        const parsed: RouteConfig[] = parseSectionItems('routes', RouteSchema, bundle.routes);
        const changes: string[] = [];
        for (const route of parsed) {
          const cur = await q.query<{ config: unknown }>('SELECT config FROM routes WHERE name = $1 FOR UPDATE', [route.name]);
          if (cur.rows[0] && canonicalJson(cur.rows[0].config) === canonicalJson(route)) continue;
          await q.query(
            `INSERT INTO routes (name, config, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated_at = EXCLUDED.updated_at`,
            [route.name, JSON.stringify(route), deps.clock()],
          );
          emit({ type: 'route.upserted', actor: opts.actor, data: { route } });
          changes.push(`route ${route.name} applied`);
        }
        if (changes.length) await notifyChange(q, { kind: 'routes' });
        return changes;
      };
    },
  };
}

export type RouteStore = ReturnType<typeof createRouteStore>;
