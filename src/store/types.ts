/** The one small interface both drivers implement. SQL is PostgreSQL's dialect on both. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export type StoreKind = 'pg' | 'pglite';

/** Listener callbacks: a message on the channel, and "you may have missed messages, re-read the tables". */
export interface ListenHandlers {
  onMessage(payload: string): void;
  onReconnect(): void;
  /**
   * The connection is lost (an error, a close, or a liveness probe unanswered). `aliveAt` (epoch ms):
   * every notification committed before it was received; anything after may have been missed.
   */
  onDisconnect?(err: Error, aliveAt: number): void;
}

export interface Store extends Queryable {
  readonly kind: StoreKind;
  /** The largest audit group commit this driver should be given, when it needs one smaller than the writer's default. */
  readonly maxGroupCommit?: number;
  /**
   * Statements run on the caller's thread (the embedded driver): nothing else runs while one does, so a
   * group commit must wait for the requests already read to join it instead of starting at once.
   */
  readonly runsOnCallerThread?: boolean;
  /** Runs fn in one transaction; commits when it resolves, rolls back when it throws. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Subscribes to a notification channel. Notifications are hints: on reconnect the caller re-reads
   * its state from the tables, because anything sent while the connection was down is gone.
   */
  listen(channel: string, handlers: ListenHandlers): Promise<() => Promise<void>>;
  /** True while the notification connection is up and answering (always true for the embedded driver). */
  listenerHealthy(): boolean;
  close(): Promise<void>;
}

/** Channel every instance listens on for config and revocation changes. */
export const CHANGES_CHANNEL = 'tether_changes';
