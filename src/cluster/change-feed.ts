import type { Logger } from 'pino';
import { CHANGES_CHANNEL, type ChangeNotice, type Store } from '../store/index.js';

type Kind = ChangeNotice['kind'];
type Handler<K extends Kind> = (notice: Extract<ChangeNotice, { kind: K }>) => void | Promise<void>;

/**
 * Every instance's view of cluster-wide changes. Notifications are hints; the tables are the
 * truth. Each cache registers a handler for its kind and a resync that re-reads its table; the
 * feed runs every resync at start, after any reconnect, and on a slow timer as a backstop for a
 * connection that died without telling us.
 */
export interface ChangeFeed {
  on<K extends Kind>(kind: K, handler: Handler<K>): void;
  /** Called at start, after reconnects and periodically: re-read everything from the tables. */
  onResync(handler: () => Promise<void>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** False when the feed may have missed changes for longer than staleAfterMs: callers fail closed. */
  current(): boolean;
  resync(): Promise<void>;
}

export function createChangeFeed(store: Store, logger: Logger, opts: { staleAfterMs: number; resyncIntervalMs?: number }): ChangeFeed {
  const handlers = new Map<Kind, Array<(n: ChangeNotice) => void | Promise<void>>>();
  const resyncs: Array<() => Promise<void>> = [];
  let unlisten: (() => Promise<void>) | null = null;
  let downSince: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let lastResyncOk = 0;

  const resync = async () => {
    await Promise.all(resyncs.map((r) => r()));
    lastResyncOk = Date.now();
  };

  const dispatch = (payload: string) => {
    let n: ChangeNotice;
    try {
      n = JSON.parse(payload) as ChangeNotice;
    } catch {
      return;
    }
    for (const h of handlers.get(n.kind) ?? []) {
      Promise.resolve(h(n)).catch((err: Error) => logger.error({ err: { message: err.message }, kind: n.kind }, 'change handler failed'));
    }
  };

  return {
    on(kind, handler) {
      const list = handlers.get(kind) ?? [];
      list.push(handler as (n: ChangeNotice) => void);
      handlers.set(kind, list);
    },
    onResync(h) {
      resyncs.push(h);
    },
    async start() {
      unlisten = await store.listen(CHANGES_CHANNEL, {
        onMessage: dispatch,
        onReconnect: () => {
          logger.warn('change notifications reconnected: re-reading cluster state');
          // Still "down" until the tables are re-read: a missed revocation must not slip through.
          resync()
            .then(() => (downSince = null))
            .catch((err: Error) => logger.error({ err: { message: err.message } }, 'resync failed'));
        },
        onDisconnect: (err) => {
          downSince ??= Date.now();
          logger.error({ err: { message: err.message } }, 'change notifications lost');
        },
      });
      await resync();
      const every = opts.resyncIntervalMs ?? 30000;
      timer = setInterval(() => {
        resync().catch((err: Error) => logger.error({ err: { message: err.message } }, 'periodic resync failed'));
      }, every);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      if (unlisten) await unlisten();
    },
    current() {
      // Up and caught up, or down for less than the bound we tolerate.
      if (lastResyncOk === 0) return false;
      if (downSince === null) return true;
      return Date.now() - downSince < opts.staleAfterMs;
    },
    resync,
  };
}
