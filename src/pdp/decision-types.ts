/**
 * The authorization kernel's input and output, shared by every entry point: the token endpoint
 * (phase `issue`, once per requested action), ext-authz after token and DPoP verification and AuthZEN
 * (phase `request`). Inputs are untrusted JSON where they come from a PEP (`properties`, `context`);
 * the kernel converts them (cedar-values.ts) and answers 400 for what Cedar cannot hold.
 */
import type { Obligations } from '../policy/index.js';

export type DecisionEntry = 'authzen' | 'ext-authz' | 'token' | 'mcp' | 'credentials';

/** DESIGN.md "Policy model": `context.phase` (contract). */
export type DecisionPhase = 'issue' | 'request';

/**
 * Which stage of the decision answered: the credential (token checks, scopes as an upper bound), the
 * identity gate (inventory status and owner), the route rules (ext-authz) or policy (Cedar).
 */
export type DecisionStage = 'credential' | 'identity' | 'route' | 'policy';

/** What a verified token-exchange request contributes to an issue-phase decision. */
export interface IssuanceFacts {
  /** Name of the trusted issuer that verified the subject token. */
  readonly issuer: string;
  readonly breakGlass: boolean;
  readonly task: { readonly purpose?: string | undefined; readonly ticket?: string | undefined };
}

export interface DecisionEntityInput {
  readonly type: string;
  readonly id: string;
  /** Laid over the stored attributes for this decision; ignored for inventory identities. */
  readonly properties?: Readonly<Record<string, unknown>> | undefined;
  /** Resource only, Tether's own entry points only (ignored from AuthZEN): parents besides entities.json's. */
  readonly parents?: ReadonlyArray<{ readonly type: string; readonly id: string }> | undefined;
}

/** What the verified access token contributes (ext-authz); scopes are an upper bound on the action. */
export interface DecisionToken {
  readonly jti: string;
  readonly grant: string;
  readonly scopes: readonly string[];
  /** RFC 8693 §4.1 `act` claim (delegation chain), as verified. */
  readonly act?: Readonly<Record<string, unknown>> | undefined;
  /** `cnf.jkt` of the token (RFC 9449 §6.1). */
  readonly jkt: string;
  /** Thumbprint of the key that signed the presented DPoP proof (recorded for detection). */
  readonly presented_jkt?: string | undefined;
  readonly task?: { readonly id: string; readonly purpose?: string | undefined; readonly ticket?: string | undefined } | undefined;
  /** The grant was opened as break-glass (from the verified token; false when not said). */
  readonly break_glass?: boolean | undefined;
  /** Name of the issuer that vouched for the workload at issuance (from the verified token). */
  readonly issuer?: string | undefined;
  /** How the grant passed an approval obligation (verified token claim); undefined when none was asked. */
  readonly approval?: 'human' | 'break_glass' | undefined;
  /** How many distinct operators approved the grant (verified token claim). */
  readonly approvals?: number | undefined;
}

export interface DecisionHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly source_ip?: string | undefined;
}

export interface DecideInput {
  readonly entry: DecisionEntry;
  /** `request` unless given; the token endpoint asks with `issue`. */
  readonly phase?: DecisionPhase | undefined;
  /** Phase `issue` only: the verified exchange's task, break-glass and issuer. */
  readonly issuance?: IssuanceFacts | undefined;
  readonly principal: DecisionEntityInput;
  readonly action: { readonly name: string; readonly properties?: Readonly<Record<string, unknown>> | undefined };
  readonly resource: DecisionEntityInput;
  /** The PEP's context; Tether's own members (phase, risk, now, …) are laid over it and always win. */
  readonly context?: Readonly<Record<string, unknown>> | undefined;
  /**
   * What the decision record keeps of `context` when that differs from what was decided on: the MCP
   * gateway records a digest of a tool call's arguments, never the arguments (they may hold secrets).
   */
  readonly recordContext?: Readonly<Record<string, unknown>> | undefined;
  readonly token?: DecisionToken | undefined;
  readonly request?: DecisionHttpRequest | undefined;
}

export interface DecisionReasons {
  /** Determining policy ids (permits that allowed, forbids that denied). */
  readonly policies: readonly string[];
  /** Evaluation errors, `<policy id>: <message>`. */
  readonly errors: readonly string[];
  /** Why the pipeline denied without (or before) Cedar: scope, identity status, no policy set. */
  readonly reason?: string | undefined;
  /**
   * Set when a permit allowed but its `@approval` obligation is not met by the credential: how many
   * distinct approvers it needs. A PEP that can hold a request for a human (the MCP gateway) reads
   * this, never the prose `reason`.
   */
  readonly approval_required?: number | undefined;
}

export interface DecideOutput {
  readonly decision: boolean;
  readonly reasons: DecisionReasons;
  /** The stage that decided (a deny before Cedar names its stage; Cedar's answers are `policy`). */
  readonly stage: DecisionStage;
  /** Obligations of the determining permits (allow only), plus holds the kernel adds (detection). */
  readonly obligations: Obligations;
  /** Approval is required by a detection hold, not (only) by policy. */
  readonly heldForApproval: boolean;
  /** `seq` of the audit event that records this decision (durable before the answer is given). */
  readonly auditSeq: number;
  /** Policy version that decided, or null when none is active. */
  readonly policyVersion: number | null;
}

/** What the kernel's pure part answers (a live decision, a dry-run replay): before audit and metrics. */
export interface Verdict {
  readonly allow: boolean;
  readonly stage: DecisionStage;
  readonly reasons: DecisionReasons;
  readonly obligations: Obligations;
  readonly policyVersion: number | null;
}
