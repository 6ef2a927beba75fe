import { migrate } from './migrations.js';
import { openPgStore } from './pg-store.js';
import { openPgliteStore, type EmbeddedScheduling } from './pglite-store.js';
import type { Store } from './types.js';

export interface StoreLocation {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  /** PostgreSQL only: bound every statement of the returned store (pg-store.ts STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number | undefined;
  /** Embedded only: how the one connection is shared (pglite-store.ts). */
  embeddedScheduling?: EmbeddedScheduling | undefined;
}

/** Opens PostgreSQL when a URL is given, else the embedded store; migrates before returning. */
export async function openStore(loc: StoreLocation, opts: { migrate?: boolean } = {}): Promise<Store> {
  if (loc.databaseUrl && loc.statementTimeoutMs) {
    // A migration may legitimately run for minutes (an index over a large audit table) and waits on
    // other starters' migration lock: it runs on its own unbounded pool, closed before serving.
    if (opts.migrate !== false) await (await openStore({ databaseUrl: loc.databaseUrl })).close();
    return openPgStore(loc.databaseUrl, { statementTimeoutMs: loc.statementTimeoutMs });
  }
  const store = loc.databaseUrl ? await openPgStore(loc.databaseUrl) : await openPgliteStore(loc.dataDir, { scheduling: loc.embeddedScheduling });
  if (opts.migrate !== false) {
    try {
      await migrate(store);
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }
  return store;
}
