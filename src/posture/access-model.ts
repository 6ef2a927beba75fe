/**
 * Everything blast-radius analysis needs from configuration, read once per report: the active policy
 * set (compiled once), the action names policies and routes know, and the resources to ask about.
 *
 * Routes are read leniently (any `action`/`actions`, `resource_type`/`resource.type` and `audience`
 * members anywhere in a route's config) so that this keeps working whatever shape the route domain
 * settles on; a route we cannot read simply adds nothing.
 */
import { compilePolicySet, disposePolicySet, type CedarEntityJson, type CompiledPolicySet } from '../policy/index.js';
import { descendants, buildActionHierarchy, isActionType, refKey } from '../policy/action-hierarchy.js';
import { splitPolicyFiles, type ParsedPolicy } from '../policy/split-policies.js';
import type { Queryable } from '../store/index.js';

/**
 * The Cedar resource type of an issue-phase decision: DESIGN.md says the token-exchange resource is
 * the requested audience. Types seen in audited issue-phase decisions are asked about as well, so a
 * token endpoint that names it differently is still covered.
 */
export const ISSUE_RESOURCE_TYPE = 'Audience';

/** Stands for every audience when none is known (no routes, no issuance yet, none named in policies). */
export const ANY_AUDIENCE = '*';

/** `Type::"id"` in policy text (namespaced types included). */
const ENTITY_LITERAL = /([A-Za-z_][A-Za-z0-9_]*(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*::\s*"((?:[^"\\]|\\.)*)"/g;

/** At most this many concrete entities of one type are asked about (plus one placeholder). */
const ENTITIES_PER_TYPE = 5;

export interface ResourceCandidate {
  readonly type: string;
  readonly id: string;
  /** The candidate and its ancestors, as Cedar needs them. */
  readonly entities: readonly CedarEntityJson[];
}

export interface AccessModel {
  readonly version: number | null;
  readonly set: CompiledPolicySet | null;
  readonly policies: readonly ParsedPolicy[];
  /** Action ids (type `Action`) named by policies, routes, or seen in use. */
  readonly actions: ReadonlySet<string>;
  /** Request-phase resources by type. */
  readonly resources: ReadonlyMap<string, ResourceCandidate[]>;
  /** Audiences of routes that serve a resource type (request-phase entries carry them). */
  readonly audiencesByType: ReadonlyMap<string, ReadonlySet<string>>;
  /** Every audience known: routes, and seen in issuance. */
  readonly audiences: ReadonlySet<string>;
  /** Issue-phase resource types: ISSUE_RESOURCE_TYPE plus any seen in audited issue decisions. */
  readonly issueTypes: ReadonlySet<string>;
  /** Identity ids written literally in some policy: their decisions cannot be shared with look-alikes. */
  readonly namedPrincipals: ReadonlySet<string>;
  /** Non-action entities of config_docs 'entities', by refKey. */
  readonly entities: ReadonlyMap<string, CedarEntityJson>;
  dispose(): void;
}

/** What usage analysis saw, widening the known actions and resources. */
export interface SeenInUse {
  readonly actions: Iterable<string>;
  readonly audiences: Iterable<string>;
  /** `type` → a few ids seen in request-phase decisions. */
  readonly resources: ReadonlyMap<string, ReadonlySet<string>>;
  /** Resource types seen in issue-phase decisions. */
  readonly issueTypes: Iterable<string>;
}

export interface PolicySource {
  version: number;
  files: Record<string, string>;
  schema: string | undefined;
}

/** The active policy set's sources, or null when none was ever activated. */
export async function loadActivePolicySource(db: Queryable): Promise<PolicySource | null> {
  const r = await db.query<{ version: string | number; files: Record<string, string>; schema_text: string | null }>(
    'SELECT s.version, s.files, s.schema_text FROM policy_active a JOIN policy_sets s ON s.version = a.version WHERE a.id = 1',
  );
  const row = r.rows[0];
  return row ? { version: Number(row.version), files: row.files ?? {}, schema: row.schema_text ?? undefined } : null;
}

