import pg from 'pg';
import { pgTypes } from './pg-types.js';
import type { ListenHandlers } from './types.js';

export interface ListenerOptions {
  /** How long to wait before reconnecting a dead listener. */
  reconnectDelayMs?: number;
  /** How often the listener proves its connection alive with a round trip on that connection. */
  probeIntervalMs?: number;
  /** A probe (or a connect) unanswered this long counts as a dropped connection. */
  probeTimeoutMs?: number;
}

/** Defaults: a silently dead connection is declared lost at most 1 s + 2 s after its last answer. */
export const LISTENER_PROBE_INTERVAL_MS = 1000;
export const LISTENER_PROBE_TIMEOUT_MS = 2000;

/**
 * The dedicated LISTEN connection. TCP keepalive alone notices a black-holed peer only after minutes
 * (the OS retransmission timeout), so the connection also answers a query every probe interval: a
 * notification committed before a probe was sent is delivered before that probe's answer (one
 * ordered stream), so "the last probe sent that was answered" is the moment up to which we know we
 * missed nothing. A probe unanswered within the timeout is handled exactly like an error or a FIN:
 * the connection is destroyed, `onDisconnect` gets that moment, and we reconnect.
 */
export function startPgListener(url: string, channel: string, h: ListenHandlers, o: ListenerOptions = {}) {
  const delayMs = o.reconnectDelayMs ?? 250;
  const every = o.probeIntervalMs ?? LISTENER_PROBE_INTERVAL_MS;
  const timeout = o.probeTimeoutMs ?? LISTENER_PROBE_TIMEOUT_MS;
  let current: pg.Client | undefined;
  let stopped = false;
  let up = false;
  let first = true;
  /** Epoch ms up to which every notification is known to have been received. */
  let aliveAt = 0;
  let resolveReady!: () => void;
  const ready = new Promise<void>((r) => (resolveReady = r));

  const discard = (c: pg.Client) => {
    c.removeAllListeners();
    // A socket error after we stopped listening must still have a listener, or it ends the process.
    c.on('error', () => {});
    // Destroy, not end(): a black-holed peer would never acknowledge a graceful close.
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };

  const lose = (c: pg.Client, err: Error) => {
    if (current !== c) return;
    current = undefined;
    const wasUp = up;
    up = false;
    discard(c);
    if (wasUp || first) h.onDisconnect?.(err, aliveAt || Date.now());
    if (!stopped) setTimeout(() => void connect(), delayMs).unref();
  };

  const connect = async (): Promise<void> => {
    if (stopped) return;
    const c = new pg.Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 1000, types: pgTypes, connectionTimeoutMillis: timeout });
    current = c;
    c.on('error', (err) => lose(c, err));
    c.on('end', () => lose(c, new Error('listener connection ended')));
    c.on('notification', (m) => {
      if (m.channel === channel && current === c) h.onMessage(m.payload ?? '');
    });
    const guard = setTimeout(() => lose(c, new Error(`LISTEN not confirmed within ${timeout} ms`)), timeout + 100);
    try {
      const sent = Date.now();
      await c.connect();
      await c.query(`LISTEN "${channel.replace(/"/g, '')}"`);
      clearTimeout(guard);
      if (current !== c) return;
      up = true;
      aliveAt = sent;
      if (first) {
        first = false;
        resolveReady();
      } else {
        h.onReconnect();
      }
    } catch (err) {
      clearTimeout(guard);
      lose(c, err as Error);
    }
  };

  const probe = setInterval(() => {
    const c = current;
    if (!up || !c) return;
    const sent = Date.now();
    const t = setTimeout(() => lose(c, new Error(`notification connection silent for ${timeout} ms`)), timeout);
    c.query('SELECT 1').then(
      () => {
        clearTimeout(t);
        if (current === c) aliveAt = Math.max(aliveAt, sent);
      },
      () => clearTimeout(t), // the connection's 'error' event reports it
    );
  }, every);
  probe.unref();

  void connect();
  return {
    ready,
    /** Up, and proven alive recently enough that a silent death would already have been declared. */
    healthy: () => up && Date.now() - aliveAt <= every + timeout,
    stop: async () => {
      stopped = true;
      up = false;
      clearInterval(probe);
      const c = current;
      current = undefined;
      if (c) {
        c.removeAllListeners();
        c.on('error', () => {});
        const ended = c.end().catch(() => {});
        await Promise.race([ended, new Promise((r) => setTimeout(r, 1000).unref())]);
        discard(c);
      }
    },
  };
}
