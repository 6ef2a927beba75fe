import type { Command } from 'commander';
import { loadConfigDir } from '../declarative/load-dir.js';
import { adminCall, adminTarget } from './http-client.js';

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('load declarative configuration into a running broker (idempotent: applying twice changes nothing)')
    .requiredOption('-f, --file <dir>', 'config directory: tether.yaml, **/*.cedar, *.cedarschema, entities.json')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .option('--dry-run', 'validate the directory locally and print what would be sent')
    .addHelpText('after', '\nThe admin token is read from TETHER_ADMIN_TOKEN.\nExample:\n  TETHER_ADMIN_TOKEN=$(cat tether-data/admin-token) tether apply -f examples/quickstart')
    .action(async (o: { file: string; url?: string; dryRun?: boolean }) => {
      const bundle = loadConfigDir(o.file);
      if (o.dryRun) {
        process.stdout.write(JSON.stringify(bundle, null, 2) + '\n');
        return;
      }
      const r = await adminCall<{ changed: boolean; changes: string[] }>(adminTarget(o), 'POST', '/admin/v1/apply', bundle);
      if (!r.changed) process.stdout.write('no changes\n');
      else for (const c of r.changes) process.stdout.write(`${c}\n`);
    });
}