export async function loadPolicySource(db: Queryable, version: number): Promise<PolicySource | null> {
  const r = await db.query<{ version: string | number; files: Record<string, string>; schema_text: string | null }>(
    'SELECT version, files, schema_text FROM policy_sets WHERE version = $1',
    [version],
  );
  const row = r.rows[0];
  return row ? { version: Number(row.version), files: row.files ?? {}, schema: row.schema_text ?? undefined } : null;
}

export async function loadEntitiesDoc(db: Queryable): Promise<CedarEntityJson[]> {
  const r = await db.query<{ body: unknown }>("SELECT body FROM config_docs WHERE key = 'entities'");
  const body = r.rows[0]?.body;
  const list = Array.isArray(body) ? body : body && typeof body === 'object' && Array.isArray((body as { entities?: unknown }).entities) ? (body as { entities: unknown[] }).entities : [];
  return list.filter(isEntity).map((e) => ({ uid: { type: e.uid.type, id: e.uid.id }, attrs: e.attrs ?? {}, parents: e.parents ?? [] }));
}

export interface RouteFacts {
  readonly actions: Set<string>;
  readonly types: Set<string>;
  readonly audiencesByType: Map<string, Set<string>>;
  readonly audiences: Set<string>;
}

export async function loadRouteFacts(db: Queryable): Promise<RouteFacts> {
  const r = await db.query<{ config: unknown }>('SELECT config FROM routes');
  const facts: RouteFacts = { actions: new Set(), types: new Set(), audiencesByType: new Map(), audiences: new Set() };
  for (const row of r.rows) readRoute(row.config, facts);
  return facts;
}

/**
 * Builds the model. `source` is the policy set to analyse (the active one for a report; an old and a
 * new one when a review compares versions). Throws only on a set that no longer compiles, which the
 * caller reports as "no policy set" rather than failing the report.
 */
export function buildAccessModel(source: PolicySource | null, entityDoc: readonly CedarEntityJson[], routes: RouteFacts, seen: SeenInUse): AccessModel {
  const actionEntities = entityDoc.filter((e) => isActionType(e.uid.type));
  const others = entityDoc.filter((e) => !isActionType(e.uid.type));
  let set: CompiledPolicySet | null = null;
  let policies: ParsedPolicy[] = [];
  const actions = new Set<string>();
  if (source && Object.keys(source.files).length > 0) {
    policies = splitPolicyFiles(source.files);
    set = compilePolicySet({ files: source.files, ...(source.schema ? { schema: source.schema } : {}), entities: actionEntities });
    const hierarchy = buildActionHierarchy(actionEntities, source.schema);
    for (const p of policies) {
      if (p.effect !== 'permit') continue;
      const scope = p.actionScope;
      const named = scope.kind === 'eq' ? [scope.action] : scope.kind === 'in' ? scope.actions : [];
      for (const a of named) {
        const below = descendants(hierarchy, a);
        // A group stands for its members; a name with no members is an action in its own right.
        if (below.length === 0 && a.type === 'Action') actions.add(a.id);
        for (const d of below) if (d.type === 'Action') actions.add(d.id);
      }
    }
  }
  for (const a of routes.actions) actions.add(a);
  for (const a of seen.actions) actions.add(a);

  const entities = new Map(others.map((e) => [refKey(e.uid), e]));
  const resources = new Map<string, ResourceCandidate[]>();
  const addCandidate = (type: string, id: string) => {
    if (type === 'Identity') return;
    const list = resources.get(type) ?? [];
    if ((list.length >= ENTITIES_PER_TYPE && id !== '*') || list.some((c) => c.id === id)) return;
    list.push({ type, id, entities: withAncestors({ type, id }, entities) });
    resources.set(type, list);
  };
  for (const e of others) addCandidate(e.uid.type, e.uid.id);
  for (const [type, ids] of seen.resources) for (const id of ids) addCandidate(type, id);
  // A placeholder per type: policies that constrain only the type still answer for it.
  for (const type of new Set([...routes.types, ...resources.keys()])) addCandidate(type, '*');

  const audiences = new Set([...routes.audiences, ...seen.audiences]);
  const issueTypes = new Set([ISSUE_RESOURCE_TYPE, ...seen.issueTypes]);

  // Entities written in policies are known too: their audiences, resources and named principals.
  const namedPrincipals = new Set<string>();
  for (const p of policies) {
    for (const m of p.text.matchAll(ENTITY_LITERAL)) {
      const type = m[1]!.replace(/\s+/g, '');
      const id = JSON.parse(`"${m[2]}"`) as string;
      if (type === 'Identity') namedPrincipals.add(id);
      else if (issueTypes.has(type)) audiences.add(id);
      else if (!isActionType(type)) addCandidate(type, id);
    }
  }
  for (const type of resources.keys()) addCandidate(type, '*');
  for (const t of issueTypes) resources.delete(t); // asked about per audience in the issue phase instead
  // With no audience known at all, ask about "any audience" so that issuance is still covered.
  if (audiences.size === 0) audiences.add(ANY_AUDIENCE);

  return {
    version: source?.version ?? null,
    set,
    policies,
    actions,
    resources,
    audiencesByType: routes.audiencesByType,
    audiences,
    namedPrincipals,
    entities,
    issueTypes,
    dispose: () => {
      if (set) disposePolicySet(set);
    },
  };
}

