import { notifyChange, type Queryable } from '../store/index.js';

/**
 * An issuer revocation is a stop, not a moment: besides killing the tokens issued through the
 * issuer so far (the revocation row), it bars the issuer from vouching for anyone until an operator
 * restores it. The stop is kept in `settings` under `issuer.revoked/<name>` (the table is the truth;
 * every instance's issuer store reads it and learns new stops from the revocation notice).
 *
 * A stop outlives deleting and re-applying the issuer: only an explicit restore lifts it.
 */
const PREFIX = 'issuer.revoked/';

export interface IssuerStop {
  name: string;
  revocation_id: number;
  at: string;
  reason: string;
  by: string;
}

export async function stopIssuerIn(q: Queryable, stop: IssuerStop): Promise<void> {
  await q.query(
    `INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [PREFIX + stop.name, JSON.stringify(stop)],
  );
}

/** Lifts a stop; null when the issuer was not stopped. Notifies `issuers` so every instance re-reads. */
export async function restoreIssuerIn(q: Queryable, name: string): Promise<IssuerStop | null> {
  const r = await q.query<{ value: IssuerStop | string }>('DELETE FROM settings WHERE key = $1 RETURNING value', [PREFIX + name]);
  const row = r.rows[0];
  if (!row) return null;
  await notifyChange(q, { kind: 'issuers' });
  return typeof row.value === 'string' ? (JSON.parse(row.value) as IssuerStop) : row.value;
}

/** Names of every stopped issuer. */
export async function stoppedIssuers(q: Queryable): Promise<Set<string>> {
  const r = await q.query<{ key: string }>('SELECT key FROM settings WHERE key LIKE $1', [`${PREFIX}%`]);
  return new Set(r.rows.map((row) => row.key.slice(PREFIX.length)));
}
