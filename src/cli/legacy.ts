import type { Command } from 'commander';
import { adminCall, adminTarget } from './http-client.js';

const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');

/** Legacy bridge commands over the admin API (README "Legacy bridge"). */
export function registerLegacy(program: Command): void {
  program
    .command('discover')
    .description("list the accounts on a connector's target that Tether did not make, and record them as discovered, unowned service accounts (posture reports them)")
    .requiredOption('--connector <name>', 'the connector (tether.yaml `connectors:`)')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .action(async (o: { url?: string; connector: string }) => {
      print(await adminCall(adminTarget(o), 'POST', `/admin/v1/connectors/${encodeURIComponent(o.connector)}/discover`));
    });

  const leases = program.command('leases').description('per-task accounts on legacy targets and their revocation state');
  leases
    .command('list')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .option('--state <state>', 'creating | active | ending | ended')
    .option('--connector <name>')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { url?: string; state?: string; connector?: string; limit: string }) => {
      const q = new URLSearchParams({ limit: o.limit });
      if (o.state) q.set('state', o.state);
      if (o.connector) q.set('connector', o.connector);
      print(await adminCall(adminTarget(o), 'GET', `/admin/v1/leases?${q}`));
    });
  leases
    .command('end <lease-id>')
    .description('end one lease now: the account is disabled, its sessions killed, and it is dropped')
    .requiredOption('--reason <text>', 'why (audited)')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .action(async (id: string, o: { url?: string; reason: string }) => {
      print(await adminCall(adminTarget(o), 'POST', `/admin/v1/leases/${encodeURIComponent(id)}/end`, { reason: o.reason }));
    });
}
