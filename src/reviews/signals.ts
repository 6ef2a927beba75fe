/**
 * Lifecycle signals that open reviews (DESIGN.md flow 6): review due, owner departed, dormancy, a first-seen
 * claim set, a policy change that widens access. Calendars play no part: a review opens when its
 * signal is seen, and the one-open-per-reason index makes every signal idempotent, so each may be
 * delivered any number of times from any instance.
 *
 * Where each signal is seen:
 * - review due / owner departed: inside the apply transaction (applySection, after identities), on
 *   every identity change notification (admin create/patch, any instance, milliseconds after commit),
 *   via `identityChanged` for callers that want it inside their own transaction, and in the sweep.
 * - dormancy: in the sweep only (it is the absence of events, so there is nothing to hear).
 * - new claim set: `claimSetSeen`, called by the token endpoint after it verified a subject token.
 * - policy widened: on policy change notifications and in the sweep; one instance does the work
 *   (a row lock on `settings` key `reviews.policy_version`), the others find it done.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { canonicalJson, type AuditInput, type AuditWriter } from '../audit/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { loadActivePolicySource, loadPolicySource } from '../posture/access-model.js';
import type { Queryable } from '../store/index.js';
import { findWidenings } from './policy-widening.js';
import { openReviewIn, type Review } from './review-store.js';
import type { Clock } from '../clock.js';

export interface IdentityState {
  id: string;
  status: string;
  review_by: string | Date | null;
  labels: Readonly<Record<string, string>> | null;
}

export interface SignalOptions {
  /** No issuance or decision for this long opens a dormancy review (default 30 days). */
  dormantAfterMs?: number;
  /** The periodic sweep runs at most this often per instance (default 5 minutes). */
  sweepEveryMs?: number;
}

type Emit = (e: AuditInput) => void;

/** Claim names that change on every token and say nothing about which workload is asking. */
const VOLATILE_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti', 'auth_time', 'nonce', 'at_hash', 'c_hash', 'run_id', 'run_number', 'run_attempt']);

/**
 * A stable fingerprint of the claims that describe a workload (repository, workflow, ref, namespace,
 * service account, …): SHA-256 of their canonical JSON, volatile claims left out. Pass `keys` to
 * fingerprint only chosen claims (e.g. the issuer's claim mapping inputs).
 */
export function claimsFingerprint(claims: Readonly<Record<string, unknown>>, keys?: readonly string[]): string {
  // A platform token verified before comes back as the same frozen claims object (federation's
  // verified-token cache): its fingerprint cannot have changed, so it is computed once.
  const memo = keys === undefined && Object.isFrozen(claims);
  const known = memo ? fingerprints.get(claims) : undefined;
  if (known !== undefined) return known;
  const picked: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(claims)) {
    if (keys ? keys.includes(k) : !VOLATILE_CLAIMS.has(k)) picked[k] = v;
  }
  const fingerprint = createHash('sha256').update(canonicalJson(picked)).digest('hex');
  if (memo) fingerprints.set(claims, fingerprint);
  return fingerprint;
}

const fingerprints = new WeakMap<object, string>();

export interface ReviewSignalDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  clock: Clock;
  logger?: Pick<Logger, 'error' | 'warn'>;
}

/** Max fingerprints remembered per process before the cache starts over (the table stays the truth). */
const SEEN_CACHE_MAX = 100_000;
const MAX_FINGERPRINTS_PER_IDENTITY = 256;

