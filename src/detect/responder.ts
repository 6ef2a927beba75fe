/**
 * Performs a finding's response inside the transaction that records the finding, so the finding,
 * its response and their audit events commit together (or not at all), and undoes what can be
 * undone when an operator asks.
 *
 *   alert            nothing beyond the finding, the log line and the webhook.
 *   require_approval every new grant of the identity waits for a human (exchange's requireApproval).
 *   narrow           the offending grant and its tokens are revoked now, and new grants that ask for
 *                    an offending action wait for a human; the identity's other work goes on.
 *   revoke_grant     the offending token is revoked now, and its grant with all its tokens when the
 *                    grant has a single holder (a replay's default: the identity's other grants and
 *                    instances are not implicated).
 *   suspend          the identity is suspended and every token it holds is revoked.
 *   revoke_identity  every token of the identity is revoked; it may obtain new ones.
 *
 * Reversal: a suspension is lifted (the identity returns to its previous status) and approval holds
 * end. Revocations are kept: tokens are minutes-lived, the workload simply exchanges again, and
 * "un-revoking" a credential that may have been stolen is not a thing an undo should do.
 */
import type { AuditInput } from '../audit/index.js';
import { revokeIn } from '../revocation/index.js';
import type { Queryable } from '../store/index.js';
import type { Finding } from './finding.js';
import type { FindingView } from './findings-store.js';
import type { DetectionResponse } from './responses.js';

type Emit = (e: AuditInput) => void;
type Status = 'active' | 'suspended' | 'retired' | 'unowned';

export interface ResponderDeps {
  setStatusIn(q: Queryable, id: string, status: Status): Promise<void>;
}

export interface ResponseOutcome {
  /** What was actually done (a revoke_grant without a grant or token to revoke falls back to alert). */
  response: DetectionResponse;
  detail: Record<string, unknown>;
}

export const DETECTOR_ACTOR = 'detector';

/** The actions a finding is about, from its evidence (rules put the event, or a chain of them, there). */
export function offendingActions(f: Pick<Finding, 'evidence'>): string[] {
  const out = new Set<string>();
  const take = (v: unknown) => {
    if (v && typeof v === 'object' && typeof (v as { action?: unknown }).action === 'string') out.add((v as { action: string }).action);
  };
  const e = f.evidence;
  if (typeof e.action === 'string') out.add(e.action);
  take(e.event);
  for (const k of ['chain', 'events']) if (Array.isArray(e[k])) (e[k] as unknown[]).forEach(take);
  return [...out];
}

/** A grant keyed to one workload instance (grants/task-instance.ts) has exactly one holder. */
async function singleHolder(q: Queryable, grant: string): Promise<boolean> {
  const r = await q.query<{ instance: string | null }>("SELECT task->>'instance' AS instance FROM grants WHERE id = $1", [grant]);
  return typeof r.rows[0]?.instance === 'string';
}

async function statusOf(q: Queryable, id: string): Promise<Status | null> {
  const r = await q.query<{ status: Status }>('SELECT status FROM identities WHERE id = $1 FOR UPDATE', [id]);
  return r.rows[0]?.status ?? null;
}

export async function respondIn(q: Queryable, emit: Emit, deps: ResponderDeps, f: Finding, wanted: DetectionResponse, now: Date): Promise<ResponseOutcome> {
  const reason = `detection finding ${f.id} (${f.rule}, ${f.severity})`;
  const revoke = (kind: 'grant' | 'jti' | 'identity', value: string) => revokeIn(q, emit, { kind, value, reason, actor: DETECTOR_ACTOR }, now);
  switch (wanted) {
    case 'alert':
      return { response: 'alert', detail: {} };
    case 'require_approval':
      return { response: 'require_approval', detail: { approval: 'required for every new grant of the identity' } };
    case 'narrow': {
      const actions = offendingActions(f);
      const detail: Record<string, unknown> = { actions };
      if (f.grantId) {
        const r = await revoke('grant', f.grantId);
        Object.assign(detail, { grant: f.grantId, revocation_id: r.id });
      }
      return { response: 'narrow', detail };
    }
    case 'revoke_grant': {
      // The grant too only when it has a single holder (keyed to one workload instance): a grant
      // shared by replicas would take their work down with the stolen token.
      if (f.grantId && (!f.jti || (await singleHolder(q, f.grantId)))) {
        const r = await revoke('grant', f.grantId);
        return { response: 'revoke_grant', detail: { grant: f.grantId, revocation_id: r.id, grants_revoked: r.grantsRevoked } };
      }
      if (f.jti) {
        const r = await revoke('jti', f.jti);
        return { response: 'revoke_grant', detail: { jti: f.jti, revocation_id: r.id } };
      }
      return { response: 'alert', detail: { note: 'revoke_grant wanted, but the finding names no grant or token' } };
    }
    case 'suspend': {
      const before = await statusOf(q, f.identity);
      if (before === 'active' || before === 'unowned') {
        await deps.setStatusIn(q, f.identity, 'suspended');
        emit({ type: 'identity.suspended', actor: DETECTOR_ACTOR, identity: f.identity, data: { reason, finding: f.id } });
      }
      const r = await revoke('identity', f.identity);
      return { response: 'suspend', detail: { status_before: before, revocation_id: r.id, grants_revoked: r.grantsRevoked } };
    }
    case 'revoke_identity': {
      const r = await revoke('identity', f.identity);
      return { response: 'revoke_identity', detail: { revocation_id: r.id, grants_revoked: r.grantsRevoked } };
    }
  }
}

/** Undoes what can be undone of a finding's response; returns what was done, part by part. */
export async function reverseIn(q: Queryable, emit: Emit, deps: ResponderDeps, f: FindingView, reason: string, actor: string): Promise<Record<string, unknown>> {
  const detail = (f.evidence.response_detail ?? {}) as { status_before?: Status | null; revocation_id?: number };
  const out: Record<string, unknown> = {};
  if (f.response === 'suspend') {
    const now = await statusOf(q, f.identity);
    if (now === 'suspended') {
      const back: Status = detail.status_before === 'unowned' ? 'unowned' : 'active';
      await deps.setStatusIn(q, f.identity, back);
      emit({ type: 'identity.reactivated', actor, identity: f.identity, data: { reason, finding: f.id, status: back } });
      out.identity = back;
    } else out.identity = `left ${now ?? 'absent'}: it is no longer suspended`;
  }
  if (f.response === 'require_approval' || f.response === 'narrow') out.approval = 'lifted';
  if (detail.revocation_id !== undefined) out.revocation = 'kept: revoked tokens stay revoked; the workload exchanges for new ones';
  return out;
}
