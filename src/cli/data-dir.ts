import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded data dir holds the audit log, break-glass justifications in PGlite's WAL and maybe
 * generated secrets: it is for this user only, whatever the secrets' source. Sets the process umask
 * to 077 (files created from now on are 0600, directories 0700) and creates or narrows the dir to 0700.
 */
export function restrictDataDir(dir: string): void {
  process.umask(0o077);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * PGlite sets modes itself when it lays out a new database (0666 files): after opening, take group
 * and other bits off everything under the data dir. Symlinks are left alone (never followed).
 */
export function tightenTree(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return;
  if ((st.mode & 0o077) !== 0) chmodSync(dir, st.mode & 0o700);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(dir)) tightenTree(join(dir, name));
}
