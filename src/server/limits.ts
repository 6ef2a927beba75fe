import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Bounds on what a client can hold open (README "Limits"). Without them ~900 idle half-requests
 * exhaust the descriptors and the broker stops answering, /healthz included.
 */
export const SERVER_LIMITS = {
  /** A request's headers must arrive within this (slowloris). */
  headersTimeoutMs: 10_000,
  /** A whole request, body included, must arrive within this. */
  requestTimeoutMs: 30_000,
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: 5_000,
  /** A socket with no traffic at all is closed after this. */
  socketIdleTimeoutMs: 60_000,
  /** How often Node checks the two timeouts above (its default of 30 s would let them overrun). */
  checkIntervalMs: 1_000,
  /** Open client connections at most; below the usual 1024-descriptor limit, leaving room for the store. */
  maxConnections: 768,
} as const;

/** Fastify options that apply the timeouts. */
export function serverTimeoutOptions() {
  return {
    connectionTimeout: SERVER_LIMITS.socketIdleTimeoutMs,
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
    requestTimeout: SERVER_LIMITS.requestTimeoutMs,
    http: { headersTimeout: SERVER_LIMITS.headersTimeoutMs, connectionsCheckingInterval: SERVER_LIMITS.checkIntervalMs },
  };
}

/**
 * Caps open connections. At the cap, a new connection evicts the oldest one that has not yet sent a
 * complete request head (an idle half-request costs an attacker nothing, a real client sends its
 * head in milliseconds), so a flood of half-requests cannot lock out health checks or clients; if
 * every connection has sent a request, the new one is refused instead.
 */
export function capConnections(server: Server, max: number = SERVER_LIMITS.maxConnections): void {
  const unproven = new Set<Socket>(); // insertion order = age
  let open = 0;
  server.on('connection', (s: Socket) => {
    open++;
    unproven.add(s);
    s.once('close', () => {
      open--;
      unproven.delete(s);
    });
    if (open > max) {
      const oldest = unproven.values().next().value as Socket | undefined;
      (oldest && oldest !== s ? oldest : s).destroy();
    }
  });
  server.on('request', (req: { socket: Socket }) => void unproven.delete(req.socket));
}
