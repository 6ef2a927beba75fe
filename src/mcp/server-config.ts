/**
 * `mcp_servers` in tether.yaml (README "MCP gateway"): each upstream MCP server Tether fronts at
 * `/mcp/{name}`. The store is the truth (one `config_docs` row per server); every instance keeps
 * them in memory, refreshed by notification. Apply upserts and never deletes, like routes.
 */
import { parseSectionItems } from '../declarative/section-items.js';
import { z } from 'zod';
import { canonicalJson } from '../audit/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { notifyChange, type Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';

const DOC_PREFIX = 'mcp_server:';

export const McpServerSchema = z.strictObject({
  /** Path segment and Cedar id (`McpServer::"<name>"`). */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'name: 1-64 lowercase letters, digits, "-" or "_"'),
  /** The Streamable HTTP endpoint of the upstream server. */
  upstream: z
    .string()
    .url()
    .refine((u) => /^https?:$/.test(new URL(u).protocol), 'upstream must be an http(s) URL'),
  /** Tokens for this server must name it in `aud`; defaults to Tether's public URL of `/mcp/{name}`. */
  audience: z.string().min(1).max(512).optional(),
});
export type McpServerConfig = z.infer<typeof McpServerSchema>;

export function createMcpServerStore(deps: { db: Queryable; clock: Clock }) {
  let servers = new Map<string, McpServerConfig>();
  return {
    get: (name: string) => servers.get(name),
    all: () => [...servers.values()],
    async reload(): Promise<void> {
      const r = await deps.db.query<{ body: unknown }>(`SELECT body FROM config_docs WHERE key LIKE $1`, [`${DOC_PREFIX}%`]);
      const next = new Map<string, McpServerConfig>();
      for (const row of r.rows) {
        const p = McpServerSchema.safeParse(row.body);
        if (p.success) next.set(p.data.name, p.data);
      }
      servers = next;
    },
    section(): ApplySection {
      return async (q, emit, bundle, opts) => {
        if (!bundle.mcp_servers) return [];
        const parsed = parseSectionItems('mcp_servers', McpServerSchema, bundle.mcp_servers);
        const changes: string[] = [];
        for (const s of parsed) {
          const key = DOC_PREFIX + s.name;
          const hash = canonicalJson(s);
          const cur = await q.query<{ hash: string }>('SELECT hash FROM config_docs WHERE key = $1 FOR UPDATE', [key]);
          if (cur.rows[0]?.hash === hash) continue;
          await q.query(
            `INSERT INTO config_docs (key, body, hash, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body, hash = EXCLUDED.hash, updated_at = EXCLUDED.updated_at`,
            [key, JSON.stringify(s), hash, deps.clock()],
          );
          emit({ type: 'mcp_server.upserted', actor: opts.actor, data: { server: s } });
          changes.push(`mcp server ${s.name} applied`);
        }
        if (changes.length) await notifyChange(q, { kind: 'mcp_servers' });
        return changes;
      };
    },
  };
}

export type McpServerStore = ReturnType<typeof createMcpServerStore>;
