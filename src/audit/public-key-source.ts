import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deriveCheckpointKey, parseCheckpointPublicKeys, type CheckpointVerifyKeys } from './checkpoint-key.js';

/**
 * The key checkpoints are verified with, as an auditor names it: a file (JWK, JWK Set or PEM), the
 * text itself, or the broker's published URL. Without one, the key is derived from the local master
 * key, which proves only that this installation signed them: an auditor passes the key they pinned.
 */
export async function resolvePublicKeys(k: string | undefined, localMasterKey: () => Buffer | null): Promise<{ keys: CheckpointVerifyKeys; source: string }> {
  if (k === undefined) {
    const mk = localMasterKey();
    if (!mk) throw new Error('no --public-key and no TETHER_MASTER_KEY / <data-dir>/master-key to derive it from');
    const key = await deriveCheckpointKey(mk);
    return { keys: new Map([[key.kid, createPublicKey(key.privateKey)]]), source: 'derived from the local master key' };
  }
  if (/^https?:\/\//.test(k)) {
    const res = await fetch(k, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`${k} answered ${res.status}`);
    return { keys: await parseCheckpointPublicKeys(await res.text()), source: k };
  }
  const t = k.trim();
  if (t.startsWith('{') || t.startsWith('-----BEGIN')) return { keys: await parseCheckpointPublicKeys(t), source: 'given inline' };
  return { keys: await parseCheckpointPublicKeys(await readFile(k, 'utf8')), source: k };
}
