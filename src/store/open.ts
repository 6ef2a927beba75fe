import { migrate } from './migrations.js';
import { openPgStore } from './pg-store.js';
import { openPgliteStore } from './pglite-store.js';
import type { Store } from './types.js';

export interface StoreLocation {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
}

/** Opens PostgreSQL when a URL is given, else the embedded store; migrates before returning. */
export async function openStore(loc: StoreLocation, opts: { migrate?: boolean } = {}): Promise<Store> {
  const store = loc.databaseUrl ? await openPgStore(loc.databaseUrl) : await openPgliteStore(loc.dataDir);
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
