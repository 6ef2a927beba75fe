/**
 * Cedar policy engine: compile policy files once per version, then decide many times.
 * See DESIGN.md "Policy model (Cedar)" and "Performance budget".
 */
export { compilePolicySet, policyIds, annotations, sourceHash, disposePolicySet } from './compile.js';
export { evaluate } from './evaluate.js';
export type {
  CedarEntityJson,
  CedarJsonValue,
  CompileInput,
  CompiledPolicySet,
  DecisionRequest,
  DecisionResult,
  EntityRef,
  Obligations,
} from './types.js';