/** The entity and its ancestors from the entities document (at most 32, cycles cut). */
export function withAncestors(ref: { type: string; id: string }, index: ReadonlyMap<string, CedarEntityJson>): CedarEntityJson[] {
  const out: CedarEntityJson[] = [];
  const seen = new Set<string>();
  const stack = [ref];
  while (stack.length > 0 && out.length < 32) {
    const r = stack.pop()!;
    const key = refKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    const e = index.get(key) ?? { uid: { type: r.type, id: r.id }, attrs: {}, parents: [] };
    out.push(e);
    stack.push(...e.parents);
  }
  return out;
}

function readRoute(config: unknown, facts: RouteFacts, audience?: string, depth = 0): void {
  if (depth > 6 || config === null || typeof config !== 'object') return;
  if (Array.isArray(config)) {
    for (const c of config) readRoute(c, facts, audience, depth + 1);
    return;
  }
  const o = config as Record<string, unknown>;
  const aud = typeof o.audience === 'string' ? o.audience : audience;
  if (aud) facts.audiences.add(aud);
  if (typeof o.action === 'string') facts.actions.add(o.action);
  if (Array.isArray(o.actions)) for (const a of o.actions) if (typeof a === 'string') facts.actions.add(a);
  const type =
    typeof o.resource_type === 'string'
      ? o.resource_type
      : o.resource && typeof o.resource === 'object' && typeof (o.resource as { type?: unknown }).type === 'string'
        ? (o.resource as { type: string }).type
        : undefined;
  if (type) {
    facts.types.add(type);
    if (aud) {
      const s = facts.audiencesByType.get(type) ?? new Set<string>();
      s.add(aud);
      facts.audiencesByType.set(type, s);
    }
  }
  for (const [k, v] of Object.entries(o)) if (k !== 'resource' && v && typeof v === 'object') readRoute(v, facts, aud, depth + 1);
}

function isEntity(v: unknown): v is CedarEntityJson {
  if (!v || typeof v !== 'object') return false;
  const e = v as { uid?: { type?: unknown; id?: unknown }; parents?: unknown; attrs?: unknown };
  return !!e.uid && typeof e.uid.type === 'string' && typeof e.uid.id === 'string' && (e.parents === undefined || Array.isArray(e.parents));
}
