/**
 * Versioned policy sets (DESIGN.md "Policy model": validated before activation, versioned, audited).
 * A candidate is identified by its source hash: the same files and schema as the active version change
 * nothing and emit nothing (applying a directory twice is a no-op). Anything else is compiled first:
 * a parse or validation error throws invalid_request naming the file, the surrounding transaction
 * rolls back, and the previous version keeps serving. Activation = a new `policy_sets` row
 * (version = max + 1) + `policy_active` + `policy.activated` + a `policy` notification, in one
 * transaction with its audit event.
 */
import type { AuditInput } from '../audit/index.js';
import type { ApplySection } from '../declarative/apply.js';
import { invalidRequest, isTetherError } from '../errors.js';
import { notifyChange, type Queryable } from '../store/index.js';
import { compilePolicySet, disposePolicySet, policyIds } from './compile.js';
import { sourceHashOf } from './source-hash.js';
import { POLICY_SET_SEPARATOR, policySetOf } from './split-policies.js';
import type { Clock } from '../clock.js';

export interface PolicyCandidate {
  readonly files: Readonly<Record<string, string>>;
  readonly schema?: string | undefined;
}

export interface ActiveVersion {
  readonly version: number;
  readonly sourceHash: string;
  readonly files: Record<string, string>;
  readonly schema: string | null;
  readonly createdAt: string;
  readonly createdBy: string | null;
}

export interface ActivateResult {
  readonly changed: boolean;
  readonly version: number;
  readonly sourceHash: string;
  readonly previousVersion: number | null;
  readonly warnings: readonly string[];
  readonly policies: readonly string[];
}

export interface PolicyVersionDeps {
  clock: Clock;
  /** This transaction activates `version`: the local cache reads its own write (policy-cache.ts). */
  expect?(version: number): void;
  /** A refused candidate, recorded outside the (rolled back) transaction as `policy.refused`. */
  refused?(error: string, actor: string): void;
}

interface Row {
  version: string | number;
  files: Record<string, string> | string;
  schema_text: string | null;
  source_hash: string;
  created_at: Date | string;
  created_by: string | null;
}

const SELECT = 'SELECT s.version, s.files, s.schema_text, s.source_hash, s.created_at, s.created_by FROM policy_sets s';

function toVersion(r: Row): ActiveVersion {
  return {
    version: Number(r.version),
    sourceHash: r.source_hash,
    files: typeof r.files === 'string' ? (JSON.parse(r.files) as Record<string, string>) : r.files,
    schema: r.schema_text,
    createdAt: new Date(r.created_at).toISOString(),
    createdBy: r.created_by,
  };
}

export async function readActiveVersion(q: Queryable): Promise<ActiveVersion | null> {
  const r = await q.query<Row>(`${SELECT} JOIN policy_active a ON a.version = s.version WHERE a.id = 1`);
  return r.rows[0] ? toVersion(r.rows[0]) : null;
}

export async function readVersion(q: Queryable, version: number): Promise<ActiveVersion | null> {
  const r = await q.query<Row>(`${SELECT} WHERE s.version = $1`, [version]);
  return r.rows[0] ? toVersion(r.rows[0]) : null;
}

/** Compiles a candidate only to check it; throws invalid_request with the file and Cedar's message. */
export function checkCandidate(c: PolicyCandidate): { warnings: readonly string[]; policies: readonly string[] } {
  if (Object.keys(c.files).length === 0) throw invalidRequest('policies: at least one policy file is required');
  const set = compilePolicySet(c.schema === undefined ? { files: c.files } : { files: c.files, schema: c.schema });
  try {
    return { warnings: set.warnings, policies: policyIds(set) };
  } finally {
    disposePolicySet(set);
  }
}

