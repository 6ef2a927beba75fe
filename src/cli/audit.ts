import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { iterateAuditEvents, verifyChain, GENESIS_HASH, type AuditRecord, type VerifyResult } from '../audit/index.js';
import { archiveSegment, verifyArchives } from '../audit/archive.js';
import { createChainVerifier, recordBody, type ChainAnchor } from '../audit/chain-verifier.js';
import { deriveCheckpointKey, checkpointJwks } from '../audit/checkpoint-key.js';
import { jsonLines, loadCheckpoints } from '../audit/checkpoint-files.js';
import { resolvePublicKeys } from '../audit/public-key-source.js';
import { CHECKPOINT_KEYS_PATH } from '../audit/anchor-routes.js';
import { resolveMasterKey } from '../tokens/key-store.js';
import { openStoreFromOptions, withStoreOptions } from './store-options.js';

type StoreOpts = { dataDir?: string; databaseUrl?: string };

const dataDirOf = (o: StoreOpts) => o.dataDir ?? process.env.TETHER_DATA_DIR ?? './tether-data';

/** The local master key (TETHER_MASTER_KEY, else <data-dir>/master-key), or null when there is none. */
function localMasterKey(o: StoreOpts): Buffer | null {
  try {
    return resolveMasterKey(process.env.TETHER_MASTER_KEY || undefined, dataDirOf(o)).key;
  } catch {
    return null;
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Verifies an exported JSON Lines file (evidence bundle, a sink's files) instead of the database. */
async function verifyEventsFile(path: string, anchors: readonly ChainAnchor[]): Promise<VerifyResult> {
  const start = { seq: 0, hash: GENESIS_HASH };
  const v = createChainVerifier(start, anchors);
  for await (const { value } of jsonLines(path)) {
    const e = value as AuditRecord;
    if (!v.add({ seq: e.seq, body: recordBody(e), prev_hash: e.prev_hash, hash: e.hash })) break;
  }
  v.end();
  const r = v.result();
  return { ok: r.ok, events: r.events, head: r.head, start, anchorsMatched: r.anchorsMatched, ...(r.broken ? { broken: r.broken } : {}) };
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify, anchor, archive and export the tamper-evident audit log');

  withStoreOptions(audit.command('verify'))
    .description('recompute the hash chain offline; exit 0 when intact, 1 naming the first broken seq')
    .option('--checkpoint <file|dir>', 'signed checkpoints kept outside the database (repeatable): the chain must reach each with exactly its hash', collect)
    .option('--public-key <key>', 'checkpoint public key: file or text (JWK, JWK Set, PEM) or its URL; default: derived from the local master key')
    .option('--archive <dir>', 'sealed segments written by `tether audit archive`: verify them first, then the database from where they end')
    .option('--events <file>', 'verify an exported JSON Lines file (evidence bundle) instead of the database')
    .option('--json', 'print the result as JSON')
    .action(async (o: StoreOpts & { checkpoint?: string[]; publicKey?: string; archive?: string; events?: string; json?: boolean }) => {
      const needKeys = Boolean(o.checkpoint?.length || o.archive);
      const pk = needKeys ? await resolvePublicKeys(o.publicKey, () => localMasterKey(o)) : null;
      const cps = o.checkpoint?.length ? await loadCheckpoints(o.checkpoint, pk!.keys) : null;
      const anchors = cps?.anchors ?? [];
      let r: VerifyResult & { archive?: { segments: number; events: number } };
      if (o.events) r = await verifyEventsFile(o.events, anchors);
      else {
        const arch = o.archive ? await verifyArchives(o.archive, pk!.keys) : null;
        if (arch && !arch.ok) r = { ok: false, events: arch.events, head: arch.end, broken: arch.broken!, archive: { segments: arch.segments, events: arch.events } };
        else {
          const store = await openStoreFromOptions(o);
          try {
            r = await verifyChain(store, { anchors, ...(arch ? { start: arch.end } : {}) });
            if (arch) r = { ...r, events: r.events + arch.events, archive: { segments: arch.segments, events: arch.events } };
          } finally {
            await store.close();
          }
        }
      }
      // A forged or foreign checkpoint fails verification even when the chain is fine.
      const badCp = cps?.invalid[0];
      if (badCp && r.ok) r = { ...r, ok: false, broken: { seq: 0, reason: `checkpoint ${badCp.where}: ${badCp.reason}` } };
      const latest = anchors[anchors.length - 1];
      const out = { ...r, checkpoints: cps ? { files: cps.files, valid: anchors.length, invalid: cps.invalid, public_key: pk!.source } : null };
      if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
      else if (!r.ok) {
        process.stdout.write(`audit chain BROKEN at seq ${r.broken!.seq}: ${r.broken!.reason} (${r.events} events verified before it)\n`);
      } else {
        const from = r.start && r.start.seq > 0 && !r.archive ? ` from the archive anchor at seq ${r.start.seq}` : '';
        process.stdout.write(`audit chain intact: ${r.events} events${from}, head seq ${r.head.seq} hash ${r.head.hash}\n`);
        if (r.archive) process.stdout.write(`archives: ${r.archive.segments} sealed segments, ${r.archive.events} events, each verified against its signed checkpoint\n`);
        else if (from) process.stdout.write(`note: events up to seq ${r.start!.seq} were archived and pruned; pass --archive DIR to verify them too\n`);
        if (cps) {
          process.stdout.write(`anchored: ${anchors.length} signed checkpoints verified (public key ${pk!.source})${latest ? `, latest at seq ${latest.seq}` : ''}\n`);
          if (latest && latest.seq < r.head.seq) process.stdout.write(`note: events after seq ${latest.seq} are not covered by a checkpoint yet\n`);
        } else {
          process.stdout.write(
            'note: without --checkpoint this proves internal consistency only: whoever can write the database could rewrite it consistently or cut its tail. ' +
              'Pass --checkpoint DIR with the signed checkpoints kept outside the database.\n',
          );
        }
      }
      process.exitCode = r.ok ? 0 : 1;
    });

  withStoreOptions(audit.command('public-key'))
    .description(`print the checkpoint public key (JWK Set), derived from TETHER_MASTER_KEY or <data-dir>/master-key, or fetched from --url${CHECKPOINT_KEYS_PATH}`)
    .option('--url <url>', 'a running broker (reads its published key instead)')
    .action(async (o: StoreOpts & { url?: string }) => {
      if (o.url) {
        const res = await fetch(o.url.replace(/\/+$/, '') + CHECKPOINT_KEYS_PATH);
        if (!res.ok) throw new Error(`${o.url} answered ${res.status}`);
        process.stdout.write(JSON.stringify(await res.json(), null, 2) + '\n');
        return;
      }
      const mk = localMasterKey(o);
      if (!mk) throw new Error('no TETHER_MASTER_KEY and no <data-dir>/master-key: give --url or the data dir');
      process.stdout.write(JSON.stringify(checkpointJwks(await deriveCheckpointKey(mk)), null, 2) + '\n');
    });

  withStoreOptions(audit.command('archive'))
    .description('write the events before SEQ (up to the newest signed checkpoint) as a sealed segment; --prune then deletes them from the database')
    .requiredOption('--before <seq>', 'archive events with a lower seq')
    .requiredOption('--out <dir>', 'directory for the sealed segments')
    .option('--prune', 'delete the archived events from the database (only what a checkpoint covers)')
    .option('--public-key <key>', 'key to check the sealing checkpoint with; default: derived from the local master key')
    .action(async (o: StoreOpts & { before: string; out: string; prune?: boolean; publicKey?: string }) => {
      const before = Number(o.before);
      if (!Number.isSafeInteger(before) || before < 2) throw new Error('--before must be a seq (an integer > 1)');
      const pk = await resolvePublicKeys(o.publicKey, () => localMasterKey(o));
      const store = await openStoreFromOptions(o);
      try {
        const seal = await archiveSegment(store, { before, outDir: o.out, prune: Boolean(o.prune), keys: pk.keys });
        process.stdout.write(
          `sealed ${seal.events} events (seq ${seal.from}..${seal.to}) into ${o.out}/${seal.file} with the checkpoint signed ${seal.checkpoint.ts}` +
            `${o.prune ? '; pruned from the database' : ''}\n`,
        );
      } finally {
        await store.close();
      }
    });

  withStoreOptions(audit.command('export'))
    .description('write the audit log as JSON Lines (or OCSF events with --format ocsf)')
    .option('--format <format>', 'jsonl | ocsf', 'jsonl')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--after <seq>', 'only events after this seq', '0')
    .action(async (o: StoreOpts & { format: string; out?: string; after: string }) => {
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