export function createReviewSignals(deps: ReviewSignalDeps, opts: SignalOptions = {}) {
  const { db, audit, clock } = deps;
  const dormantAfterMs = opts.dormantAfterMs ?? 30 * 86_400_000;
  const sweepEveryMs = opts.sweepEveryMs ?? 5 * 60_000;
  const seenClaims = new Set<string>();
  let lastSweep = 0;
  let sweeping: Promise<Review[]> | null = null;

  /** Opens what an identity's own state calls for; only identities that can still act get reviews. */
  async function identityChanged(q: Queryable, emit: Emit, i: IdentityState): Promise<Review[]> {
    if (i.status !== 'active' && i.status !== 'unowned') return [];
    const now = clock();
    const opened: Array<Review | null> = [];
    if (i.review_by && new Date(i.review_by).getTime() < now.getTime()) {
      opened.push(await openReviewIn(q, emit, { identity: i.id, reason: 'review_due', detail: { review_by: new Date(i.review_by).toISOString() } }, now));
    }
    if (i.labels?.['owner_status'] === 'departed') {
      opened.push(await openReviewIn(q, emit, { identity: i.id, reason: 'owner_departed', detail: { label: 'owner_status=departed' } }, now));
    }
    return opened.filter((r): r is Review => r !== null);
  }

  async function readIdentity(q: Queryable, id: string): Promise<IdentityState | null> {
    const r = await q.query<IdentityState>('SELECT id, status, review_by, labels FROM identities WHERE id = $1', [id]);
    return r.rows[0] ?? null;
  }

  /** For change notifications: re-read the identity (the notice carries only its id) and check it. */
  async function identityNotice(id: string): Promise<Review[]> {
    const cur = await readIdentity(db, id);
    if (!cur || !needsLook(cur, clock())) return [];
    return audit.transact(async (q, emit) => {
      const locked = await readIdentity(q, id);
      return locked ? identityChanged(q, emit, locked) : [];
    });
  }

  /** Apply section (after identities): an identity applied with a past review_by has a review at once. */
  const applySection: ApplySection = async (q, emit, bundle) => {
    for (const decl of bundle.identities) {
      const cur = await readIdentity(q, decl.id);
      if (cur) await identityChanged(q, emit, cur);
    }
    return []; // reviews are not configuration: applying the same directory twice still changes nothing
  };

  async function sweep(): Promise<Review[]> {
    const now = clock();
    const cutoff = new Date(now.getTime() - dormantAfterMs).toISOString();
    const opened = await audit.transact(async (q, emit) => {
      const out: Array<Review | null> = [];
      const due = await q.query<IdentityState>(
        `SELECT id, status, review_by, labels FROM identities
          WHERE status IN ('active', 'unowned') AND (review_by < $1 OR labels->>'owner_status' = 'departed')`,
        [now.toISOString()],
      );
      for (const i of due.rows) out.push(...(await identityChanged(q, emit, i)));
      // Dormant: old enough, and no issuance or decision since the cutoff (audit_events_identity index).
      const dormant = await q.query<{ id: string; last_used_at: Date | null }>(
        `SELECT i.id, i.last_used_at FROM identities i
          WHERE i.status IN ('active', 'unowned') AND i.created_at < $1
            AND (i.last_used_at IS NULL OR i.last_used_at < $1)
            AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.identity = i.id AND e.ts >= $1 AND e.type IN ('token.issued', 'decision'))`,
        [cutoff],
      );
      for (const d of dormant.rows) {
        const detail = { dormant_since: cutoff, last_used_at: d.last_used_at ? new Date(d.last_used_at).toISOString() : null };
        out.push(await openReviewIn(q, emit, { identity: d.id, reason: 'dormant', detail }, now));
      }
      return out.filter((r): r is Review => r !== null);
    });
    const widened = await policyChanged();
    lastSweep = clock().getTime();
    return [...opened, ...widened];
  }

  /** The change feed's resync calls this: at most one sweep per interval, never two at once, never throws. */
  function sweepIfDue(): Promise<void> {
    if (sweeping || clock().getTime() - lastSweep < sweepEveryMs) return Promise.resolve();
    sweeping = sweep();
    return sweeping
      .then(() => undefined)
      .catch((err: Error) => deps.logger?.error({ err: { message: err.message } }, 'review sweep failed'))
      .finally(() => (sweeping = null));
  }

  /**
   * The token endpoint calls this after verifying a subject token. The first claim set of an identity
   * is its baseline; every later unseen one opens a `new_claim_set` review (a new workflow, branch or
   * namespace now acts as this identity). Seen sets are kept in `settings` (`claimsets/<identity>`),
   * and cached here so the hot path asks the store only for unseen sets.
   */
  async function claimSetSeen(identity: string, fingerprint: string, detail: Record<string, unknown> = {}): Promise<Review | null> {
    const cacheKey = `${identity}\u0000${fingerprint}`;
    if (seenClaims.has(cacheKey)) return null;
    const review = await audit.transact(async (q, emit) => {
      const r = await q.query<{ n: number }>(
        `INSERT INTO settings (key, value) VALUES ($1, jsonb_build_array($2::text))
         ON CONFLICT (key) DO UPDATE SET value = settings.value || jsonb_build_array($2::text)
          WHERE NOT (settings.value @> jsonb_build_array($2::text)) AND jsonb_array_length(settings.value) < $3
         RETURNING jsonb_array_length(value) AS n`,
        [`claimsets/${identity}`, fingerprint, MAX_FINGERPRINTS_PER_IDENTITY],
      );
      const n = r.rows[0] ? Number(r.rows[0].n) : 0;
      if (n <= 1) return null; // already known (no row), or the baseline
      const exists = await q.query('SELECT 1 FROM identities WHERE id = $1', [identity]);
      if (exists.rows.length === 0) return null;
      return openReviewIn(q, emit, { identity, reason: 'new_claim_set', detail: { fingerprint, ...detail } }, clock());
    });
    if (seenClaims.size >= SEEN_CACHE_MAX) seenClaims.clear();
    seenClaims.add(cacheKey);
    return review;
  }

  /** On a policy change: open `policy_widened` for every identity the new active set reaches further. */
  async function policyChanged(): Promise<Review[]> {
    const active = await loadActivePolicySource(db);
    if (!active) return [];
    const key = 'reviews.policy_version';
    const cur = await db.query<{ value: { version?: number } }>('SELECT value FROM settings WHERE key = $1', [key]);
    if (cur.rows[0]?.value?.version === active.version) return [];
    return audit.transact(async (q, emit) => {
      await q.query(`INSERT INTO settings (key, value) VALUES ($1, '{}'::jsonb) ON CONFLICT (key) DO NOTHING`, [key]);
      const locked = await q.query<{ value: { version?: number } }>('SELECT value FROM settings WHERE key = $1 FOR UPDATE', [key]);
      const seenVersion = locked.rows[0]?.value?.version;
      if (seenVersion === active.version) return []; // another instance did it while we waited
      let fromVersion: number | null = typeof seenVersion === 'number' ? seenVersion : null;
      if (fromVersion === null) {
        const prev = await q.query<{ v: string | number | null }>('SELECT max(version) AS v FROM policy_sets WHERE version < $1', [active.version]);
        fromVersion = prev.rows[0]?.v == null ? null : Number(prev.rows[0].v);
      }
      const opened: Review[] = [];
      // The very first policy set grants everything it grants: that is configuration, not widening.
      if (fromVersion !== null) {
        const before = await loadPolicySource(q, fromVersion);
        const now = clock();
        for (const w of await findWidenings(q, before, active, now)) {
          const detail = { from_version: fromVersion, to_version: active.version, added: w.added.slice(0, 20), added_count: w.added.length };
          const r = await openReviewIn(q, emit, { identity: w.identity, reason: 'policy_widened', detail }, now);
          if (r) opened.push(r);
        }
      }
      await q.query('UPDATE settings SET value = $2 WHERE key = $1', [key, JSON.stringify({ version: active.version })]);
      return opened;
    });
  }

  return { identityChanged, identityNotice, applySection, sweep, sweepIfDue, claimSetSeen, policyChanged };
}

function needsLook(i: IdentityState, now: Date): boolean {
  if (i.status !== 'active' && i.status !== 'unowned') return false;
  return (!!i.review_by && new Date(i.review_by).getTime() < now.getTime()) || i.labels?.['owner_status'] === 'departed';
}

export type ReviewSignals = ReturnType<typeof createReviewSignals>;
