import type { Command } from 'commander';
import { loadConfigDir } from '../declarative/load-dir.js';
import { adminCall, adminTarget } from './http-client.js';

export function registerApply(program: Command): void {
  program
    .command('apply')
    .description('load declarative configuration into a running broker (idempotent: applying twice changes nothing)')
    .requiredOption('-f, --file <dir>', 'config directory: tether.yaml, **/*.cedar, *.cedarschema, entities.json')
    .option('--url <url>', 'broker base URL (TETHER_URL, default http://127.0.0.1:8080)')
    .option('--dry-run', "run the broker's own checks (compile, schema, conflicts) and print what would change, changing nothing; exits non-zero on what apply would refuse")
    .addHelpText('after', '\nThe admin token is read from TETHER_ADMIN_TOKEN.\nExample:\n  TETHER_ADMIN_TOKEN=$(cat tether-data/admin-token) tether apply -f examples/quickstart')
    .action(async (o: { file: string; url?: string; dryRun?: boolean }) => {
      const bundle = loadConfigDir(o.file);
      // The dry-run is the server's: the same transaction as a real apply, rolled back at the end.
      const path = o.dryRun ? '/admin/v1/apply?dry_run=true' : '/admin/v1/apply';
      const r = await adminCall<{ changed: boolean; changes: string[] }>(adminTarget(o), 'POST', path, bundle);
      const prefix = o.dryRun ? 'would apply: ' : '';
      if (!r.changed) process.stdout.write(o.dryRun ? 'dry run: no changes\n' : 'no changes\n');
      else for (const c of r.changes) process.stdout.write(`${prefix}${c}\n`);
    });
}
