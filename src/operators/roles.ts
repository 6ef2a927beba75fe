/**
 * Operator roles (README "Operators"): what a person may do through the admin API. The mapping from
 * admin routes to roles lives in one table at the HTTP edge (server/admin-access.ts).
 *
 * - `admin`: everything, operators included.
 * - `approver`: decides grants, findings and access reviews.
 * - `policy-author`: policies, routes and entities (apply of those sections, dry-run).
 * - `auditor`: reads only (inventory, audit, posture, evidence).
 *
 * Every role reads; only `admin` changes what is not listed for another role (fail closed).
 */
export const ROLES = ['admin', 'approver', 'policy-author', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

/** Who is calling the admin API, as authenticated. `name` is the audit actor. */
export interface OperatorPrincipal {
  readonly name: string;
  readonly role: Role;
  /** The bootstrap admin token (TETHER_ADMIN_TOKEN or the generated one), not a named account. */
  readonly bootstrap: boolean;
}
