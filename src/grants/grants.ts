import { randomUUID } from 'node:crypto';
import type { AuditInput, AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { BOOTSTRAP_ADMIN } from '../operators/operators.js';
import { revokeIn } from '../revocation/index.js';
import type { Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';

export type GrantState = 'pending' | 'active' | 'ended' | 'expired' | 'revoked' | 'denied';

export interface TaskSpec {
  purpose?: string | undefined;
  ticket?: string | undefined;
  /** The workload instance the task belongs to (task-instance.ts); grants are never shared across instances. */
  instance?: string | undefined;
}

export interface Grant {
  id: string;
  identity: string;
  audience: string;
  actions: string[];
  task: TaskSpec & { requested_ttl?: number };
  state: GrantState;
  break_glass: boolean;
  justification: string | null;
  issuer: string | null;
  decided_by: string | null;
  decision_reason: string | null;
  created_at: string;
  activated_at: string | null;
  not_after: string | null;
  ended_at: string | null;
  end_reason: string | null;
  /** Distinct operators who must approve (`@approval("N")`); 1 for "required". */
  approvals_required: number;
  approvals: GrantApproval[];
  /** The operator who asked (an exchange carrying a verified operator token); may not approve. */
  requested_by: string | null;
  /** A pending grant nobody decides by then ends as `expired`; a break-glass grant must be confirmed by then. */
  decide_by: string | null;
  /** Break-glass: the operator who confirmed it after the fact. */
  confirmed_by: string | null;
  /** Delegation (RFC 8693 §1.1): the grant this one was exchanged from; it ends when that one ends. */
  parent_id: string | null;
  /** Delegation: the identity acting for `identity` under this grant (the token's `act.sub`). */
  actor: string | null;
}

export interface GrantApproval {
  by: string;
  at: string;
  reason: string;
}

interface Row extends Omit<Grant, 'created_at' | 'activated_at' | 'not_after' | 'ended_at' | 'decide_by'> {
  created_at: Date;
  activated_at: Date | null;
  not_after: Date | null;
  ended_at: Date | null;
  decide_by: Date | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const toGrant = (r: Row): Grant => ({
  ...r,
  created_at: iso(r.created_at)!,
  activated_at: iso(r.activated_at),
  not_after: iso(r.not_after),
  ended_at: iso(r.ended_at),
  decide_by: iso(r.decide_by),
});
const COLS =
  'id, identity, audience, actions, task, state, break_glass, justification, issuer, decided_by, decision_reason, created_at, activated_at, not_after, ended_at, end_reason, approvals_required, approvals, requested_by, decide_by, confirmed_by, parent_id, actor';

/** How long a pending grant waits for its approvers by default (README "Approvals"). */
export const DEFAULT_APPROVAL_WINDOW_SECONDS = 3600;
/** A refused (denied or expired) request for the same task is answered as such for this long. */
const REFUSAL_MEMORY_MS = 3600_000;

export interface GrantRequest {
  identity: string;
  audience: string;
  actions: string[];
  task: TaskSpec;
  issuer: string;
  /** Seconds the grant should live once active. */
  ttlSeconds: number;
  approval: boolean;
  /** Distinct approvers needed when `approval` (default 1). */
  approvals?: number | undefined;
  /** The operator who asked, verified; may not approve this grant. */
  requestedBy?: string | undefined;
  /**
   * A detection hold is open for the identity (detect/cluster-view requireApproval): a live grant is
   * reused only if a human approved it, so a session under suspicion cannot carry on through its
   * grant; otherwise the request waits for a human like any `@approval` grant.
   */
  held?: boolean;
  breakGlass: { justification: string } | null;
  /** Delegation: the parent grant and the acting identity (both verified by the exchange). */
  parent?: string | undefined;
  actor?: string | undefined;
}

export type GrantOutcome =
  | { kind: 'active'; grant: Grant; reused: boolean }
  | { kind: 'pending'; grant: Grant }
  | { kind: 'denied'; grant: Grant }
  /** Nobody decided within the approval window. */
  | { kind: 'expired'; grant: Grant };

const sameTask = (a: TaskSpec, b: TaskSpec) =>
  (a.purpose ?? null) === (b.purpose ?? null) && (a.ticket ?? null) === (b.ticket ?? null) && (a.instance ?? null) === (b.instance ?? null);
const covers = (have: string[], want: string[]) => want.every((w) => have.includes(w));

/**
 * Just-in-time, task-scoped grants. A token exchange opens a grant or reuses the live one for the
 * same identity, audience, task and workload instance; with `@approval("required")` the grant waits for a human and
 * the same exchange succeeds once it is approved.
 */
export function createGrants(deps: { db: Queryable; audit: Pick<AuditWriter, 'transact'>; clock: Clock; approvalWindowSeconds?: number }) {
  const { db, audit, clock } = deps;
  const approvalWindowMs = (deps.approvalWindowSeconds ?? DEFAULT_APPROVAL_WINDOW_SECONDS) * 1000;

  /** A pending grant past its approval window ends as expired, whoever notices first. */
  async function expirePendingIn(q: Queryable, emit: (e: AuditInput) => void, g: Grant): Promise<Grant> {
    const u = await q.query<Row>(`UPDATE grants SET state = 'expired', ended_at = $2, end_reason = 'approval_window' WHERE id = $1 AND state = 'pending' RETURNING ${COLS}`, [g.id, clock()]);
    if (u.rows[0]) emit({ type: 'grant.expired', actor: 'system', identity: g.identity, data: { grant: g.id, reason: 'approval_window', approvals: g.approvals.length } });
    return u.rows[0] ? toGrant(u.rows[0]) : g;
  }

  async function candidates(q: Queryable, r: GrantRequest): Promise<Grant[]> {
    const rows = await q.query<Row>(
      `SELECT ${COLS} FROM grants WHERE identity = $1 AND audience = $2 AND (state IN ('active', 'pending', 'denied') OR (state = 'expired' AND end_reason = 'approval_window'))
       ORDER BY created_at DESC LIMIT 50`,
      [r.identity, r.audience],
    );
    return rows.rows.map(toGrant).filter((g) => sameTask(g.task, r.task));
  }

  /**
   * A live grant that already covers the request, under the obligations of this exchange's decision:
   * a reuse is a fresh grant that skips the insert, so when the kernel now requires approval (an
   * `@approval` added since, or a detection hold), only a grant a human approved may be reused.
   * Break-glass waives approval by design, as it does for a fresh grant.
   */
  const reusable = (g: Grant, r: GrantRequest, now: number) =>
    g.state === 'active' &&
    (!r.held || g.decided_by !== null) &&
    g.break_glass === (r.breakGlass !== null) &&
    !!g.not_after &&
    Date.parse(g.not_after) > now + 5000 &&
    covers(g.actions, r.actions) &&
    (!r.approval || (r.breakGlass !== null && !r.held) || (g.decided_by !== null && g.approvals.length >= (r.approvals ?? 1)));

  // Live grants by (identity, audience, task, break-glass): the exchange's reuse lookup answered from
  // memory. Only a hint: it is emptied on every revocation notice (every grant end and revocation
  // sends one) and entries past not_after are skipped, so the worst a stale entry can do is mint a
  // token that the revocation set already refuses.
  const live = new Map<string, Grant>();
  const liveKey = (r: { identity: string; audience: string; task: TaskSpec }, breakGlass: boolean) =>
    JSON.stringify([r.identity, r.audience, r.task.purpose ?? null, r.task.ticket ?? null, r.task.instance ?? null, breakGlass]);
  const remember = (g: Grant) => {
    if (live.size > 50000) live.clear();
    live.set(liveKey(g, g.break_glass), g);
  };

  async function findActive(r: GrantRequest): Promise<Grant | null> {
    const now = clock().getTime();
    const cached = live.get(liveKey(r, r.breakGlass !== null));
    if (cached && reusable(cached, r, now)) return cached;
    for (const g of await candidates(db, r)) {
      if (reusable(g, r, now)) {
        remember(g);
        return g;
      }
    }
    return null;
  }

  return {
    findActive,
    /** Any grant may have ended: forget what is cached (called on every revocation notice). */
    forgetLive: () => live.clear(),

    /**
     * A single-use grant is used (an approved MCP tool call, README "MCP gateway"): it ends, once. False
     * when it was no longer active (used by a concurrent call, revoked, expired).
     */
    async consume(id: string, actor: string, data: { tool: string; arguments_sha256: string }): Promise<boolean> {
      const used = await audit.transact(async (q, emit) => {
        const u = await q.query<{ identity: string }>(`UPDATE grants SET state = 'ended', ended_at = $2, end_reason = 'used' WHERE id = $1 AND state = 'active' RETURNING identity`, [id, clock()]);
        const row = u.rows[0];
        if (!row) return false;
        emit({ type: 'mcp.approval_consumed', actor, identity: row.identity, data: { grant: id, ...data } });
        return true;
      });
      live.clear();
      return used;
    },

    async openOrReuse(r: GrantRequest): Promise<GrantOutcome> {
      const found = await findActive(r);
      if (found) return { kind: 'active', grant: found, reused: true };
      const out = await audit.transact(async (q, emit): Promise<GrantOutcome> => {
        // Serialise concurrent exchanges for the same identity so they share one grant.
        await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`grant:${r.identity}`]);
        const now = clock();
        for (const g of await candidates(q, r)) {
          const sameActions = g.actions.length === r.actions.length && covers(g.actions, r.actions);
          if (reusable(g, r, now.getTime())) return { kind: 'active', grant: g, reused: true } as const;
          if (r.approval && g.state === 'pending' && sameActions) {
            if (g.decide_by && Date.parse(g.decide_by) <= now.getTime()) return { kind: 'expired', grant: await expirePendingIn(q, emit, g) } as const;
            return { kind: 'pending', grant: g } as const;
          }
          const refusedRecently = g.ended_at !== null && Date.parse(g.ended_at) > now.getTime() - REFUSAL_MEMORY_MS;
          if (r.approval && g.state === 'denied' && sameActions && refusedRecently) return { kind: 'denied', grant: g } as const;
          if (r.approval && g.state === 'expired' && sameActions && refusedRecently) return { kind: 'expired', grant: g } as const;
        }
        const id = randomUUID();
        // Break-glass waives a policy's @approval, never a detection hold (no policy can waive that).
        const pending = r.held === true || (r.approval && !r.breakGlass);
        const notAfter = pending ? null : new Date(now.getTime() + r.ttlSeconds * 1000);
        const required = pending ? Math.max(1, r.approvals ?? 1) : 1;
        // Pending: decided by then. Break-glass: confirmed by a second operator by then, else an alert.
        const decideBy = pending || r.breakGlass ? new Date(now.getTime() + approvalWindowMs) : null;
        const ins = await q.query<Row>(
          `INSERT INTO grants (id, identity, audience, actions, task, state, break_glass, justification, issuer, created_at, activated_at, not_after, approvals_required, requested_by, decide_by, parent_id, actor)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING ${COLS}`,
          [id, r.identity, r.audience, JSON.stringify(r.actions), JSON.stringify({ ...r.task, requested_ttl: r.ttlSeconds }), pending ? 'pending' : 'active', r.breakGlass !== null, r.breakGlass?.justification ?? null, r.issuer, now, pending ? null : now, notAfter, required, r.requestedBy ?? null, decideBy, r.parent ?? null, r.actor ?? null],
        );
        const grant = toGrant(ins.rows[0]!);
        const data = {
          grant: id,
          audience: r.audience,
          actions: r.actions,
          task: r.task,
          not_after: grant.not_after,
          break_glass: r.breakGlass !== null,
          issuer: r.issuer,
          ...(pending ? { approvals_required: required, decide_by: grant.decide_by } : {}),
          ...(r.requestedBy ? { requested_by: r.requestedBy } : {}),
        };
        if (pending) {
          emit({ type: 'grant.pending', actor: r.identity, identity: r.identity, data });
          return { kind: 'pending', grant } as const;
        }
        emit({ type: 'grant.opened', actor: r.identity, identity: r.identity, data });
        if (r.breakGlass) {
          emit({ type: 'grant.break_glass', actor: r.identity, identity: r.identity, data: { ...data, justification: r.breakGlass.justification, severity: 'critical' } });
        }
        return { kind: 'active', grant, reused: false } as const;
      });
      // Cached only once committed: a rolled-back grant must never be reused.
      if (out.kind === 'active') remember(out.grant);
      return out;
    },

    async get(id: string): Promise<Grant | null> {
      const r = await db.query<Row>(`SELECT ${COLS} FROM grants WHERE id = $1`, [id]);
      return r.rows[0] ? toGrant(r.rows[0]) : null;
    },

    async list(f: { identity?: string | undefined; state?: string | undefined; limit: number; before?: string | undefined }): Promise<Grant[]> {
      const where: string[] = [];
      const p: unknown[] = [];
      if (f.identity) where.push(`identity = $${p.push(f.identity)}`);
      if (f.state) where.push(`state = $${p.push(f.state)}`);
      if (f.before) where.push(`created_at < $${p.push(f.before)}`);
      p.push(f.limit);
      const r = await db.query<Row>(`SELECT ${COLS} FROM grants ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC LIMIT $${p.length}`, p);
      return r.rows.map(toGrant);
    },

    /**
     * An operator's decision on a pending grant. One denial ends it; approvals accumulate from
     * distinct operators until `approvals_required` is reached (four eyes: `@approval("2")`). The
     * operator who requested the grant cannot approve it, nobody approves twice, and nothing is
     * decided past the approval window (the grant ends as `expired`).
     */
    decide(id: string, decision: 'approve' | 'deny', approver: string, reason: string): Promise<Grant> {
      return audit.transact(async (q, emit) => {
        const r = await q.query<Row>(`SELECT ${COLS} FROM grants WHERE id = $1 FOR UPDATE`, [id]);
        if (!r.rows[0]) throw new TetherError('not_found', `grant ${JSON.stringify(id)} does not exist`);
        const g = toGrant(r.rows[0]);
        if (g.state !== 'pending') throw new TetherError('conflict', `grant ${id} is ${g.state}, not pending`);
        const now = clock();
        if (g.decide_by && Date.parse(g.decide_by) <= now.getTime()) {
          await expirePendingIn(q, emit, g);
          return toGrant((await q.query<Row>(`SELECT ${COLS} FROM grants WHERE id = $1`, [id])).rows[0]!);
        }
        if (g.requested_by !== null && g.requested_by === approver) {
          throw new TetherError('forbidden', `${approver} requested grant ${id} and cannot decide it: another operator must`);
        }
        const base = { grant: id, approver, reason, actions: g.actions, audience: g.audience };
        if (decision === 'deny') {
          const u = await q.query<Row>(`UPDATE grants SET state = 'denied', ended_at = $2, end_reason = 'denied', decided_by = $3, decision_reason = $4 WHERE id = $1 RETURNING ${COLS}`, [id, now, approver, reason]);
          emit({ type: 'grant.denied', actor: approver, identity: g.identity, data: base });
          return toGrant(u.rows[0]!);
        }
        if (g.approvals_required > 1 && approver === BOOTSTRAP_ADMIN) {
          throw new TetherError('forbidden', `grant ${id} needs ${g.approvals_required} approvers: the bootstrap admin token is nobody in particular, approve as a named operator`);
        }
        if (g.approvals.some((a) => a.by === approver)) throw new TetherError('conflict', `${approver} already approved grant ${id}; it needs another operator`);
        const approvals = [...g.approvals, { by: approver, at: now.toISOString(), reason }];
        const complete = approvals.length >= g.approvals_required;
        const ttl = g.task.requested_ttl ?? 3600;
        const u = complete
          ? await q.query<Row>(
              `UPDATE grants SET state = 'active', activated_at = $2, not_after = $3, decided_by = $4, decision_reason = $5, approvals = $6 WHERE id = $1 RETURNING ${COLS}`,
              [id, now, new Date(now.getTime() + ttl * 1000), approver, reason, JSON.stringify(approvals)],
            )
          : await q.query<Row>(`UPDATE grants SET approvals = $2 WHERE id = $1 RETURNING ${COLS}`, [id, JSON.stringify(approvals)]);
        emit({ type: 'grant.approved', actor: approver, identity: g.identity, data: { ...base, approvals: approvals.length, approvals_required: g.approvals_required, complete } });
        return toGrant(u.rows[0]!);
      });
    },

    /**
     * A second operator confirms a break-glass grant after the fact (README "Approvals"): never the
     * operator who asked for it; once. Unconfirmed past its deadline, expireDue raises the alert.
     */
    confirm(id: string, operator: string, reason: string): Promise<Grant> {
      return audit.transact(async (q, emit) => {
        const r = await q.query<Row>(`SELECT ${COLS} FROM grants WHERE id = $1 FOR UPDATE`, [id]);
        if (!r.rows[0]) throw new TetherError('not_found', `grant ${JSON.stringify(id)} does not exist`);
        const g = toGrant(r.rows[0]);
        if (!g.break_glass) throw new TetherError('conflict', `grant ${id} is not break-glass: nothing to confirm`);
        if (g.confirmed_by !== null) throw new TetherError('conflict', `grant ${id} was confirmed by ${g.confirmed_by}`);
        if (g.requested_by !== null && g.requested_by === operator) throw new TetherError('forbidden', `${operator} asked for break-glass grant ${id} and cannot confirm it: another operator must`);
        const u = await q.query<Row>(`UPDATE grants SET confirmed_by = $2, confirmed_at = $3 WHERE id = $1 RETURNING ${COLS}`, [id, operator, clock()]);
        emit({ type: 'grant.confirmed', actor: operator, identity: g.identity, data: { grant: id, reason, late: g.decide_by !== null && Date.parse(g.decide_by) < clock().getTime() } });
        return toGrant(u.rows[0]!);
      });
    },

    /** Task end (the workload revoked its token) or an operator: the grant and all its tokens die. */
    endIn: async (q: Queryable, emit: (e: AuditInput) => void, id: string, reason: string, actor: string): Promise<void> => {
      const r = await q.query<{ identity: string }>(`UPDATE grants SET state = 'ended', ended_at = $2, end_reason = $3 WHERE id = $1 AND state = 'active' RETURNING identity`, [id, clock(), reason]);
      if (r.rows[0]) {
        emit({ type: 'grant.ended', actor, identity: r.rows[0].identity, data: { grant: id, reason } });
        await revokeIn(q, emit, { kind: 'grant', value: id, reason, actor }, clock());
      }
    },

    /**
     * Marks grants past not_after as expired, and pending grants nobody decided within their approval
     * window (audited), so state and posture tell the truth.
     */
    expireDue: (): Promise<number> =>
      audit.transact(async (q, emit) => {
        const now = clock();
        const r = await q.query<{ id: string; identity: string }>(
          `UPDATE grants SET state = 'expired', ended_at = not_after, end_reason = 'ttl' WHERE state = 'active' AND not_after < $1 RETURNING id, identity`,
          [now],
        );
        for (const g of r.rows) emit({ type: 'grant.expired', actor: 'system', identity: g.identity, data: { grant: g.id, reason: 'ttl' } });
        const p = await q.query<{ id: string; identity: string; approvals: GrantApproval[] }>(
          `UPDATE grants SET state = 'expired', ended_at = $1, end_reason = 'approval_window' WHERE state = 'pending' AND decide_by <= $1 RETURNING id, identity, approvals`,
          [now],
        );
        for (const g of p.rows) emit({ type: 'grant.expired', actor: 'system', identity: g.identity, data: { grant: g.id, reason: 'approval_window', approvals: g.approvals.length } });
        const u = await q.query<{ id: string; identity: string; justification: string | null }>(
          `UPDATE grants SET confirm_alerted = true WHERE break_glass AND confirmed_by IS NULL AND NOT confirm_alerted AND decide_by <= $1 RETURNING id, identity, justification`,
          [now],
        );
        for (const g of u.rows) emit({ type: 'grant.break_glass_unconfirmed', actor: 'system', identity: g.identity, data: { grant: g.id, justification: g.justification, severity: 'critical' } });
        return r.rowCount + p.rowCount + u.rowCount;
      }),
  };
}

export type Grants = ReturnType<typeof createGrants>;
