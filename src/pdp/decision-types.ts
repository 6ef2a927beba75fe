/**
 * The one decision pipeline's input and output, shared by every entry point (AuthZEN now, ext-authz
 * after token and DPoP verification). Inputs are untrusted JSON where they come from a PEP
 * (`properties`, `context`); the pipeline converts them (cedar-values.ts) and answers 400 for what
 * Cedar cannot hold.
 */
export type DecisionEntry = 'authzen' | 'ext-authz';

export interface DecisionEntityInput {
  readonly type: string;
  readonly id: string;
  /** Laid over the stored attributes for this decision; ignored for inventory identities. */
  readonly properties?: Readonly<Record<string, unknown>> | undefined;
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
  readonly task?: { readonly id: string; readonly purpose?: string | undefined } | undefined;
}

export interface DecisionHttpRequest {
  readonly method: string;
  readonly path: string;
  readonly source_ip?: string | undefined;
}

export interface DecideInput {
  readonly entry: DecisionEntry;
  readonly principal: DecisionEntityInput;
  readonly action: { readonly name: string; readonly properties?: Readonly<Record<string, unknown>> | undefined };
  readonly resource: DecisionEntityInput;
  /** The PEP's context; Tether's own members (phase, risk, now, …) are laid over it and always win. */
  readonly context?: Readonly<Record<string, unknown>> | undefined;
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
}

export interface DecideOutput {
  readonly decision: boolean;
  readonly reasons: DecisionReasons;
  /** `seq` of the audit event that records this decision (durable before the answer is given). */
  readonly auditSeq: number;
  /** Policy version that decided, or null when none is active. */
  readonly policyVersion: number | null;
}
