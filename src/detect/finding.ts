/** Findings: what a rule raises. The shape is what the admin API lists and the webhook sends. */
import type { IdentityKind } from './events.js';

export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** Stable rule ids (contract: acceptance checks and operators' filters match on these strings). */
export const RULE_IDS = Object.freeze(['replay', 'enumeration', 'first_seen', 'off_hours', 'rate_spike', 'after_task', 'dormant', 'escalation', 'drift'] as const);
export type RuleId = (typeof RULE_IDS)[number];

export interface Finding {
  /** Random UUID: findings are created on several instances at once, so no sequence. */
  id: string;
  rule: RuleId;
  identity: string;
  severity: Severity;
  status: 'open' | 'resolved';
  /** The offending event(s) and the baseline values they broke; JSON-serialisable. */
  evidence: Record<string, unknown>;
  grantId?: string;
  jti?: string;
  /** Inventory kind of the identity, when known: identity-wide responses are opted in per kind. */
  identityKind?: IdentityKind;
  /** Epoch ms of the event that raised it (event time, so replayed history dates findings correctly). */
  createdAt: number;
  resolvedAt?: number;
  resolution?: string;
}
