import type pg from 'pg';

/**
 * Gives every client of `pool` an 'error' listener from the moment it is connected until it is
 * gone, and returns the first error of each (clients that failed). pg-pool's own listener covers a
 * client only while it is idle: the pool detaches it when it hands the client out, and it hands it
 * out synchronously while parsing the read that freed or connected it (the previous user's answer,
 * or the startup's ReadyForQuery). A `pool.connect()` caller can attach its listener only once its
 * promise resolves, after that whole read is parsed; a FATAL in the same read (a terminated backend,
 * a server shutting down: messages coalesce whenever the event loop is busy) was emitted with no
 * listener, which throws and ends the process. The pool's 'connect' event is emitted before that
 * first hand-out, and a client that failed also fails every later query on it, so the error is
 * still reported to whoever uses the client.
 */
export function guardPoolClients(pool: pg.Pool): WeakMap<pg.PoolClient, Error> {
  const broken = new WeakMap<pg.PoolClient, Error>();
  pool.on('connect', (client) => {
    client.on('error', (err) => void (broken.has(client) || broken.set(client, err)));
  });
  return broken;
}
