import { canonicalJson, type AuditWriter } from '../audit/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { TetherError } from '../errors.js';
import { stoppedIssuers } from '../revocation/index.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { assertNoIdentityOverlap } from './identity-overlap.js';
import { assertUsableByBroker, parseIssuerConfig, parseIssuerConfigs, type IssuerConfig } from './issuer-config.js';
import type { Clock } from '../clock.js';

const parsedOrNone = (config: unknown): IssuerConfig[] => {
  try {
    return [parseIssuerConfig(config)];
  } catch {
    return [];
  }
};

/**
 * Trusted issuers: the table is the truth, every instance keeps the parsed list in memory and
 * re-reads it on the `issuers` notification (the token endpoint never queries for them).
 *
 * A revoked issuer is stopped until an operator restores it (revocation/issuer-stop.ts): `list()`,
 * what the token endpoint verifies against, leaves it out. Each instance learns a stop from the
 * revocation notice at once (`stop`), without waiting for a re-read.
 */
export function createIssuerStore(deps: { db: Queryable; clock: Clock }) {
  let issuers: IssuerConfig[] = [];
  let active: IssuerConfig[] = [];
  let stopped = new Set<string>();
  // Stops learned by notice, by sequence number: a re-read that began before a notice arrived may
  // not see that stop's row yet, so it keeps what was learned after it began.
  let noticeSeq = 0;
  const learned = new Map<string, number>();
  const refresh = () => {
    active = issuers.filter((c) => !stopped.has(c.name));
  };

  async function upsertIn(q: Queryable, emit: Parameters<ApplySection>[1], cfg: IssuerConfig, actor: string): Promise<boolean> {
    assertUsableByBroker(cfg);
    // Serialise issuer writes cluster-wide so two applies cannot each miss the other's template.
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['tether:issuers']);
    const others = await q.query<{ config: unknown }>('SELECT config FROM issuers WHERE name <> $1', [cfg.name]);
    assertNoIdentityOverlap(cfg, others.rows.flatMap((r) => parsedOrNone(r.config)));
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
    /** The issuers that may vouch for workloads now (stopped ones left out). */
    list: () => active,
    isStopped: (name: string) => stopped.has(name),
    /** An issuer revocation committed somewhere in the cluster: stop trusting it now. */
    stop(name: string): void {
      learned.set(name, ++noticeSeq);
      stopped.add(name);
      refresh();
    },
    async reload(): Promise<void> {
      const startSeq = noticeSeq;
      const stops = await stoppedIssuers(deps.db);
      const r = await deps.db.query<{ config: unknown }>('SELECT config FROM issuers ORDER BY name');
      // A stored config that no longer parses is skipped (and cannot vouch for anyone): fail closed.
      const next = r.rows.flatMap((row) => parsedOrNone(row.config));
      for (const [name, seq] of learned) {
        if (seq > startSeq) stops.add(name);
        else learned.delete(name);
      }
      issuers = next;
      stopped = stops;
      refresh();
    },
    upsertIn,
    section(): ApplySection {
      return async (q, emit, bundle, opts) => {
        if (!bundle.issuers) return [];
        const cfgs = parseIssuerConfigs(bundle.issuers);
        const changes: string[] = [];
        for (const c of cfgs) if (await upsertIn(q, emit, c, opts.actor)) changes.push(`issuer ${c.name} applied`);
        return changes;
      };
    },
  };
}

export type IssuerStore = ReturnType<typeof createIssuerStore>;
