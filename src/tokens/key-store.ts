import { join } from 'node:path';
import type { AuditWriter } from '../audit/index.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../revocation/index.js';
import { readOrCreateSecret } from '../config/secret-files.js';
import { notifyChange, type Queryable, type Store } from '../store/index.js';
import { createKeyRing, type KeyRing, type StoredSigningKey } from './key-ring.js';
import { parseMasterKey, sealPrivateKey } from './key-seal.js';
import { generateSigningKey, type SigningAlgorithm } from './signing-keys.js';
import type { Clock } from '../clock.js';

/** TETHER_MASTER_KEY, or a generated key file (0600) in the data dir for single-node use. */
export function resolveMasterKey(configured: string | undefined, dataDir: string): { key: Buffer; source: 'env' | 'file'; created: boolean } {
  if (configured) return { key: parseMasterKey(configured), source: 'env', created: false };
  const s = readOrCreateSecret(join(dataDir, 'master-key'), 32);
  return { key: parseMasterKey(s.value), source: 'file', created: s.created };
}

interface KeyRow {
  kid: string;
  alg: SigningAlgorithm;
  public_jwk: StoredSigningKey['publicJwk'];
  sealed: string;
  created_at: Date;
  retired_at: Date | null;
}

const toStored = (r: KeyRow): StoredSigningKey => ({
  kid: r.kid,
  alg: r.alg,
  publicJwk: r.public_jwk,
  sealed: r.sealed,
  createdAt: Math.floor(new Date(r.created_at).getTime() / 1000),
  retiredAt: r.retired_at ? Math.floor(new Date(r.retired_at).getTime() / 1000) : null,
});

async function insertKey(q: Queryable, masterKey: Buffer, alg: SigningAlgorithm, now: Date): Promise<string> {
  const k = await generateSigningKey(alg);
  await q.query('INSERT INTO signing_keys (kid, alg, public_jwk, sealed, created_at) VALUES ($1, $2, $3, $4, $5)', [
    k.kid,
    alg,
    JSON.stringify(k.publicJwk),
    await sealPrivateKey(k.privateJwk, masterKey),
    now,
  ]);
  return k.kid;
}

/**
 * Signing keys live in the store, private halves sealed with the master key, so every instance of a
 * cluster signs with the same keys. The ring is rebuilt on the `keys` notification.
 */
export function createKeyStore(deps: { store: Store; audit: Pick<AuditWriter, 'transact'>; masterKey: Buffer; clock: Clock; alg?: SigningAlgorithm }) {
  const { store, masterKey, clock } = deps;
  let ring: KeyRing | null = null;

  const load = async (): Promise<KeyRing> => {
    let rows = (await store.query<KeyRow>('SELECT kid, alg, public_jwk, sealed, created_at, retired_at FROM signing_keys ORDER BY created_at')).rows;
    if (!rows.some((r) => !r.retired_at)) {
      // First start (or every key retired): make one, once across concurrent starters.
      await deps.audit.transact(async (q, emit) => {
        await q.query('SELECT pg_advisory_xact_lock(7356002)');
        const again = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM signing_keys WHERE retired_at IS NULL');
        if ((again.rows[0]?.n ?? 0) > 0) return;
        const kid = await insertKey(q, masterKey, deps.alg ?? 'EdDSA', clock());
        emit({ type: 'keys.created', actor: 'system', data: { kid, alg: deps.alg ?? 'EdDSA' } });
        await notifyChange(q, { kind: 'keys' });
      });
      rows = (await store.query<KeyRow>('SELECT kid, alg, public_jwk, sealed, created_at, retired_at FROM signing_keys ORDER BY created_at')).rows;
    }
    ring = await createKeyRing(rows.map(toStored), {
      masterKey,
      clock,
      maxTokenLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    });
    return ring;
  };

  return {
    load,
    ring(): KeyRing {
      if (!ring) throw new Error('signing keys not loaded');
      return ring;
    },
    /** New key signs from now on; the old ones stay in the JWKS until their tokens have expired. */
    async rotate(actor: string, alg?: SigningAlgorithm): Promise<{ kid: string; retired: string[] }> {
      const out = await deps.audit.transact(async (q, emit) => {
        const now = clock();
        const old = await q.query<{ kid: string }>('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL RETURNING kid', [now]);
        const kid = await insertKey(q, masterKey, alg ?? deps.alg ?? 'EdDSA', now);
        const retired = old.rows.map((r) => r.kid);
        emit({ type: 'keys.rotated', actor, data: { kid, retired } });
        await notifyChange(q, { kind: 'keys' });
        return { kid, retired };
      });
      await load();
      return out;
    },
  };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
