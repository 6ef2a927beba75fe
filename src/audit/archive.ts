import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { appendBatch } from './append.js';
import { readArchiveAnchor } from './archive-anchor.js';
import { GENESIS_HASH, type AuditRecord } from './chain.js';
import { createChainVerifier, recordBody } from './chain-verifier.js';
import { verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import type { CheckpointVerifyKeys } from './checkpoint-key.js';
import { jsonLines } from './checkpoint-files.js';
import { auditEventSource, listCheckpoints } from './export-sources.js';

/** A sealed segment: events from..to (a JSON Lines file) and the signed checkpoint at `to`. */
export interface Seal {
  from: number;
  to: number;
  prev_hash: string;
  last_hash: string;
  events: number;
  file: string;
  sha256: string;
  checkpoint: Checkpoint;
}

const name = (from: number, to: number) => `audit-${String(from).padStart(12, '0')}-${String(to).padStart(12, '0')}`;

/**
 * Writes the events after the current archive anchor up to the newest signed checkpoint before
 * `before` as one sealed segment, verifying the chain on the way (a broken chain is not archived).
 * With `prune`, deletes exactly those events and moves the archive anchor, in one transaction with
 * an `audit.archived` event: only what a checkpoint covers ever leaves the database.
 */
export async function archiveSegment(store: Store, o: { before: number; outDir: string; prune: boolean; keys: CheckpointVerifyKeys }): Promise<Seal> {
  const start = (await readArchiveAnchor(store)) ?? { seq: 0, hash: GENESIS_HASH };
  const candidates = (await listCheckpoints(store, { upTo: o.before - 1 })).filter((c) => c.seq > start.seq).reverse();
  let cp: Checkpoint | undefined;
  for (const c of candidates) {
    if ((await verifyCheckpoint(c, o.keys)).ok) {
      cp = c;
      break;
    }
  }
  if (!cp) throw new Error(`no valid signed checkpoint between seq ${start.seq + 1} and ${o.before - 1}: nothing can be sealed yet (checkpoints come every N events or T seconds)`);
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const base = name(start.seq + 1, cp.seq);
  const tmp = join(o.outDir, `.${base}.jsonl.partial`);
  const fh = await open(tmp, 'w', 0o600);
  const sha = createHash('sha256');
  const v = createChainVerifier(start, [{ seq: cp.seq, hash: cp.hash, source: `checkpoint signed ${cp.ts}` }]);
  const src = auditEventSource(store);
  let after = start.seq;
  try {
    while (after < cp.seq) {
      const page = (await src.read(after, 5000)).filter((e) => e.seq <= cp.seq);
      if (page.length === 0) break;
      let chunk = '';
      for (const e of page) {
        if (!v.add({ seq: e.seq, body: recordBody(e), prev_hash: e.prev_hash, hash: e.hash })) break;
        chunk += JSON.stringify(e) + '\n';
      }
      if (v.failed()) break;
      sha.update(chunk);
      await fh.write(chunk);
      after = page[page.length - 1]!.seq;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  const b = v.end();
  if (b) throw new Error(`not archived: the chain is broken at seq ${b.seq}: ${b.reason}`);
  const file = `${base}.jsonl`;
  await rename(tmp, join(o.outDir, file));
  await chmod(join(o.outDir, file), 0o400);
  const r = v.result();
  const seal: Seal = { from: start.seq + 1, to: cp.seq, prev_hash: start.hash, last_hash: r.head.hash, events: r.events, file, sha256: sha.digest('hex'), checkpoint: cp };
  const sealPath = join(o.outDir, `${base}.seal.json`);
  const sf = await open(sealPath, 'wx', 0o400);
  await sf.writeFile(JSON.stringify(seal, null, 2) + '\n');
  await sf.sync();
  await sf.close();

  if (o.prune) {
    await store.tx(async (q) => {
      const moved = await readArchiveAnchor(q);
      if ((moved?.seq ?? 0) !== start.seq) throw new Error('another archive run pruned meanwhile; nothing deleted');
      await q.query('DELETE FROM audit_events WHERE seq > $1 AND seq <= $2', [start.seq, cp.seq]);
      await q.query(
        `INSERT INTO audit_anchor (id, seq, hash, archived_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, archived_at = EXCLUDED.archived_at`,
        [cp.seq, cp.hash, new Date().toISOString()],
      );
      await appendBatch(q, [{ type: 'audit.archived', actor: 'operator', data: { from: seal.from, to: seal.to, last_hash: seal.last_hash, sha256: seal.sha256, pruned: true } }], new Date());
    });
  }
  return seal;
}

export interface ArchiveCheck {
  ok: boolean;
  segments: number;
  events: number;
  end: { seq: number; hash: string };
  broken?: { seq: number; reason: string };
}

/** Verifies sealed segments from genesis, each against its signed checkpoint; returns where they end. */
export async function verifyArchives(dir: string, keys: CheckpointVerifyKeys): Promise<ArchiveCheck> {
  const seals = (await readdir(dir)).filter((n) => n.endsWith('.seal.json')).sort();
  let end = { seq: 0, hash: GENESIS_HASH };
  let events = 0;
  const fail = (seq: number, reason: string, segments: number): ArchiveCheck => ({ ok: false, segments, events, end, broken: { seq, reason } });
  for (const [i, s] of seals.entries()) {
    const seal = JSON.parse(await readFile(join(dir, s), 'utf8')) as Seal;
    const cv = await verifyCheckpoint(seal.checkpoint, keys);
    if (!cv.ok) return fail(seal.to, `${s}: its checkpoint: ${cv.reason}`, i);
    if (seal.from !== end.seq + 1) return fail(end.seq + 1, `${s} starts at seq ${seal.from}: events ${end.seq + 1}..${seal.from - 1} are in no archive`, i);
    const v = createChainVerifier(end, [{ seq: cv.checkpoint.seq, hash: cv.checkpoint.hash, source: `checkpoint sealing ${s}` }]);
    const sha = createHash('sha256');
    for await (const chunk of createReadStream(join(dir, seal.file))) sha.update(chunk as Buffer);
    for await (const { value } of jsonLines(join(dir, seal.file))) {
      const e = value as AuditRecord;
      if (!v.add({ seq: e.seq, body: recordBody(e), prev_hash: e.prev_hash, hash: e.hash })) break;
    }
    const b = v.end();
    if (b) return fail(b.seq, `${seal.file}: ${b.reason}`, i);
    const r = v.result();
    if (r.head.seq !== cv.checkpoint.seq) return fail(r.head.seq + 1, `${seal.file} runs past its checkpoint (seq ${cv.checkpoint.seq})`, i);
    if (sha.digest('hex') !== seal.sha256) return fail(seal.from, `${seal.file}: its SHA-256 differs from the seal`, i);
    events += r.events;
    end = r.head;
  }
  return { ok: true, segments: seals.length, events, end };
}
