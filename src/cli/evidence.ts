/**
 * `tether evidence --out DIR`: what an auditor takes away and re-checks offline.
 *
 *   posture.json, posture.html   the posture report
 *   audit.jsonl                  every audit event up to the verified head, as stored (hash-chained)
 *   audit.ocsf.jsonl             the same events as OCSF 1.3, each carrying its seq and hashes
 *   chain-head.json              the broker's verification (verifyChain) and our recomputation of
 *                                the exported chain: the last exported hash must equal the head;
 *                                and the `tether audit verify` command an auditor runs on this bundle
 *   checkpoints.jsonl            the signed checkpoints (JWS, Ed25519) of the chain
 *   audit-public-key.json        the checkpoint public key as the broker publishes it (an auditor
 *                                compares it with the key they pinned from /.well-known/tether-audit-keys)
 *
 * Everything comes through the admin API of a running broker (--url). With --data-dir or
 * --database-url the audit log is read and verified straight from the store instead (an offline
 * broker, or an auditor who does not trust the API), and without --url the report is computed there.
 * Events are exported only up to the head that was verified, so the two always describe one chain.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { GENESIS_HASH, iterateAuditEvents, verifyChain, type AuditRecord, type VerifyResult } from '../audit/index.js';
import { CHECKPOINT_KEYS_PATH } from '../audit/anchor-routes.js';
import { createChainVerifier, recordBody } from '../audit/chain-verifier.js';
import type { Checkpoint } from '../audit/checkpoint.js';
import { checkpointJwks, deriveCheckpointKey } from '../audit/checkpoint-key.js';
import { listCheckpoints } from '../audit/export-sources.js';
import { resolveMasterKey } from '../tokens/key-store.js';
import { toOcsf } from '../audit/ocsf.js';
import { analyzePosture } from '../posture/analyze.js';
import { renderPostureHtml } from '../posture/report-html.js';
import type { Store } from '../store/index.js';
import { adminCall, adminTarget, type AdminTarget } from './http-client.js';
import { fetchPosture } from './report.js';
import { openStoreFromOptions, withStoreOptions } from './store-options.js';

const PAGE = 10_000;

interface Source {
  verify(): Promise<VerifyResult>;
  events(upTo: number): AsyncIterable<AuditRecord>;
  checkpoints(): Promise<Checkpoint[]>;
  publicKey(): Promise<unknown>;
}

function apiSource(t: AdminTarget): Source {
  return {
    verify: () => adminCall<VerifyResult & Record<string, unknown>>(t, 'GET', '/admin/v1/audit/verify'),
    async checkpoints() {
      const out: Checkpoint[] = [];
      for (let after = 0; ; ) {
        const page = await adminCall<{ checkpoints: Checkpoint[] }>(t, 'GET', `/admin/v1/audit/checkpoints?after=${after}&limit=${PAGE}`);
        out.push(...page.checkpoints);
        if (page.checkpoints.length < PAGE) return out;
        after = page.checkpoints[page.checkpoints.length - 1]!.seq;
      }
    },
    async publicKey() {
      const res = await fetch(t.url + CHECKPOINT_KEYS_PATH);
      return res.ok ? res.json() : null;
    },
    async *events(upTo) {
      let after = 0;
      while (after < upTo) {
        const page = await adminCall<{ events: AuditRecord[] }>(t, 'GET', `/admin/v1/audit?after=${after}&limit=${PAGE}`);
        for (const e of page.events) if (e.seq <= upTo) yield e;
        if (page.events.length < PAGE) return;
        after = page.events[page.events.length - 1]!.seq;
      }
    },
  };
}

function storeSource(store: Store, dataDir: string): Source {
  return {
    verify: () => verifyChain(store),
    checkpoints: () => listCheckpoints(store),
    async publicKey() {
      try {
        return checkpointJwks(await deriveCheckpointKey(resolveMasterKey(process.env.TETHER_MASTER_KEY || undefined, dataDir).key));
      } catch {
        return null; // no master key here: the auditor takes the key from the broker's published URL
      }
    },
    async *events(upTo) {
      for await (const e of iterateAuditEvents(store, {})) {
        if (e.seq > upTo) return;
        yield e;
      }
    },
  };
}

/** Recomputes the chain of what we export, exactly as `tether audit verify` does on the table. */
function createExportCheck(start: { seq: number; hash: string }) {
  const v = createChainVerifier(start);
  return {
    add: (e: AuditRecord) => v.add({ seq: e.seq, body: recordBody(e), prev_hash: e.prev_hash, hash: e.hash }),
    result: () => {
      const r = v.result();
      return { ok: r.ok, events: r.events, last_hash: r.head.hash, ...(r.broken ? { broken: r.broken } : {}) };
    },
  };
}

async function close(out: NodeJS.WritableStream): Promise<void> {
  out.end();
  await once(out, 'finish');
}

