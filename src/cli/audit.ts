import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { iterateAuditEvents, verifyChain } from '../audit/index.js';
import { openStoreFromOptions, withStoreOptions } from './store-options.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify and export the tamper-evident audit log');

  withStoreOptions(audit.command('verify'))
    .description('recompute the hash chain offline; exit 0 when intact, 1 naming the first broken seq')
    .option('--json', 'print the result as JSON')
    .action(async (o: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
      const store = await openStoreFromOptions(o);
      try {
        const r = await verifyChain(store);
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
        else if (r.ok) process.stdout.write(`audit chain intact: ${r.events} events, head seq ${r.head.seq} hash ${r.head.hash}\n`);
        else process.stdout.write(`audit chain BROKEN at seq ${r.broken!.seq}: ${r.broken!.reason} (${r.events} events verified before it)\n`);
        process.exitCode = r.ok ? 0 : 1;
      } finally {
        await store.close();
      }
    });

  withStoreOptions(audit.command('export'))
    .description('write the audit log as JSON Lines (or OCSF events with --format ocsf)')
    .option('--format <format>', 'jsonl | ocsf', 'jsonl')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--after <seq>', 'only events after this seq', '0')
    .action(async (o: { dataDir?: string; databaseUrl?: string; format: string; out?: string; after: string }) => {
      if (!['jsonl', 'ocsf'].includes(o.format)) throw new Error(`unknown --format ${o.format} (jsonl or ocsf)`);
      const store = await openStoreFromOptions(o);
      const out = o.out ? createWriteStream(o.out, { mode: 0o600 }) : process.stdout;
      const { toOcsf } = await import('../audit/ocsf.js');
      try {
        for await (const e of iterateAuditEvents(store, { after: Number(o.after) || 0 })) {
          const line = JSON.stringify(o.format === 'ocsf' ? toOcsf(e) : e) + '\n';
          if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
      } finally {
        if (o.out) await new Promise<void>((r) => (out as NodeJS.WritableStream).end(() => r()));
        await store.close();
      }
    });
}
