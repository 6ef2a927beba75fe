import type { Queryable } from '../store/index.js';
import type { SingleUseClaim } from './claims.js';
import { link, prepare, type RawAuditInput, type AuditRecord, type LinkedRecord, type PreparedEvent } from './chain.js';

/**
 * The rows as a JSON array of objects, read by `json_to_recordset`: each element's JSON is parsed once.
 * (Seven `x->>n` on `json_array_elements` re-parsed each element, its body included, once per column:
 * measured on PGlite, ~20 µs more per event.)
 */
const ROW = 'x(seq bigint, ts timestamptz, type text, identity text, body text, prev_hash text, hash text)';
const rowsParam = (records: LinkedRecord[]) =>
  JSON.stringify(records.map((r) => ({ seq: r.body.seq, ts: r.body.ts, type: r.body.type, identity: r.body.identity, body: r.text, prev_hash: r.prev_hash, hash: r.hash })));

/**
 * Appends a batch to the chain inside the caller's transaction. Locking the head row orders
 * writers across every instance on one database, so there is exactly one chain.
 */
export async function appendBatch(q: Queryable, inputs: readonly (RawAuditInput | PreparedEvent)[], now: Date): Promise<AuditRecord[]> {
  if (inputs.length === 0) return [];
  const events = inputs.map((i) => ('head' in i && 'tail' in i ? i : prepare(i)));
  const head = await q.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
  const h = head.rows[0];
  if (!h) throw new Error('audit head missing');
  const { records, head: next } = link({ seq: Number(h.seq), hash: h.hash }, events, now);
  // The whole batch as one JSON parameter: one statement, and no per-element array escaping in the
  // driver (measured: the text[] form spent ~10 µs per event there).
  await q.query(
    `INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash)
     SELECT x.seq, x.ts, x.type, x.identity, x.body, x.prev_hash, x.hash FROM json_to_recordset($1::json) AS ${ROW}`,
    [rowsParam(records)],
  );
  await q.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [next.seq, next.hash]);
  return records.map((r) => ({ ...r.body, prev_hash: r.prev_hash, hash: r.hash }));
}

/**
 * The group-commit fast path: one statement, so one round trip and one implicit transaction. It
 * moves the head only if it is still where this writer last saw it (compare-and-set on seq and
 * hash); otherwise nothing is written and the caller re-reads the head and links again. Another
 * instance or a `transact` moving the head in between is therefore safe, and the chain stays one.
 *
 * With `claims`, the same statement first claims each key in `dpop_jti` (RFC 9449 §11.1 single use,
 * shared by every instance) and moves the head only if every one of them was new, so a gateway
 * check's proof claim and its decision record cost one round trip, not two (DESIGN.md "Performance
 * budget"). The claims made persist even when nothing is written (the head moved or another key was
 * taken): `claimed` names them, and the caller must not claim them again. Keys are claimed in sorted
 * order, before the head row is locked, so two writers claiming overlapping keys cannot deadlock.
 */
export async function appendIfHead(
  q: Queryable,
  head: { seq: number; hash: string },
  events: readonly PreparedEvent[],
  now: Date,
  claims: readonly SingleUseClaim[] = [],
): Promise<{ written: { records: AuditRecord[]; head: { seq: number; hash: string } } | null; claimed: ReadonlySet<string> }> {
  const { records, head: next } = link(head, events, now);
  const written = () => ({ records: records.map((x) => ({ ...x.body, prev_hash: x.prev_hash, hash: x.hash })), head: next });
  if (claims.length === 0) {
    const r = await q.query(
      `WITH moved AS (
         UPDATE audit_head SET seq = $3, hash = $4 WHERE id = 1 AND seq = $1 AND hash = $2 RETURNING 1
       )
       INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash)
       SELECT x.seq, x.ts, x.type, x.identity, x.body, x.prev_hash, x.hash
         FROM json_to_recordset($5::json) AS ${ROW} WHERE EXISTS (SELECT 1 FROM moved)`,
      [head.seq, head.hash, next.seq, next.hash, rowsParam(records)],
    );
    return { written: r.rowCount === records.length ? written() : null, claimed: new Set() };
  }
  // The claim count is a condition without columns: PostgreSQL evaluates it once, before it scans
  // (and locks) the head row, which keeps the lock order keys → head.
  const r = await q.query<{ n: number; claimed: string[] }>(
    `WITH claimed AS (
       ${claimSql(6, 7)}
     ), moved AS (
       UPDATE audit_head SET seq = $3, hash = $4
        WHERE (SELECT count(*) FROM claimed) = cardinality($6::text[]) AND id = 1 AND seq = $1 AND hash = $2
       RETURNING 1
     ), written AS (
       INSERT INTO audit_events (seq, ts, type, identity, body, prev_hash, hash)
       SELECT x.seq, x.ts, x.type, x.identity, x.body, x.prev_hash, x.hash
         FROM json_to_recordset($5::json) AS ${ROW} WHERE EXISTS (SELECT 1 FROM moved)
       RETURNING 1
     )
     SELECT (SELECT count(*)::int FROM written) AS n, ARRAY(SELECT key FROM claimed) AS claimed`,
    [head.seq, head.hash, next.seq, next.hash, rowsParam(records), claims.map((c) => c.key), claims.map((c) => c.expiresAt)],
  );
  const row = r.rows[0]!;
  return { written: Number(row.n) === records.length ? written() : null, claimed: new Set(row.claimed) };
}

/**
 * The shared single-use claim, as tokens/cluster-replay-guard.ts makes it: a key is new if it is
 * absent or its row has expired (an expired row is taken over). Sorted, so concurrent claimers of
 * overlapping keys lock them in one order.
 */
const claimSql = (keys: number, expires: number) => `INSERT INTO dpop_jti AS t (key, expires_at)
       SELECT k, to_timestamp(e) FROM unnest($${keys}::text[], $${expires}::float8[]) AS x(k, e) ORDER BY k
       ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE t.expires_at <= now()
       RETURNING key`;

/**
 * The claims alone, inside the caller's transaction (the locking path): claim before locking the
 * head, as the fast path does. Returns the keys that were new.
 */
export async function claimKeys(q: Queryable, claims: readonly SingleUseClaim[]): Promise<ReadonlySet<string>> {
  if (claims.length === 0) return new Set();
  const r = await q.query<{ key: string }>(claimSql(1, 2), [claims.map((c) => c.key), claims.map((c) => c.expiresAt)]);
  return new Set(r.rows.map((x) => x.key));
}

export async function readHead(q: Queryable): Promise<{ seq: number; hash: string }> {
  const r = await q.query<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  const h = r.rows[0];
  if (!h) throw new Error('audit head missing');
  return { seq: Number(h.seq), hash: h.hash };
}
