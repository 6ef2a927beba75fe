/**
 * The suggested narrower policy of an `unused_permission` finding: the granting policy with its
 * action scope cut down to the actions the identity really used. Built through Cedar's own JSON form
 * and printer, so the suggestion parses and keeps the policy's conditions and annotations.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

/** Policy text with `action in [used]`, or null when nothing it grants was used (remove it instead). */
export function narrowPolicyText(policyText: string, used: readonly string[]): string | null {
  if (used.length === 0) return null;
  const json = cedar.policyToJson(policyText);
  if (json.type === 'failure') return null;
  const entities = [...used].sort().map((id) => ({ type: 'Action', id }));
  const narrowed: cedar.PolicyJson = {
    ...json.json,
    action: entities.length === 1 ? { op: '==', entity: entities[0]! } : { op: 'in', entities },
  };
  const text = cedar.policyToText(narrowed);
  return text.type === 'success' ? text.text : null;
}
