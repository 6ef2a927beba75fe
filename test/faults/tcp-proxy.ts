import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can stop forwarding without closing anything: bytes are
 * swallowed in both directions and no FIN or RST is sent, as when a peer or a middlebox dies
 * silently. `blackHole()` kills every current connection (and any opened while it lasts); `heal()`
 * lets new connections through again, while the black-holed ones stay dead, as they would.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  let holed = false;
  const live = new Set<{ dead: boolean; a: net.Socket; b: net.Socket }>();
  const server = net.createServer((a) => {
    const b = net.connect(target.port, target.host);
    const conn = { dead: holed, a, b };
    live.add(conn);
    a.on('data', (d) => void (conn.dead || b.write(d)));
    b.on('data', (d) => void (conn.dead || a.write(d)));
    const close = () => {
      live.delete(conn);
      a.destroy();
      b.destroy();
    };
    // A dead connection stays open and silent until the proxy stops: its peers must notice by themselves.
    a.on('close', () => void (conn.dead || close()));
    b.on('close', () => void (conn.dead || close()));
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
    async stop() {
      for (const c of live) {
        c.a.destroy();
        c.b.destroy();
      }
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
