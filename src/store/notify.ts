import { CHANGES_CHANNEL, type Queryable } from './types.js';

export type RevocationKind = 'jti' | 'grant' | 'identity' | 'issuer';

/** What changed; listeners re-read the tables it names. Low-volume writes only (see DESIGN.md). */
export type ChangeNotice =
  | { kind: 'identity'; id: string }
  | { kind: 'revocation'; id: number; rkind: RevocationKind; value: string; at: number }
  | { kind: 'policy'; version: number }
  | { kind: 'routes' }
  | { kind: 'mcp_servers' }
  | { kind: 'issuers' }
  | { kind: 'entities' }
  | { kind: 'keys' }
  /** Legacy bridge: connector config changed (connectors table). */
  | { kind: 'connectors' }
  /** Legacy bridge: a credential lease should end now (any instance's sweeper acts on it). */
  | { kind: 'lease'; id: string }
  | { kind: 'findings'; identity: string }
  /**
   * Detection's cluster-wide summary (detect/cluster-activity.ts): where tokens were seen, policy
   * denies and request counts per identity, batched per instance; `from` names the sender.
   */
  | { kind: 'activity'; from: string; p?: Array<[identity: string, jti: string, ip: string, issue: 0 | 1, at: number, grant: string, run?: string, attempt?: number]>; d?: Array<[identity: string, at: number, action: string, resource: string, jti?: string]>; n?: Array<[identity: string, count: number, at: number]> };

/** Queues a notification inside the caller's transaction; Postgres delivers it at commit. */
export async function notifyChange(q: Queryable, notice: ChangeNotice): Promise<void> {
  await q.query('SELECT pg_notify($1, $2)', [CHANGES_CHANNEL, JSON.stringify(notice)]);
}
