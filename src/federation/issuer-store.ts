import { canonicalJson, type AuditWriter } from '../audit/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { TetherError } from '../errors.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { parseIssuerConfig, parseIssuerConfigs, type IssuerConfig } from './issuer-config.js';

/**
 * Trusted issuers: the table is the truth, every instance keeps the parsed list in memory and
 * re-reads it on the `issuers` notification (the token endpoint never queries for them).
 */
export function createIssuerStore(deps: { db: Queryable; clock: () => Date }) {
  let issuers: IssuerConfig[] = [];

  async function upsertIn(q: Queryable, emit: Parameters<ApplySection>[1], cfg: IssuerConfig, actor: string): Promise<boolean> {
    const cur = await q.query<{ config: unknown }>('SELECT config FROM issuers WHERE name = $1 FOR UPDATE', [cfg.name]);
    if (cur.rows[0] && canonicalJson(cur.rows[0].config) === canonicalJson(cfg)) return false;
    await q.query(
      `INSERT INTO issuers (name, config, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated_at = EXCLUDED.updated_at`,
      [cfg.name, JSON.stringify(cfg), deps.clock()],
    );
    emit({ type: 'issuer.upserted', actor, data: { issuer: cfg, created: !cur.rows[0] } });
    await notifyChange(q, { kind: 'issuers' });
    return true;
  }

  return {
    list: () => issuers,
    async reload(): Promise<void> {
      const r = await deps.db.query<{ config: unknown }>('SELECT config FROM issuers ORDER BY name');
      // A stored config that no longer parses is skipped (and cannot vouch for anyone): fail closed.
      const next: IssuerConfig[] = [];
      for (const row of r.rows) {
        try {
          next.push(parseIssuerConfig(row.config));
        } catch {
          /* skipped */
        }
      }
      issuers = next;
    },
    upsertIn,
    section(): ApplySection {
      return async (q, emit, bundle) => {
        if (!bundle.issuers) return [];
        const cfgs = parseIssuerConfigs(bundle.issuers);
        const changes: string[] = [];
        for (const c of cfgs) if (await upsertIn(q, emit, c, 'apply')) changes.push(`issuer ${c.name} applied`);
        return changes;
      };
    },
  };
}

export type IssuerStore = ReturnType<typeof createIssuerStore>;
