/**
 * OpenID AuthZEN Authorization API 1.0 request bodies (already JSON-parsed) → typed requests.
 * Pure: no HTTP, no Cedar. The caller has checked the content type and parsed the JSON.
 *
 * What this checks is the AuthZEN shape only (§5 information model, §6 evaluation, §7 evaluations):
 * required members, their JSON types, the batch semantic. It leaves to its caller the conversion of
 * `properties` and `context` to Cedar values (cedar-values.ts), where type names and value limits are
 * enforced. Unknown members are ignored, as the spec asks.
 */
import { invalidRequest, isTetherError } from '../errors.js';
import { idProblem } from '../store/index.js';

export interface AuthzenEntity {
  readonly type: string;
  readonly id: string;
  readonly properties?: Readonly<Record<string, unknown>>;
}

export interface AuthzenAction {
  readonly name: string;
  readonly properties?: Readonly<Record<string, unknown>>;
}

export interface AuthzenEvaluation {
  readonly subject: AuthzenEntity;
  readonly action: AuthzenAction;
  readonly resource: AuthzenEntity;
  readonly context?: Readonly<Record<string, unknown>>;
}

export type EvaluationsSemantic = 'execute_all' | 'deny_on_first_deny' | 'permit_on_first_permit';

/** The top-level members of a batch, each used by an item that does not give its own. */
export interface AuthzenDefaults {
  readonly subject?: AuthzenEntity;
  readonly action?: AuthzenAction;
  readonly resource?: AuthzenEntity;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** One batch item after defaults: a complete request, or why not (the caller answers `decision: false`). */
export type AuthzenItem =
  | { readonly ok: true; readonly request: AuthzenEvaluation }
  | { readonly ok: false; readonly error: string };

export interface AuthzenEvaluations {
  readonly defaults: AuthzenDefaults;
  readonly items: readonly AuthzenItem[];
  readonly semantic: EvaluationsSemantic;
  /** Set when `evaluations` is missing or empty: answer like the single endpoint (§7.1). */
  readonly single?: AuthzenEvaluation;
}

/** Most items one batch may carry; more is refused as a whole. */
export const MAX_EVALUATIONS = 1000;

const SEMANTICS: readonly EvaluationsSemantic[] = ['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'];
const MEMBERS = ['subject', 'action', 'resource', 'context'] as const;

/** `POST /access/v1/evaluation`: throws invalid_request naming the first bad member. */
export function parseEvaluation(body: unknown): AuthzenEvaluation {
  const top = requireObject(body, 'request body');
  return complete(parseMembers(top, ''), '');
}

/**
 * `POST /access/v1/evaluations`. Throws for a request that is malformed as a whole; an item that is
 * incomplete or malformed after defaults becomes `{ok: false}` so the rest of the batch is answered.
 */
export function parseEvaluations(body: unknown): AuthzenEvaluations {
  const top = requireObject(body, 'request body');
  const semantic = parseSemantic(top['options']);
  const defaults = parseMembers(top, '');
  const list = top['evaluations'];
  if (list !== undefined && !Array.isArray(list)) throw invalidRequest('evaluations must be an array');
  if (list === undefined || list.length === 0) {
    return { defaults, items: [], semantic, single: complete(defaults, '') };
  }
  if (list.length > MAX_EVALUATIONS) {
    throw invalidRequest(`evaluations has ${list.length} items; at most ${MAX_EVALUATIONS} are allowed`);
  }
  const items = list.map((item: unknown, i): AuthzenItem => {
    const at = `evaluations[${i}].`;
    try {
      const own = parseMembers(requireObject(item, `evaluations[${i}]`), at);
      // Each member is taken whole from the item or from the defaults, never merged (§7.1).
      const merged: AuthzenDefaults = {
        subject: own.subject ?? defaults.subject,
        action: own.action ?? defaults.action,
        resource: own.resource ?? defaults.resource,
        context: own.context ?? defaults.context,
      };
      return { ok: true, request: complete(merged, at) };
    } catch (e) {
      if (isTetherError(e) && e.code === 'invalid_request') return { ok: false, error: e.message };
      throw e;
    }
  });
  return { defaults, items, semantic };
}

function parseSemantic(options: unknown): EvaluationsSemantic {
  if (options === undefined) return 'execute_all';
  const o = requireObject(options, 'options');
  const s = o['evaluations_semantic'];
  if (s === undefined) return 'execute_all';
  const known = SEMANTICS.find((k) => k === s);
  if (known === undefined) {
    throw invalidRequest(`options.evaluations_semantic must be one of ${SEMANTICS.join(', ')}`);
  }
  return known;
}

/** Parse whichever of subject/action/resource/context are present; a present member must be well-formed. */
function parseMembers(obj: Record<string, unknown>, at: string): AuthzenDefaults {
  const out: {
    subject?: AuthzenEntity;
    action?: AuthzenAction;
    resource?: AuthzenEntity;
    context?: Readonly<Record<string, unknown>>;
  } = {};
  for (const m of MEMBERS) {
    const v = obj[m];
    if (v === undefined) continue;
    if (m === 'action') out.action = parseAction(v, `${at}action`);
    else if (m === 'context') out.context = requireObject(v, `${at}context`);
    else out[m] = parseEntity(v, `${at}${m}`);
  }
  return out;
}

function complete(m: AuthzenDefaults, at: string): AuthzenEvaluation {
  if (m.subject === undefined) throw invalidRequest(`${at}subject is required`);
  if (m.action === undefined) throw invalidRequest(`${at}action is required`);
  if (m.resource === undefined) throw invalidRequest(`${at}resource is required`);
  const base = { subject: m.subject, action: m.action, resource: m.resource };
  return m.context === undefined ? base : { ...base, context: m.context };
}

function parseEntity(v: unknown, path: string): AuthzenEntity {
  const o = requireObject(v, path);
  const type = requireString(o['type'], `${path}.type`);
  const id = requireString(o['id'], `${path}.id`);
  const properties = optionalObject(o['properties'], `${path}.properties`);
  return properties === undefined ? { type, id } : { type, id, properties };
}

function parseAction(v: unknown, path: string): AuthzenAction {
  const o = requireObject(v, path);
  const name = requireString(o['name'], `${path}.name`);
  const properties = optionalObject(o['properties'], `${path}.properties`);
  return properties === undefined ? { name } : { name, properties };
}

function requireString(v: unknown, path: string): string {
  if (v === undefined) throw invalidRequest(`${path} is required`);
  if (typeof v !== 'string') throw invalidRequest(`${path} must be a string`);
  if (v === '') throw invalidRequest(`${path} must not be empty`);
  // Ids name the audit identity and reach the store: bounded and printable (store/text.ts).
  const problem = idProblem(v);
  if (problem) throw invalidRequest(`${path} ${problem}`);
  return v;
}

function optionalObject(v: unknown, path: string): Readonly<Record<string, unknown>> | undefined {
  return v === undefined ? undefined : requireObject(v, path);
}

function requireObject(v: unknown, path: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidRequest(`${path} must be an object`);
  return v as Record<string, unknown>;
}
