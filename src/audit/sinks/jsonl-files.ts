import { mkdir, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExportSink, Sequenced } from '../export-runner.js';

export interface JsonlFilesOptions<T> {
  dir: string;
  line(item: T): string;
  /** Start a new file once the current one reaches this size. */
  rotateBytes?: number;
}

const FILE = /^audit-(\d{12,})\.jsonl$/;
const fileFor = (seq: number) => `audit-${String(seq).padStart(12, '0')}.jsonl`;

/**
 * JSON Lines files named after the first seq they hold, so a directory listing sorts in chain order.
 * Each batch is appended and fsync'ed before the cursor moves: what the cursor says was delivered is
 * on disk. After a crash between the two, the batch is appended again (duplicates share a seq).
 */
export function createJsonlFilesSink<T extends Sequenced>(o: JsonlFilesOptions<T>): ExportSink<T> {
  const rotateBytes = o.rotateBytes ?? 100 * 1024 * 1024;
  let fh: FileHandle | null = null;
  let size = 0;

  const openLatest = async (firstSeq: number) => {
    await mkdir(o.dir, { recursive: true, mode: 0o700 });
    const names = (await readdir(o.dir)).filter((n) => FILE.test(n)).sort();
    const last = names[names.length - 1];
    const lastSize = last ? (await stat(join(o.dir, last))).size : Infinity;
    const name = last && lastSize < rotateBytes ? last : fileFor(firstSeq);
    fh = await open(join(o.dir, name), 'a', 0o600);
    size = (await fh.stat()).size;
  };

  return {
    name: `jsonl:${o.dir}`,
    async send(items) {
      if (!fh) await openLatest(items[0]!.seq);
      else if (size >= rotateBytes) {
        await fh.close();
        fh = await open(join(o.dir, fileFor(items[0]!.seq)), 'a', 0o600);
        size = 0;
      }
      const buf = Buffer.from(items.map((i) => o.line(i) + '\n').join(''), 'utf8');
      try {
        await fh!.write(buf);
        await fh!.sync();
      } catch (e) {
        // Reopen on the next attempt: a partial line may precede the retried batch, which a reader skips.
        await fh?.close().catch(() => {});
        fh = null;
        throw e;
      }
      size += buf.length;
    },
    async close() {
      await fh?.close();
      fh = null;
    },
  };
}
