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

  // Bumped on every disconnect: a catch-up for an older connection must not clear a newer outage.
  let generation = 0;
  /**
   * After a reconnect: still "down" until the tables are re-read, so a revocation missed while the
   * connection was down cannot slip through. Retried until it succeeds (the store may be coming back
   * too): an instance must serve again by itself once the store is back.
   */
  const catchUp = async () => {
    const g = generation;
    logger.warn('change notifications reconnected: re-reading cluster state');
    for (let wait = 100; g === generation; wait = Math.min(wait * 2, 2000)) {
      try {
        await resync();
        if (g === generation) downSince = null;
        return;
      } catch (err) {
        logger.error({ err: { message: (err as Error).message } }, 'resync failed; retrying');
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  };

  const dispatch = (payload: string) => {
    let n: ChangeNotice;
    try {
      n = JSON.parse(payload) as ChangeNotice;
    } catch {
      return;
    }
    const failed = (err: Error) => logger.error({ err: { message: err.message }, kind: n.kind }, 'change handler failed');
    for (const h of handlers.get(n.kind) ?? []) {
      // Applied synchronously (a revocation is enforced at once); a handler that throws must not
      // throw into the driver's event emitter.
      try {
        Promise.resolve(h(n)).catch(failed);
      } catch (err) {
        failed(err as Error);
      }
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
        onReconnect: () => void catchUp(),
        onDisconnect: (err, aliveAt) => {
          generation++;
          // Stale from the last moment the connection was known to deliver, not from when we noticed.
          downSince = Math.min(downSince ?? aliveAt, aliveAt);
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
      generation++;
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
