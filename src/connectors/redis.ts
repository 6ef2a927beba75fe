import { createClient } from 'redis';
import type { ConnectorConfig } from './config.js';
import { targetError, type EndReport, type Target, type TargetAccount } from './target.js';

/** Only what the driver uses of a connected client. */
interface Client {
  readonly isReady: boolean;
  sendCommand(args: string[]): Promise<unknown>;
  multi(): { addCommand(args: string[]): unknown; exec(): Promise<unknown[]> };
  quit(): Promise<unknown>;
  destroy(): void;
}

/**
 * Redis (6+). An account is an ACL user: `reset` (no keys, no channels, no commands, off) then `on`,
 * its password and the role's rules. Redis has no per-user expiry; the lease sweeper ends it. Ending
 * it: `ACL SETUSER … off` (no new AUTH), `CLIENT KILL USER` (open connections), `ACL DELUSER`.
 */
export function redisTarget(c: ConnectorConfig, secret: string | undefined): Target {
  const url = new URL(c.url);
  let client: Client | null = null;
  let connecting: Promise<Client> | null = null;

  const connect = (): Promise<Client> => {
    if (client?.isReady) return Promise.resolve(client);
    connecting ??= (async () => {
      const cl = createClient({
        url: c.url,
        ...(secret !== undefined ? { password: secret } : {}),
        // No background reconnection: a call fails fast while the target is down, and the sweeper's
        // backoff decides when to try again.
        socket: { connectTimeout: 3000, reconnectStrategy: false },
      });
      cl.on('error', () => {});
      try {
        await cl.connect();
      } catch (e) {
        cl.destroy();
        throw targetError(e, secret);
      }
      client = cl as unknown as Client;
      return client;
    })().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  const cmd = async (args: string[], secrets: string[] = []): Promise<unknown> => {
    const cl = await connect();
    try {
      return await cl.sendCommand(args);
    } catch (e) {
      if (!cl.isReady) {
        client = null;
        cl.destroy();
      }
      throw targetError(e, secret, ...secrets);
    }
  };

  return {
    adminUser: decodeURIComponent(url.username) || 'default',
    async probe(role) {
      const name = `tether_probe_${Math.random().toString(16).slice(2, 10)}`;
      try {
        await cmd(['ACL', 'SETUSER', name, 'reset', 'off', ...(role.acl ?? [])]);
      } finally {
        await cmd(['ACL', 'DELUSER', name]).catch(() => {});
      }
    },
    async create(username, password, role) {
      await cmd(['ACL', 'SETUSER', username, 'reset', ...(role.acl ?? []), `>${password}`, 'on'], [password]);
    },
    async end(username): Promise<EndReport> {
      // One transaction, one round trip: Redis runs it atomically, so no AUTH slips in between.
      // `off` creates the user when it is already gone, so the kill never fails on "no such user";
      // the delete then removes it again.
      const cl = await connect();
      const m = cl.multi();
      m.addCommand(['ACL', 'GETUSER', username]);
      m.addCommand(['ACL', 'SETUSER', username, 'off']);
      m.addCommand(['CLIENT', 'KILL', 'USER', username]);
      m.addCommand(['ACL', 'DELUSER', username]);
      let replies: unknown[];
      try {
        replies = await m.exec();
      } catch (e) {
        if (!cl.isReady) {
          client = null;
          cl.destroy();
        }
        throw targetError(e, secret);
      }
      return { existed: replies[0] !== null, sessions: Number(replies[2] ?? 0) };
    },
    async accounts(): Promise<TargetAccount[]> {
      const lines = (await cmd(['ACL', 'LIST'])) as string[];
      const out: TargetAccount[] = [];
      for (const line of lines) {
        const parts = line.split(' ');
        if (parts[0] !== 'user' || !parts[1] || !parts.includes('on')) continue;
        out.push({ name: parts[1], facts: { nopass: parts.includes('nopass'), all_keys: parts.includes('~*') || parts.includes('allkeys'), all_commands: parts.includes('+@all') } });
      }
      return out;
    },
    async close() {
      const cl = client;
      client = null;
      if (cl) await cl.quit().catch(() => cl.destroy());
    },
  };
}
