/**
 * What people are told (README "Notifications"): the audit events an operator acts on, reduced to
 * who, what, why and until when, with a link to the approval in the console. Built from committed
 * audit records, so a notification never announces something that did not happen.
 */
import { dataOf, type AuditRecord } from '../audit/index.js';

export const NOTIFIED_TYPES = ['grant.pending', 'grant.approved', 'grant.denied', 'grant.expired', 'grant.break_glass', 'grant.break_glass_unconfirmed', 'finding.raised'] as const;
export type NotifiedType = (typeof NOTIFIED_TYPES)[number];

export interface Notification {
  /** The audit event type (`grant.pending`, …, `finding.raised`). */
  event: NotifiedType;
  /** The audit record's seq: receivers drop a redelivery by it (delivery is at least once). */
  seq: number;
  ts: string;
  actor: string | null;
  identity: string | null;
  grant?: string;
  actions?: readonly string[];
  audience?: string;
  purpose?: string;
  ticket?: string;
  reason?: string;
  approver?: string;
  approvals?: number;
  approvals_required?: number;
  /** Until when a pending grant may be decided. */
  expires_at?: string;
  justification?: string;
  finding?: { id?: string; rule?: string; severity?: string; summary?: string };
  /** Where an operator decides it (the console). */
  url?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

export function notificationOf(rec: AuditRecord, consoleBase: string): Notification | null {
  if (!(NOTIFIED_TYPES as readonly string[]).includes(rec.type)) return null;
  const event = rec.type as NotifiedType;
  const base = { event, seq: rec.seq, ts: rec.ts, actor: rec.actor ?? null, identity: rec.identity ?? null };
  if (event === 'finding.raised') {
    const f: Record<string, unknown> = dataOf(rec, 'finding.raised')?.finding ?? {};
    const id = str(f.id);
    return { ...base, finding: { id, rule: str(f.rule), severity: str(f.severity), summary: str(f.summary) }, ...(id ? { url: `${consoleBase}/console/findings/${encodeURIComponent(id)}` } : {}) };
  }
  const d = (dataOf(rec, event) ?? {}) as Record<string, unknown>;
  const grant = str(d.grant);
  const task = (typeof d.task === 'object' && d.task !== null ? d.task : {}) as Record<string, unknown>;
  const out: Notification = { ...base };
  if (grant) {
    out.grant = grant;
    out.url = `${consoleBase}/console/approvals/${encodeURIComponent(grant)}`;
  }
  if (Array.isArray(d.actions)) out.actions = d.actions.filter((a): a is string => typeof a === 'string');
  const set = <K extends keyof Notification>(k: K, v: Notification[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('audience', str(d.audience));
  set('purpose', str(task.purpose));
  set('ticket', str(task.ticket));
  set('reason', str(d.reason));
  set('approver', str(d.approver));
  set('approvals', num(d.approvals));
  set('approvals_required', num(d.approvals_required));
  set('expires_at', str(d.decide_by));
  set('justification', str(d.justification));
  return out;
}
