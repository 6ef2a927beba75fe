/**
 * `tether simulate --url URL [--peer-url URL] [--json]`: runs the detection scenario simulator against a broker
 * (admin token from TETHER_ADMIN_TOKEN). `--json` prints exactly one JSON object on stdout
 * ({scenarios, precision, recall, false_positives, harm, containment}); progress goes to stderr.
 */
import type { Command } from 'commander';
import { formatReport, runSimulation } from '../simulate/index.js';
import { adminTarget } from './http-client.js';

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('drive benign traffic and labelled attacks through a broker and report what detection caught')
    .option('--url <url>', 'broker URL (or TETHER_URL); admin token from TETHER_ADMIN_TOKEN')
    .option('--peer-url <url>', 'a second instance of the same cluster: cluster scenarios spread over both')
    .option('--json', 'print the report as one JSON object')
    .option('--timeout-ms <ms>', 'how long to wait for each attack\'s finding', '5000')
    .action(async (o: { url?: string; peerUrl?: string; json?: boolean; timeoutMs: string }) => {
      const t = adminTarget({ ...(o.url ? { url: o.url } : {}) });
      const timeoutMs = Number(o.timeoutMs);
      if (!Number.isFinite(timeoutMs) || timeoutMs < 100) throw new Error('--timeout-ms must be a number >= 100');
      const report = await runSimulation({
        url: t.url,
        peerUrl: o.peerUrl,
        adminToken: t.token,
        pdpToken: process.env.TETHER_PDP_TOKEN || undefined,
        timeoutMs,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : `${formatReport(report)}\n`);
    });
}