export function registerEvidence(program: Command): void {
  withStoreOptions(program.command('evidence'))
    .description('write an evidence bundle an auditor can re-verify offline: report, audit export (JSON Lines + OCSF), chain head')
    .requiredOption('--out <dir>', 'directory to write into (created if missing)')
    .option('--url <url>', 'broker URL (or TETHER_URL); admin token from TETHER_ADMIN_TOKEN')
    .option('--window <duration>', 'ISO-8601 window of the report, e.g. P30D')
    .action(async (o: { out: string; url?: string; dataDir?: string; databaseUrl?: string; window?: string }) => {
      const direct = o.dataDir !== undefined || o.databaseUrl !== undefined;
      if (!o.url && !direct && !process.env.TETHER_URL) throw new Error('give --url (a running broker) or --data-dir / --database-url (its store)');
      await mkdir(o.out, { recursive: true, mode: 0o700 });
      const target = o.url || !direct ? adminTarget({ ...(o.url ? { url: o.url } : {}) }) : null;
      const store = direct ? await openStoreFromOptions(o) : null;
      try {
        // 1. The report.
        if (target) {
          const q = { window: o.window };
          await writeFile(join(o.out, 'posture.json'), JSON.stringify(JSON.parse(await fetchPosture(target, 'json', q)), null, 2) + '\n', { mode: 0o600 });
          await writeFile(join(o.out, 'posture.html'), await fetchPosture(target, 'html', q), { mode: 0o600 });
        } else {
          const report = await analyzePosture(store!, o.window ? { window: o.window } : {});
          await writeFile(join(o.out, 'posture.json'), JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
          await writeFile(join(o.out, 'posture.html'), renderPostureHtml(report), { mode: 0o600 });
        }

        // 2. Verify first, then export up to the verified head: one chain in both files.
        const source = store ? storeSource(store, o.dataDir ?? process.env.TETHER_DATA_DIR ?? './tether-data') : apiSource(target!);
        const verification = await source.verify();
        const upTo = verification.head.seq;
        // After archive --prune the stored chain starts at the archive anchor, not at genesis.
        const start = verification.start ?? { seq: 0, hash: GENESIS_HASH };
        const check = createExportCheck(start);
        const jsonl = createWriteStream(join(o.out, 'audit.jsonl'), { mode: 0o600 });
        const ocsf = createWriteStream(join(o.out, 'audit.ocsf.jsonl'), { mode: 0o600 });
        for await (const e of source.events(upTo)) {
          check.add(e);
          const a = jsonl.write(JSON.stringify(e) + '\n');
          const b = ocsf.write(JSON.stringify(toOcsf(e)) + '\n');
          if (!a) await once(jsonl, 'drain');
          if (!b) await once(ocsf, 'drain');
        }
        await Promise.all([close(jsonl), close(ocsf)]);
        const exported = check.result();
        // Only those the export reaches: a checkpoint signed after the verified head would read as a cut tail.
        const checkpoints = (await source.checkpoints()).filter((c) => c.seq <= upTo);
        await writeFile(join(o.out, 'checkpoints.jsonl'), checkpoints.map((c) => JSON.stringify(c) + '\n').join(''), { mode: 0o600 });
        const publicKey = await source.publicKey();
        if (publicKey) await writeFile(join(o.out, 'audit-public-key.json'), JSON.stringify(publicKey, null, 2) + '\n', { mode: 0o600 });

        // 3. The chain head an auditor compares against.
        const head = {
          generated_at: new Date().toISOString(),
          source: store ? `store (${store.kind})` : target!.url,
          verification,
          export: { ...exported, matches_head: exported.ok && exported.events === upTo - start.seq && exported.last_hash === verification.head.hash },
          checkpoints: { count: checkpoints.length, latest: checkpoints[checkpoints.length - 1] ?? null },
          verify_command:
            start.seq > 0
              ? 'events before the archive anchor are in the archives: tether audit verify --archive ARCHIVE_DIR --checkpoint checkpoints.jsonl --public-key PINNED_KEY --database-url ...'
              : 'tether audit verify --events audit.jsonl --checkpoint checkpoints.jsonl --public-key audit-public-key.json   # compare the key with the one you pinned from ' +
                CHECKPOINT_KEYS_PATH,
          how_to_reverify:
            'For each line of audit.jsonl in order: body = {seq, ts, type, actor, identity, data}; ' +
            'hash = SHA-256(prev_hash || RFC 8785 canonical JSON of body), hex; prev_hash of seq 1 is 64 zeros; ' +
            'each prev_hash equals the previous hash; the last hash equals verification.head.hash.',
        };
        await writeFile(join(o.out, 'chain-head.json'), JSON.stringify(head, null, 2) + '\n', { mode: 0o600 });
        process.stdout.write(
          `evidence written to ${o.out}: ${exported.events} events, chain ${verification.ok && head.export.matches_head ? 'verified' : 'NOT verified'} (head seq ${verification.head.seq})\n`,
        );
        process.exitCode = verification.ok && head.export.matches_head ? 0 : 1;
      } finally {
        await store?.close();
      }
    });
}
