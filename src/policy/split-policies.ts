/**
 * Cut each policy file into single policies, give each a stable id, and read its annotations and
 * action scope. Cedar names policies `policy0`, `policy1`, … and ignores `@id`, so ids are ours:
 * the `@id("...")` annotation when present, else `<file>:<index>`. A file of a named policy set
 * (`<set>::<file>`, DESIGN.md "Policy model") gets its set's prefix on an explicit id too
 * (`<set>::<id>`), so one team can neither take another team's ids (and with them the names audit
 * records and dry-runs show) nor block their apply with a duplicate.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { invalidRequest } from '../errors.js';
import { formatCedarError } from './cedar-error.js';
import { refuseDeepPolicyJson, refuseDeepText } from './nesting.js';
import { parseObligations, type PolicyObligations } from './obligations.js';
import { policyReads, type PolicyReads } from './reads.js';
import type { EntityRef } from './types.js';

/** Which actions a policy's scope admits; conditions in `when`/`unless` are not looked at. */
/** Separates a named policy set from a file name (stored keys) and from a policy id. */
export const POLICY_SET_SEPARATOR = '::';

/** The policy set a stored file key belongs to: the named set before `::`, else the default set. */
export function policySetOf(fileKey: string): string | null {
  const i = fileKey.indexOf(POLICY_SET_SEPARATOR);
  return i < 0 ? null : fileKey.slice(0, i);
}

export type ActionScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'eq'; readonly action: EntityRef }
  | { readonly kind: 'in'; readonly actions: readonly EntityRef[] };

export interface ParsedPolicy {
  readonly id: string;
  readonly file: string;
  readonly text: string;
  /** Offset of `text` in its file, or -1 when Cedar's part is not a verbatim slice. */
  readonly offset: number;
  readonly effect: 'permit' | 'forbid';
  readonly annotations: Readonly<Record<string, string>>;
  readonly obligations: PolicyObligations;
  readonly actionScope: ActionScope;
  /** The attribute and context names it can read (reads.ts). */
  readonly reads: PolicyReads;
}

/** Parse every file; throws invalid_request naming the file (and line) of the first bad one. */
export function splitPolicyFiles(files: Readonly<Record<string, string>>): ParsedPolicy[] {
  const out: ParsedPolicy[] = [];
  const seen = new Map<string, string>();
  // Sorted so that ids, partitions and the first error reported do not depend on key order.
  for (const file of Object.keys(files).sort()) {
    const fileText = files[file] ?? '';
    for (const policy of splitFile(file, fileText)) {
      const other = seen.get(policy.id);
      if (other !== undefined) {
        throw invalidRequest(`${file}: duplicate policy id ${JSON.stringify(policy.id)} (also in ${other})`);
      }
      seen.set(policy.id, file);
      out.push(policy);
    }
  }
  return out;
}

function splitFile(file: string, fileText: string): ParsedPolicy[] {
  refuseDeepText(fileText, file);
  const parts = cedar.policySetTextToParts(fileText);
  if (parts.type === 'failure') {
    throw invalidRequest(cedarMessages(parts.errors, file, fileText, fileText, 0));
  }
  if (parts.policy_templates.length > 0) {
    throw invalidRequest(`${file}: policy templates are not supported; write static policies`);
  }
  const policies: ParsedPolicy[] = [];
  let cursor = 0;
  parts.policies.forEach((text, index) => {
    const offset = fileText.indexOf(text, cursor);
    if (offset >= 0) cursor = offset + text.length;
    const json = cedar.policyToJson(text);
    if (json.type === 'failure') {
      throw invalidRequest(cedarMessages(json.errors, file, fileText, text, offset));
    }
    refuseDeepPolicyJson(json.json, `${file}: policy ${index}`);
    const annotations: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(json.json.annotations ?? {})) annotations[k] = v;
    const explicitId = annotations['id'];
    if (explicitId !== undefined && explicitId.trim() === '') {
      throw invalidRequest(`${file}: policy ${index} has an empty @id`);
    }
    if (explicitId?.includes(POLICY_SET_SEPARATOR)) {
      throw invalidRequest(`${file}: policy ${index}: @id ${JSON.stringify(explicitId)} must not contain "${POLICY_SET_SEPARATOR}" (it names policy sets)`);
    }
    const set = policySetOf(file);
    const id = explicitId === undefined ? `${file}:${index}` : set === null ? explicitId : `${set}${POLICY_SET_SEPARATOR}${explicitId}`;
    const obligations = parseObligations(annotations);
    if ('message' in obligations) {
      const at = annotationPosition(fileText, text, offset, obligations.annotation);
      // Named as its author wrote it; the file key already says the set.
      throw invalidRequest(`${file}: policy ${JSON.stringify(explicitId ?? id)}: ${obligations.message} (at ${file}:${at})`, { annotation: obligations.annotation, file, position: at });
    }
    policies.push({
      id,
      file,
      text,
      offset,
      effect: json.json.effect,
      annotations: Object.freeze(annotations),
      obligations,
      actionScope: actionScope(json.json.action),
      reads: policyReads(json.json),
    });
  });
  return policies;
}

/** `line:col` (1-based) of `@name` in the file; the policy's own start when it cannot be found. */
function annotationPosition(fileText: string, policyText: string, offset: number, name: string): string {
  const base = Math.max(0, offset);
  const m = new RegExp(`@\\s*${name.replace(/[^A-Za-z0-9_]/g, '')}\\s*\\(`).exec(policyText);
  const at = offset >= 0 ? base + (m?.index ?? 0) : (m ? fileText.indexOf(m[0]) : 0);
  const before = fileText.slice(0, Math.max(0, at));
  const line = before.split('\n').length;
  return `${line}:${at - before.lastIndexOf('\n')}`;
}

function actionScope(constraint: cedar.ActionConstraint): ActionScope {
  if (constraint.op === '==' && 'entity' in constraint) {
    return { kind: 'eq', action: entityRef(constraint.entity) };
  }
  if (constraint.op === 'in') {
    const list = 'entities' in constraint ? constraint.entities : [constraint.entity];
    return { kind: 'in', actions: list.map(entityRef) };
  }
  // `All`, or a template slot (refused above): no narrowing.
  return { kind: 'all' };
}

function entityRef(uid: cedar.EntityUidJson): EntityRef {
  const ref = '__entity' in uid ? uid.__entity : uid;
  return { type: ref.type, id: ref.id };
}

function cedarMessages(
  errors: readonly cedar.DetailedError[],
  file: string,
  fileText: string,
  parsedText: string,
  offset: number,
): string {
  // Without a verbatim offset we still name the file, just not the line.
  const spot = { file, fileText: offset >= 0 ? fileText : parsedText, parsedText, offset: Math.max(0, offset) };
  return errors.map((e) => formatCedarError(e, spot)).join('; ');
}
