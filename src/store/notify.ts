import { CHANGES_CHANNEL, type Queryable } from './types.js';

export type RevocationKind = 'jti' | 'grant' | 'identity' | 'issuer';

/** What changed; listeners re-read the tables it names. Low-volume writes only (see DESIGN.md). */
export type ChangeNotice =
  | { kind: 'identity'; id: string }
  | { kind: 'revocation'; id: number; rkind: RevocationKind; value: string; at: number }
  | { kind: 'policy'; version: number }
  | { kind: 'routes' }
  | { kind: 'issuers' }
  | { kind: 'entities' }
  | { kind: 'keys' }
  | { kind: 'findings'; identity: string };

/** Queues a notification inside the caller's transaction; Postgres delivers it at commit. */
export async function notifyChange(q: Queryable, notice: ChangeNotice): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(notice)]);
}
