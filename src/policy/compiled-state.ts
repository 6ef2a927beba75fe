/**
 * What a CompiledPolicySet handle stands for. Kept in a WeakMap keyed by the handle so callers cannot
 * reach or alter preparsed ids and partitions (the domain exports functions and types, never tables).
 */
import type { PolicyObligations } from './obligations.js';
import type { PolicyReads } from './reads.js';
import type { CedarEntityJson, CompiledPolicySet } from './types.js';

/** One preparsed Cedar policy set. */
export interface PreparsedPart {
  readonly cedarSetId: string;
  readonly size: number;
  /** What its policies can read of a request (reads.ts): Cedar is handed only that. */
  readonly reads: PolicyReads;
}

export interface CompiledState {
  /** Preparsed set per action key; actions not in the map use `others`. */
  readonly byAction: ReadonlyMap<string, PreparsedPart>;
  readonly others: PreparsedPart;
  /** Every policy, for requests that bring their own action entities (see evaluate.ts). */
  readonly full: PreparsedPart;
  /** Action key → the action and its ancestor entities, for actions that belong to groups. */
  readonly chains: ReadonlyMap<string, readonly CedarEntityJson[]>;
  /** Ids of the forbid policies: an error in one of them denies (see evaluate.ts). */
  readonly forbids: ReadonlySet<string>;
  readonly obligations: ReadonlyMap<string, PolicyObligations>;
  readonly annotations: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly policyIds: readonly string[];
  /** Every Cedar set id this version preparsed, released by dispose. */
  readonly cedarSetIds: readonly string[];
  disposed: boolean;
}

const states = new WeakMap<CompiledPolicySet, CompiledState>();

export function register(handle: CompiledPolicySet, state: CompiledState): void {
  states.set(handle, state);
}

export function stateOf(handle: CompiledPolicySet): CompiledState {
  const state = states.get(handle);
  // A programming error (a hand-made object), not a request problem: the renderer makes it a 500.
  if (state === undefined) throw new TypeError('not a compiled policy set');
  return state;
}
