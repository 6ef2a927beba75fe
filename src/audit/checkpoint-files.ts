import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChainAnchor } from './chain-verifier.js';
import { verifyCheckpoint } from './checkpoint.js';
import type { CheckpointVerifyKeys } from './checkpoint-key.js';

/** Streams the JSON lines of a file (archives, exports, checkpoint files), with line numbers. */
export async function* jsonLines(path: string): AsyncGenerator<{ line: number; value: unknown }> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = { unparsable: text.slice(0, 80) };
    }
    yield { line: n, value };
  }
}

export interface LoadedCheckpoints {
  anchors: ChainAnchor[];
  /** Records that failed: a bad signature is a failed verification, never skipped silently. */
  invalid: Array<{ where: string; reason: string }>;
  files: number;
}

const CHECKPOINT_FILE = /\.(jsonl|json)$/;

/**
 * Reads signed checkpoints from files or directories (checkpoints-*.jsonl from --checkpoint-dir,
 * checkpoints.jsonl of an evidence bundle, *.seal.json of archive segments), verifies each
 * signature, and returns them as anchors. Two valid checkpoints that sign different hashes for one
 * seq are reported: only a holder of the master key could have made both.
 */
export async function loadCheckpoints(paths: readonly string[], keys: CheckpointVerifyKeys): Promise<LoadedCheckpoints> {
  const files: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) files.push(...(await readdir(p)).filter((n) => CHECKPOINT_FILE.test(n)).sort().map((n) => join(p, n)));
    else files.push(p);
  }
  const bySeq = new Map<number, ChainAnchor>();
  const invalid: LoadedCheckpoints['invalid'] = [];
  const add = async (where: string, record: unknown) => {
    const r = (record as { checkpoint?: unknown }).checkpoint ?? record; // a seal or a GET /audit/checkpoint answer holds one
    const v = await verifyCheckpoint(r, keys);
    if (!v.ok) return invalid.push({ where, reason: v.reason });
    const c = v.checkpoint;
    const seen = bySeq.get(c.seq);
    if (seen && seen.hash !== c.hash) return invalid.push({ where, reason: `a second signed checkpoint for seq ${c.seq} names another hash (${seen.source})` });
    bySeq.set(c.seq, { seq: c.seq, hash: c.hash, source: `checkpoint signed ${c.ts} by ${c.instance} (${where})` });
  };
  for (const f of files) {
    if (f.endsWith('.jsonl')) for await (const { line, value } of jsonLines(f)) await add(`${f}:${line}`, value);
    else {
      let value: unknown;
      try {
        value = JSON.parse(await readFile(f, 'utf8'));
      } catch {
        invalid.push({ where: f, reason: 'not JSON' });
        continue;
      }
      await add(f, value);
    }
  }
  return { anchors: [...bySeq.values()].sort((a, b) => a.seq - b.seq), invalid, files: files.length };
}
