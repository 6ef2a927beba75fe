/**
 * Test helpers: locate the conformance data from the source tree (compiled tests live one or two
 * levels deeper, under .build-policy or dist), and the AuthZEN → Cedar mapping the conformance READMEs
 * describe, built from the pure layers (cedar-values + the engine) the server will wire.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthzenEntity, AuthzenEvaluation } from '../../src/pdp/authzen-request.js';
import { overlayRecord, toCedarRecord, type CedarRecord } from '../../src/pdp/cedar-values.js';
import type { CedarEntityJson, DecisionRequest, EntityRef } from '../../src/policy/index.js';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'conformance'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json + test/conformance) not found');
    dir = up;
  }
}

export interface ConformanceCase {
  readonly id?: string;
  readonly endpoint: 'evaluation' | 'evaluations';
  readonly request: unknown;
  readonly raw_body?: string;
  readonly headers?: Record<string, string>;
  readonly expected?: boolean | { decision: boolean }[];
  readonly expect_status?: number;
  readonly item_errors?: number[];
  readonly repeat?: number;
}

export interface ConformanceFile {
  readonly policies: string;
  readonly schema?: string;
  readonly entities: CedarEntityJson[];
  readonly cases: ConformanceCase[];
}

export function loadConformance(name: 'authzen' | 'authzen-certification'): ConformanceFile {
  const file = join(repoRoot(), 'test', 'conformance', name, 'cases.json');
  return JSON.parse(readFileSync(file, 'utf8')) as ConformanceFile;
}

const key = (r: EntityRef): string => `${r.type}::${JSON.stringify(r.id)}`;

/**
 * The broker's mapping (conformance READMEs, "Mapping"): a subject or resource becomes its entity with
 * request `properties` laid over the stored attributes (the request wins in this pure layer), plus its
 * stored ancestors; `action.properties` become `context.action`, over any caller member of that name.
 */
export function toDecisionRequest(req: AuthzenEvaluation, stored: readonly CedarEntityJson[]): DecisionRequest {
  const byKey = new Map(stored.map((e) => [key(e.uid), e]));
  const built = new Map<string, CedarEntityJson>();
  const place = (x: AuthzenEntity, path: string): EntityRef => {
    const uid = { type: x.type, id: x.id };
    const k = key(uid);
    const base = built.get(k) ?? byKey.get(k);
    const attrs = toCedarRecord(base?.attrs ?? {}, `${path}(stored)`);
    const props = x.properties === undefined ? undefined : toCedarRecord(x.properties, `${path}.properties`);
    built.set(k, { uid, attrs: props === undefined ? attrs : overlayRecord(attrs, props), parents: base?.parents ?? [] });
    return uid;
  };
  const principal = place(req.subject, 'subject');
  const resource = place(req.resource, 'resource');
  // Ancestors, so `principal in group::"fixture"` holds; nothing else from the store.
  const queue = [...built.values()].flatMap((e) => e.parents);
  while (queue.length > 0) {
    const p = queue.shift() as EntityRef;
    const e = byKey.get(key(p));
    if (e === undefined || built.has(key(p))) continue;
    built.set(key(p), e);
    queue.push(...e.parents);
  }
  const context: CedarRecord = toCedarRecord(req.context ?? {}, 'context');
  if (req.action.properties !== undefined) context['action'] = toCedarRecord(req.action.properties, 'action.properties');
  return {
    principal,
    action: { type: 'Action', id: req.action.name },
    resource,
    context,
    entities: [...built.values()],
  };
}
