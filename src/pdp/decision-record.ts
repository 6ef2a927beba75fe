/**
 * The `decision` audit event (docs/audit-events.md): what was asked, what Tether added, what decided.
 * It carries enough to replay the decision against another policy set (policy/dry-run.ts via
 * replay.ts) and for detection and posture: principal, action, resource with their request
 * properties, the caller's context and Tether's own context members as they were.
 */
import type { AuditInput, DecisionEventData } from '../audit/index.js';
import type { CheckedInput } from './build-request.js';
import type { DecideInput, DecisionPhase, DecisionStage, Verdict } from './decision-types.js';
import type { OwnContext } from './own-context.js';

export interface DecisionRecordData {
  entry: DecideInput['entry'];
  phase: DecisionPhase;
  /** The stage that decided: credential, identity, route or policy. */
  stage: DecisionStage;
  decision: 'allow' | 'deny';
  /** Obligations of an allow: approval, ttl (seconds), break-glass, bearer; `held` when detection added the approval. */
  obligations?: { approval: boolean; ttl?: number; break_glass: boolean; bearer: boolean; held?: boolean };
  principal: { type: string; id: string; properties?: Record<string, unknown> };
  action: string;
  action_properties?: Record<string, unknown>;
  resource: { type: string; id: string; properties?: Record<string, unknown>; parents?: ReadonlyArray<{ type: string; id: string }> };
  context?: Record<string, unknown>;
  own: OwnContext;
  policies: readonly string[];
  errors: readonly string[];
  reason?: string;
  risk: number;
  policy_version: number | null;
  scopes?: readonly string[];
  jti?: string;
  grant?: string;
  jkt?: string;
  presented_jkt?: string;
  task?: { id: string; purpose?: string | undefined };
  source_ip?: string;
  method?: string;
  path?: string;
}

export function decisionRecord(input: DecideInput, c: CheckedInput, own: OwnContext, v: Verdict, held: boolean): AuditInput {
  const { allow, reasons, policyVersion } = v;
  const data: DecisionRecordData = {
    entry: input.entry,
    phase: own.phase ?? 'request',
    stage: v.stage,
    decision: allow ? 'allow' : 'deny',
    principal: { ...c.principal, ...(c.principalProps ? { properties: c.principalProps } : {}) },
    action: c.action.id,
    resource: { ...c.resource, ...(c.resourceProps ? { properties: c.resourceProps } : {}), ...(c.resourceParents.length ? { parents: c.resourceParents } : {}) },
    own,
    policies: reasons.policies,
    errors: reasons.errors,
    risk: own.risk,
    policy_version: policyVersion,
  };
  if (allow) {
    const o = v.obligations;
    data.obligations = { approval: o.approval, break_glass: o.breakGlass, bearer: o.bearer, ...(o.ttlSeconds !== undefined ? { ttl: o.ttlSeconds } : {}), ...(held ? { held } : {}) };
  }
  if (Object.keys(c.actionProps).length) data.action_properties = c.actionProps;
  if (input.recordContext !== undefined) data.context = input.recordContext;
  else if (Object.keys(c.callerContext).length) data.context = c.callerContext;
  if (reasons.reason !== undefined) data.reason = reasons.reason;
  const t = input.token;
  if (t) {
    data.scopes = t.scopes;
    data.jti = t.jti;
    data.grant = t.grant;
    data.jkt = t.jkt;
    if (t.presented_jkt !== undefined) data.presented_jkt = t.presented_jkt;
    if (t.task !== undefined) data.task = t.task;
  }
  const r = input.request;
  if (r) {
    data.method = r.method;
    data.path = r.path;
    if (r.source_ip !== undefined) data.source_ip = r.source_ip;
  }
  return {
    type: 'decision',
    // The token endpoint's decisions are the workload's own acts (as token.issued names them).
    actor: input.entry === 'token' ? c.principal.id : input.entry,
    identity: c.principal.type === 'Identity' ? c.principal.id : undefined,
    // As built: the writer canonicalises it once (RFC 8785, audit/canonical-json.ts), which drops
    // undefined members and reads null-prototype records as plain ones, so the stored text is the
    // same as after a JSON round trip, without paying for one on every decision.
    data: data as unknown as DecisionEventData,
  };
}
