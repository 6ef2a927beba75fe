/**
 * Every audit event type and the shape of its `data`, in one place (docs/audit-events.md says the
 * same; test/audit/events-doc.test.ts keeps the two in step). Writers are checked against it by the
 * compiler (`AuditInput` is a union over these types), and readers narrow a stored record with
 * `dataOf` instead of re-parsing `data` by hand.
 *
 * Shapes list the members readers rely on; events may carry more (extra members are informative).
 */
type Data = Record<string, unknown>;

/** What a `decision` event records (pdp/decision-record.ts builds it). */
export interface DecisionEventData extends Data {
  entry: 'authzen' | 'ext-authz' | 'token' | 'mcp' | 'credentials';
  phase: 'issue' | 'request';
  stage?: 'credential' | 'identity' | 'route' | 'policy';
  decision: 'allow' | 'deny';
  action?: string;
  principal?: { type: string; id: string; properties?: Data };
  resource?: { type: string; id: string; properties?: Data };
  policies?: readonly string[];
  errors?: readonly string[];
  reason?: string;
  risk?: number;
  /** Tether's own context members as they were (pdp/own-context.ts). */
  own?: Data & { phase?: 'issue' | 'request'; environment?: string; break_glass?: boolean };
  obligations?: { approval: boolean; ttl?: number; break_glass: boolean; bearer: boolean; held?: boolean };
  policy_version?: number | null;
  /** Request time, from the verified access token. */
  scopes?: readonly string[];
  jti?: string;
  grant?: string;
  jkt?: string;
  presented_jkt?: string;
  task?: { id: string; purpose?: string };
  /** The HTTP request decided on, as the gateway reported it. */
  method?: string;
  path?: string;
  source_ip?: string;
}

export interface TokenIssuedData extends Data {
  jti: string;
  grant: string;
  aud: string;
  scope: readonly string[];
  jkt: string | null;
  iat: number;
  exp: number;
  ttl: number;
  issuer: string;
  client_id?: string;
  bearer?: boolean;
  break_glass?: boolean;
  policies?: readonly string[];
  reused_grant?: boolean;
  source_ip?: string;
  /** RFC 8693 §4.1 delegation chain, when the token was issued to an actor. */
  act?: Data;
  /** The Tether token this one was exchanged from (delegation or downscoping). */
  delegated_from?: { jti: string; grant: string };
}

export interface GrantData extends Data {
  grant: string;
  /** grant.approved / grant.denied: who decided. */
  approver?: string;
}

/** Event type → data shape. Adding an event means adding it here and to docs/audit-events.md. */
export interface AuditEventData {
  'identity.created': Data;
  'identity.updated': Data;
  'identity.retired': Data;
  'identity.discovered': Data;
  'identity.suspended': Data;
  'identity.reactivated': Data;
  'config.applied': { changes: number };
  'policy.activated': Data & { version: number; source_hash: string };
  'policy.refused': { error: string };
  'issuer.upserted': Data;
  'issuer.deleted': Data;
  'issuer.restored': Data;
  'route.upserted': Data;
  'mcp_server.upserted': Data;
  'mcp.approval_consumed': Data & { grant: string; tool: string; arguments_sha256: string };
  'entities.replaced': Data;
  'grant.opened': GrantData;
  'grant.pending': GrantData;
  'grant.approved': GrantData;
  'grant.denied': GrantData;
  'grant.break_glass': GrantData;
  'grant.confirmed': GrantData;
  'grant.break_glass_unconfirmed': GrantData;
  'grant.ended': GrantData;
  'grant.expired': GrantData;
  'token.issued': TokenIssuedData;
  'token.refused': Data & { error: string; reason: string };
  'token.revoked': Data;
  'revocation.created': Data;
  decision: DecisionEventData;
  /** The finding as raised (detect/finding.ts): its id, rule, severity, evidence. */
  'finding.raised': { finding: Data & { id?: string; rule?: string; severity?: 'low' | 'medium' | 'high' | 'critical' } };
  'finding.responded': Data;
  'finding.resolved': Data;
  'finding.reversed': Data;
  'keys.created': Data;
  'keys.rotated': Data;
  'review.opened': Data;
  'review.decided': Data;
  'operator.created': Data & { operator: string; role: string };
  'operator.revoked': Data & { operator: string };
  'operator.auth_failed': Data & { reason: string; source_ip: string };
  'operator.forbidden': Data & { operator: string; role: string };
  'operator.session_started': Data & { operator: string; role: string; source_ip: string; expires_at: string };
  'operator.session_ended': Data & { operator: string; reason: string };
  /** Legacy bridge (connectors/): a connector's config as applied (it names where its secret is, never the secret). */
  'connector.upserted': Data & { connector: Data };
  /** A per-task account made on a target. Never its password. */
  'credential.issued': CredentialData & { expires_at: string; jti: string };
  /** A credential request that got no account (refused by the target, or the lease could not be recorded). */
  'credential.failed': Data & { connector: string; role: string; reason: string };
  /** An operator asked for one lease to end now (the sweeper does it; `credential.ended` follows). */
  'credential.ending': CredentialData & { reason: string };
  /** The account is gone from the target: disabled, its sessions terminated, dropped. */
  'credential.ended': CredentialData & { reason: string; sessions_killed: number; attempts: number };
  /** One attempt to end an account failed (the target is down, …); it is retried with backoff. */
  'credential.end_failed': CredentialData & { reason: string; error: string; attempts: number; next_attempt_at: string };
}

