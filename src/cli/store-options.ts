import type { Command } from 'commander';
import { openStore, type Store } from '../store/index.js';
import { restrictDataDir, tightenTree } from './data-dir.js';

/** `--data-dir` / `--database-url` for commands that read the store directly (offline tools). */
export function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'embedded store directory (default ./tether-data, or TETHER_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL (or TETHER_DATABASE_URL)');
}

export async function openStoreFromOptions(o: { dataDir?: string; databaseUrl?: string }): Promise<Store> {
  const databaseUrl = o.databaseUrl ?? process.env.TETHER_DATABASE_URL;
  const dataDir = o.dataDir ?? process.env.TETHER_DATA_DIR ?? './tether-data';
  if (databaseUrl) return openStore({ databaseUrl }, { migrate: true });
  restrictDataDir(dataDir);
  const store = await openStore({ dataDir }, { migrate: true });
  tightenTree(dataDir);
  return store;
}
