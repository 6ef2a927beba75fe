import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can stop forwarding without closing anything: bytes are
 * swallowed in both directions and no FIN or RST is sent, as when a peer or a middlebox dies
 * silently. `blackHole()` kills every current connection (and any opened while it lasts); `heal()`
 * lets new connections through again, while the black-holed ones stay dead, as they would.
 *
 * It can also hold the server's replies back and deliver them later in one write (`holdReplies()`,
 * `releaseReplies()`): what a client reads when its event loop was busy while several server
 * messages arrived (an answer, then the FATAL of a terminated backend) — one chunk, parsed in one
 * synchronous pass.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let holed = false;
  let holding = false;
  interface Conn {
    dead: boolean;
    a: net.Socket;
    b: net.Socket;
    /** Server bytes held back while `holding`. */
    held: Buffer[];
    /** The server closed its side while its bytes were held. */
    serverClosed: boolean;
  }
  const live = new Set<Conn>();
  const server = net.createServer((a) => {
    const b = net.connect(target.port, target.host);
    const conn: Conn = { dead: holed, a, b, held: [], serverClosed: false };
    live.add(conn);
    a.on('data', (d) => void (conn.dead || b.write(d)));
    b.on('data', (d) => {
      if (conn.dead) return;
      if (holding) conn.held.push(d);
      else a.write(d);
    });
    const close = () => {
      live.delete(conn);
      a.destroy();
      b.destroy();
    };
    // A dead connection stays open and silent until the proxy stops: its peers must notice by themselves.
    a.on('close', () => void (conn.dead || close()));
    b.on('close', () => {
      if (conn.dead) return;
      // The server's close comes after the bytes it sent: keep it until they are delivered.
      if (holding) conn.serverClosed = true;
      else close();
    });
    a.on('error', () => {});
    b.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    blackHole() {
      holed = true;
      for (const c of live) c.dead = true;
    },
    heal() {
      holed = false;
    },
    connections: () => live.size,
    /** From now on, server bytes (on every connection) are held back instead of forwarded. */
    holdReplies() {
      holding = true;
    },
    /** How many connections' servers closed while their replies were held. */
    heldClosed: () => [...live].filter((c) => c.serverClosed).length,
    /** Each connection's held bytes go to its client in one write, followed by the server's close if it came. */
    releaseReplies() {
      holding = false;
      for (const c of live) {
        const bytes = Buffer.concat(c.held);
        c.held = [];
        if (c.serverClosed) {
          live.delete(c);
          c.a.end(bytes);
          c.b.destroy();
        } else if (bytes.length > 0) {
          c.a.write(bytes);
        }
      }
    },
    async stop() {
      for (const c of live) {
        c.a.destroy();
        c.b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
