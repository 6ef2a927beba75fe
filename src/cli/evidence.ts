/**
 * `tether evidence --out DIR`: what an auditor takes away and re-checks offline.
 *
 *   posture.json, posture.html   the posture report
 *   audit.jsonl                  every audit event up to the verified head, as stored (hash-chained)
 *   audit.ocsf.jsonl             the same events as OCSF 1.3, each carrying its seq and hashes
 *   chain-head.json              the broker's verification (verifyChain) and our recomputation of
 *                                the exported chain: the last exported hash must equal the head
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
import { canonicalJson, chainHash, GENESIS_HASH, iterateAuditEvents, verifyChain, type AuditRecord, type VerifyResult } from '../audit/index.js';
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
}

function apiSource(t: AdminTarget): Source {
  return {
    verify: () => adminCall<VerifyResult & Record<string, unknown>>(t, 'GET', '/admin/v1/audit/verify'),
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

function storeSource(store: Store): Source {
  return {
    verify: () => verifyChain(store),
    async *events(upTo) {
      for await (const e of iterateAuditEvents(store, {})) {
        if (e.seq > upTo) return;
        yield e;
      }
    },
  };
}

/** Recomputes the chain of what we export, exactly as `tether audit verify` does on the table. */
function createExportCheck() {
  let prev = GENESIS_HASH;
  let expect = 1;
  let broken: { seq: number; reason: string } | null = null;
  return {
    add(e: AuditRecord) {
      if (broken) return;
      const body = { seq: e.seq, ts: e.ts, type: e.type, actor: e.actor, identity: e.identity, data: e.data };
      if (e.seq !== expect) broken = { seq: expect, reason: `event ${expect} is missing from the export` };
      else if (e.prev_hash !== prev) broken = { seq: e.seq, reason: 'prev_hash does not link to the previous event' };
      else if (chainHash(prev, canonicalJson(body)) !== e.hash) broken = { seq: e.seq, reason: 'hash does not match the event' };
      else {
        prev = e.hash;
        expect += 1;
      }
    },
    result: () => ({ ok: broken === null, events: expect - 1, last_hash: prev, ...(broken ? { broken } : {}) }),
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
        const source = store ? storeSource(store) : apiSource(target!);
        const verification = await source.verify();
        const upTo = verification.head.seq;
        const check = createExportCheck();
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

        // 3. The chain head an auditor compares against.
        const head = {
          generated_at: new Date().toISOString(),
          source: store ? `store (${store.kind})` : target!.url,
          verification,
          export: { ...exported, matches_head: exported.ok && exported.events === upTo && exported.last_hash === verification.head.hash },
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
