/**
 * What the broker feeds the detector: one event per issuance (token exchange) or per request
 * decision (ext-authz / AuthZEN). The broker builds these from what it already knows when it
 * decides, so detection never has to look anything up: every field a rule needs is on the event.
 */

export type IdentityKind = 'service_account' | 'ci_job' | 'workload' | 'ai_agent' | 'api_client';

export interface DetectionEvent {
  /** `issue` = a token was requested at the token endpoint; `request` = a request was authorized. */
  kind: 'issue' | 'request';
  /** Epoch milliseconds of the decision. Rules use this, not the wall clock, so history can be replayed. */
  at: number;
  identity: string;
  identityKind?: IdentityKind;
  allowed: boolean;
  action: string;
  /** `Type::id` (Cedar entity uid) for requests; the audience for issuance. */
  resource: string;
  grantId?: string;
  jti?: string;
  /** `cnf.jkt` of the token (RFC 9449 §6.1). */
  issuedJkt?: string;
  /** JWK thumbprint of the key that signed the DPoP proof presented with this call. */
  presentedJkt?: string;
  sourceIp?: string;
  environment?: string;
  taskId?: string;
  /** The grant had ended, been revoked or expired when this decision was made. */
  taskEnded?: boolean;
  /** Actions (scopes) granted to the task: the first_seen rule treats these as expected. */
  taskActions?: readonly string[];
  reason?: string;
  /**
   * Refused at the credential stage (expired, revoked, wrong key), not by policy: such refusals are
   * what clients racing expiry or retrying do, so they never count as probing (enumeration).
   */
  credentialStage?: boolean;
  /**
   * Issuances only: the run the task instance belongs to (a digest of a verified subject-token
   * claim, the issuer's `task_attempt.run`) and its attempt number: a later attempt of the same run
   * means this one ended (credential-signals.ts).
   */
  run?: string;
  attempt?: number;
}

/** A JSON-safe copy of the event for evidence (the caller may reuse its event objects). */
export function eventEvidence(e: DetectionEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e };
  if (e.taskActions) out.taskActions = [...e.taskActions];
  return out;
}
