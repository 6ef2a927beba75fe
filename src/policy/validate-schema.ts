/**
 * Strict validation against the Cedar schema before a set is activated (DESIGN.md "Policy model").
 * `validate` answers `type: "success"` even when it found errors, so the error list is what decides.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { invalidRequest } from '../errors.js';
import { formatCedarError, type SourceSpot } from './cedar-error.js';
import { refuseDeepText, refuseManyCommonTypes } from './nesting.js';
import type { ParsedPolicy } from './split-policies.js';

/** Throws invalid_request listing every validation error; returns the warnings otherwise. */
export function validateAgainstSchema(
  policies: readonly ParsedPolicy[],
  files: Readonly<Record<string, string>>,
  schema: string,
): string[] {
  refuseDeepText(schema, 'schema');
  refuseManyCommonTypes(schema, 'schema');
  const byId = new Map(policies.map((p) => [p.id, p]));
  const staticPolicies: Record<string, string> = {};
  for (const p of policies) staticPolicies[p.id] = p.text;
  const answer = cedar.validate({
    schema,
    policies: { staticPolicies },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') {
    // The policies parsed already, so a failure here is the schema's: its offsets point into it.
    const spot: SourceSpot = { file: 'schema', fileText: schema, parsedText: schema, offset: 0 };
    throw invalidRequest(answer.errors.map((e) => formatCedarError(e, spot)).join('; '));
  }
  const describe = (v: cedar.ValidationError): string => {
    const p = byId.get(v.policyId);
    if (p === undefined) return formatCedarError(v.error);
    const spot: SourceSpot =
      p.offset >= 0
        ? { file: p.file, fileText: files[p.file] ?? '', parsedText: p.text, offset: p.offset }
        : { file: p.file, fileText: p.text, parsedText: p.text, offset: 0 };
    return `${formatCedarError(v.error, spot)} [policy ${JSON.stringify(p.id)}]`;
  };
  if (answer.validationErrors.length > 0) {
    throw invalidRequest(
      `policy set does not validate against the schema: ${answer.validationErrors.map(describe).join('; ')}`,
    );
  }
  return [
    ...answer.validationWarnings.map(describe),
    ...answer.otherWarnings.map((w) => formatCedarError(w)),
  ];
}