export async function activateIn(
  q: Queryable,
  emit: (e: AuditInput) => void,
  c: PolicyCandidate,
  actor: string,
  deps: PolicyVersionDeps,
): Promise<ActivateResult> {
  await lockPolicySets(q);
  const active = await readActiveVersion(q);
  const hash = sourceHashOf(c.schema === undefined ? { files: c.files } : { files: c.files, schema: c.schema });
  if (active?.sourceHash === hash) {
    return { changed: false, version: active.version, sourceHash: hash, previousVersion: active.version, warnings: [], policies: [] };
  }
  let checked: ReturnType<typeof checkCandidate>;
  try {
    checked = checkCandidate(c);
  } catch (e) {
    if (isTetherError(e)) deps.refused?.(e.message, actor);
    throw e;
  }
  const next = await q.query<{ v: string | number }>('SELECT COALESCE(MAX(version), 0) + 1 AS v FROM policy_sets');
  const version = Number(next.rows[0]!.v);
  await q.query(
    'INSERT INTO policy_sets (version, files, schema_text, source_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)',
    [version, JSON.stringify(c.files), c.schema ?? null, hash, deps.clock(), actor],
  );
  await q.query(
    'INSERT INTO policy_active (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version',
    [version],
  );
  emit({
    type: 'policy.activated',
    actor,
    data: {
      version,
      source_hash: hash,
      files: Object.keys(c.files).sort(),
      previous_version: active?.version ?? null,
      policies: checked.policies.length,
      warnings: checked.warnings,
    },
  });
  await notifyChange(q, { kind: 'policy', version });
  deps.expect?.(version);
  return { changed: true, version, sourceHash: hash, previousVersion: active?.version ?? null, ...checked };
}


/**
 * `bundle.policies` (+ `bundle.schema`): DIR/**\/*.cedar and DIR/*.cedarschema from `tether apply`.
 *
 * A directory owns only the policy set it declares (`policy_set` in tether.yaml): its files replace
 * that set's files in the active policies and leave every other set's alone, so two teams applying
 * their directories one after the other each keep their policies. Files of a named set are stored as
 * `<set>::<file>` (so default policy ids `<file>:<index>` cannot collide across sets); a directory
 * without `policy_set` owns the default set (the bare file names) and the schema, which is shared.
 * The merged set is compiled and validated as a whole, so a duplicate `@id` across sets is refused.
 */
export function policiesSection(deps: PolicyVersionDeps): ApplySection {
  return async (q, emit, bundle, opts) => {
    const set = bundle.policy_set ?? null;
    if (bundle.policies === undefined) {
      if (bundle.schema !== undefined) throw invalidRequest('schema: a Cedar schema is applied together with its policies');
      return [];
    }
    if (set !== null && bundle.schema !== undefined) {
      throw invalidRequest(`schema: the Cedar schema is shared by every policy set; apply it from the directory without policy_set, not from ${JSON.stringify(set)}`);
    }
    const bad = Object.keys(bundle.policies).find((f) => f.includes(POLICY_SET_SEPARATOR));
    if (bad !== undefined) throw invalidRequest(`policies: file name ${JSON.stringify(bad)} must not contain "${POLICY_SET_SEPARATOR}"`);
    await lockPolicySets(q);
    const active = await readActiveVersion(q);
    const files: Record<string, string> = {};
    for (const [k, text] of Object.entries(active?.files ?? {})) if (policySetOf(k) !== set) files[k] = text;
    for (const [f, text] of Object.entries(bundle.policies)) files[set === null ? f : `${set}${POLICY_SET_SEPARATOR}${f}`] = text;
    const schema = set === null ? bundle.schema : (active?.schema ?? undefined);
    const d = opts.dryRun ? { clock: deps.clock } : deps; // a dry-run records nothing outside its transaction
    const r = await activateIn(q, emit, { files, schema }, opts.actor, d);
    const owner = set === null ? 'policies' : `policies (policy set ${set})`;
    return r.changed ? [`${owner}: version ${r.version} activated (${r.policies.length} policies)`] : [];
  };
}

/** Orders concurrent activations across instances: version = max + 1 must not be taken twice. */
async function lockPolicySets(q: Queryable): Promise<void> {
  await q.query('LOCK TABLE policy_sets IN SHARE ROW EXCLUSIVE MODE');
}
