/**
 * Public types of the Cedar engine. Values are Cedar JSON (the shape `isAuthorized` reads), so callers
 * convert untrusted input first (pdp/cedar-values.ts): this layer trusts what it is given.
 */

/** `{type, id}` of a Cedar entity, e.g. `{ type: 'Identity', id: 'ci/acme-api-deploy' }`. */
export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

/** A Cedar JSON value: sets are arrays, records are objects, entity refs use the `__entity` escape. */
export type CedarJsonValue =
  | string
  | number
  | boolean
  | readonly CedarJsonValue[]
  | { readonly __entity: EntityRef }
  | { readonly [key: string]: CedarJsonValue };

/** A Cedar JSON entity, as `isAuthorized` takes it. */
export interface CedarEntityJson {
  readonly uid: EntityRef;
  readonly attrs: Readonly<Record<string, CedarJsonValue>>;
  readonly parents: readonly EntityRef[];
  readonly tags?: Readonly<Record<string, CedarJsonValue>>;
}

export interface CompileInput {
  /** File name → Cedar policy text. File names appear in errors and in `<file>:<index>` policy ids. */
  readonly files: Readonly<Record<string, string>>;
  /** Cedar schema text; when given, every policy must validate (strict mode) against it. */
  readonly schema?: string;
  /**
   * Action entities only (`Action::"x"` or `NS::Action::"x"`): their `parents` declare action groups
   * for `action in Action::"group"`. They are added to each decision that needs them, so callers
   * pass only principal, resource and their parents. Action groups declared in the schema count too.
   */
  readonly entities?: readonly CedarEntityJson[];
}

/** Obligations carried by policy annotations (DESIGN.md "Policy model"). */
export interface Obligations {
  /** `@approval("required")` (or a number of approvers) on a determining policy. */
  readonly approval: boolean;
  /** How many distinct operators must approve: 1 for "required", N for `@approval("N")`; the largest asked. */
  readonly approvals?: number;
  /** Smallest `@ttl("<ISO-8601 duration>")` over the determining policies, in seconds. */
  readonly ttlSeconds?: number;
  /** `@break_glass("allowed")` on a determining policy. */
  readonly breakGlass: boolean;
  /** Every determining policy says `@bearer("allowed")`: a token without DPoP binding may be issued. */
  readonly bearer: boolean;
}

export interface DecisionRequest {
  readonly principal: EntityRef;
  readonly action: EntityRef;
  readonly resource: EntityRef;
  /** Cedar JSON record; `{}` when there is none. */
  readonly context: Readonly<Record<string, unknown>>;
  /** The entities this decision needs (principal, resource, their parents), not the whole inventory. */
  readonly entities: readonly CedarEntityJson[];
}

export interface DecisionResult {
  readonly decision: 'allow' | 'deny';
  /** Ids of the determining policies (the permits that allowed, or the forbids that denied). */
  readonly policies: readonly string[];
  /** Evaluation errors, as `<policy id>: <message>` or the message of a request Cedar refused. */
  readonly errors: readonly string[];
  readonly obligations: Obligations;
}

/**
 * An immutable, compiled policy set: one version. Its internals (preparsed Cedar sets, partitions)
 * are out of reach; use the functions of this domain on it.
 */
export interface CompiledPolicySet {
  /** Unique per compile, even for identical sources: two versions can be live at once. */
  readonly version: string;
  /** SHA-256 (hex) of the canonical sources (files sorted by name, schema, entities). */
  readonly sourceHash: string;
  /** Validator warnings (e.g. an impossible policy), as `<file>:<line>:<col>: <policy id>: <message>`. */
  readonly warnings: readonly string[];
}