/** What every credential lease event names. */
export interface CredentialData extends Data {
  lease: string;
  connector: string;
  role: string;
  username: string;
  grant: string;
}

export type AuditEventType = keyof AuditEventData;

/** The runtime list of event types (the compiler checks it names every key, and only those). */
const TYPES: { readonly [K in AuditEventType]: true } = {
  'identity.created': true,
  'identity.updated': true,
  'identity.retired': true,
  'identity.discovered': true,
  'identity.suspended': true,
  'identity.reactivated': true,
  'config.applied': true,
  'policy.activated': true,
  'policy.refused': true,
  'issuer.upserted': true,
  'issuer.deleted': true,
  'issuer.restored': true,
  'route.upserted': true,
  'mcp_server.upserted': true,
  'mcp.approval_consumed': true,
  'entities.replaced': true,
  'grant.opened': true,
  'grant.pending': true,
  'grant.approved': true,
  'grant.denied': true,
  'grant.break_glass': true,
  'grant.confirmed': true,
  'grant.break_glass_unconfirmed': true,
  'grant.ended': true,
  'grant.expired': true,
  'token.issued': true,
  'token.refused': true,
  'token.revoked': true,
  'revocation.created': true,
  decision: true,
  'finding.raised': true,
  'finding.responded': true,
  'finding.resolved': true,
  'finding.reversed': true,
  'keys.created': true,
  'keys.rotated': true,
  'review.opened': true,
  'review.decided': true,
  'operator.created': true,
  'operator.revoked': true,
  'operator.auth_failed': true,
  'operator.forbidden': true,
  'operator.session_started': true,
  'operator.session_ended': true,
  'connector.upserted': true,
  'credential.issued': true,
  'credential.failed': true,
  'credential.ending': true,
  'credential.ended': true,
  'credential.end_failed': true,
};
export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = Object.freeze(Object.keys(TYPES) as AuditEventType[]);

export function isAuditEventType(t: string): t is AuditEventType {
  return Object.prototype.hasOwnProperty.call(TYPES, t);
}

/** One event to append: its type and that type's data (the discriminated union writers use). */
export type TypedAuditInput = {
  [K in AuditEventType]: {
    type: K;
    /** Who did it: 'admin', 'system', a workload identity id, 'detector', ... */
    actor?: string | undefined;
    /** The identity the event is about, for filtering. */
    identity?: string | undefined;
    data?: AuditEventData[K] | undefined;
  };
}[AuditEventType];

/** A stored record's data as its type says, or null when the record is of another type. */
export function dataOf<K extends AuditEventType>(record: { type: string; data: Record<string, unknown> }, type: K): AuditEventData[K] | null {
  return record.type === type ? (record.data as AuditEventData[K]) : null;
}
