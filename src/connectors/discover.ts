import type { Inventory } from '../inventory/identities.js';
import type { Queryable } from '../store/index.js';
import type { ConnectorStore } from './connector-store.js';

export interface DiscoveredAccount {
  identity: string;
  account: string;
  /** True when this run recorded it (false: already in the inventory). */
  new: boolean;
  facts: Record<string, string | boolean | null>;
}

/** The inventory id of an account found on a connector's target. */
export const discoveredIdentityId = (connector: string, account: string) => `connector/${connector}/${account}`;

/**
 * Standing accounts on a target (README "Legacy bridge"): every login-capable account Tether did
 * not make (no lease of this connector names it) is recorded as a discovered, unowned
 * `service_account`, labelled with its source, so posture reports it (standing access, long-lived
 * credential, unowned). Accounts already in the inventory are left as they are (an owner may have
 * claimed them).
 */
export function createDiscovery(deps: { db: Queryable; connectors: Pick<ConnectorStore, 'get' | 'target'>; inventory: Pick<Inventory, 'discover'> }) {
  return {
    async discover(name: string): Promise<DiscoveredAccount[] | null> {
      const c = deps.connectors.get(name);
      if (!c) return null;
      const target = deps.connectors.target(name)!;
      const accounts = await target.accounts();
      const made = new Set(
        (await deps.db.query<{ username: string }>('SELECT username FROM credential_leases WHERE connector = $1', [name])).rows.map((r) => r.username),
      );
      const out: DiscoveredAccount[] = [];
      for (const a of accounts) {
        const login = a.name.split('@')[0]!;
        if (made.has(login)) continue;
        const id = discoveredIdentityId(name, a.name);
        const labels: Record<string, string> = {
          'tether.source': `connector:${name}`,
          'tether.connector_kind': c.kind,
          'tether.account': a.name.slice(0, 512),
          'tether.standing': 'true',
        };
        if (login === target.adminUser) labels['tether.connector_admin'] = 'true';
        for (const [k, v] of Object.entries(a.facts)) if (v !== null) labels[`tether.${k}`] = String(v).slice(0, 512);
        const before = await deps.db.query('SELECT 1 FROM identities WHERE id = $1', [id]);
        if (!before.rows[0]) await deps.inventory.discover(id, name, 'service_account', { labels, source: 'connector' });
        out.push({ identity: id, account: a.name, new: !before.rows[0], facts: a.facts });
      }
      return out;
    },
  };
}

export type Discovery = ReturnType<typeof createDiscovery>;
