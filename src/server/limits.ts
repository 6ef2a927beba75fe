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
  /** Open connections of one client address at most (gateway addresses are exempt). */
  maxConnectionsPerSource: 128,
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
 * Caps open connections, overall and per client address, so that no single source can take the
 * broker from everyone else (README "Limits"):
 *
 * - A source may hold at most `perSource` connections; past that its new connection is closed.
 *   Gateway addresses (`--gateway-addresses`: the nginx or Envoy in front, which carries every client)
 *   are exempt: a gateway's own connections are everyone's.
 * - At the overall cap, a new connection first evicts the oldest one that has not yet sent a complete
 *   request head (an idle half-request costs an attacker nothing; a real client sends its head in
 *   milliseconds). If every connection has sent one (slow bodies), it evicts the oldest connection of
 *   the source holding the most, when that source holds more than the newcomer's; else the newcomer
 *   is refused. A few sources with slow bodies therefore shrink towards a fair share instead of
 *   locking out the rest.
 */
export function capConnections(server: Server, o: { max?: number; perSource?: number; exempt?: readonly string[] } = {}): void {
  const max = o.max ?? SERVER_LIMITS.maxConnections;
  const perSource = o.perSource ?? SERVER_LIMITS.maxConnectionsPerSource;
  const exempt = new Set((o.exempt ?? []).map(normalizeAddress));
  const unproven = new Set<Socket>(); // insertion order = age
  // Keyed by client address, but bounded by the open connections: an entry goes with its last socket.
  const bySource = new Map<string, Set<Socket>>();
  let open = 0;
  server.on('connection', (s: Socket) => {
    const source = normalizeAddress(s.remoteAddress ?? '');
    const mine = bySource.get(source) ?? new Set<Socket>();
    if (!exempt.has(source) && mine.size >= perSource) {
      s.destroy();
      return;
    }
    open++;
    unproven.add(s);
    mine.add(s);
    bySource.set(source, mine);
    s.once('close', () => {
      open--;
      unproven.delete(s);
      mine.delete(s);
      if (mine.size === 0 && bySource.get(source) === mine) bySource.delete(source);
    });
    if (open <= max) return;
    const oldest = unproven.values().next().value as Socket | undefined;
    if (oldest && oldest !== s) return void oldest.destroy();
    let heaviest: Set<Socket> | undefined;
    for (const [addr, socks] of bySource) if (!exempt.has(addr) && (heaviest === undefined || socks.size > heaviest.size)) heaviest = socks;
    if (heaviest !== undefined && heaviest !== mine && heaviest.size > mine.size) (heaviest.values().next().value as Socket).destroy();
    else s.destroy();
  });
  server.on('request', (req: { socket: Socket }) => void unproven.delete(req.socket));
}

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is `10.0.0.1`. */
function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
