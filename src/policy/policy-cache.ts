/**
 * The active compiled policy set of this instance. Loaded at start and on every resync (a compile only
 * when the version changed), refreshed on the `policy` notification. A replaced set is disposed a
 * little later, because an async caller may still hold it between `current()` and `evaluate()`.
 * No active set: `current()` is null and the pipeline denies everything (default deny).
 */
import { singleFlight } from '../cluster/single-flight.js';
import type { Logger } from 'pino';
import type { Queryable } from '../store/index.js';
import { compilePolicySet, disposePolicySet } from './compile.js';
import type { CompiledPolicySet } from './types.js';
import { readActiveVersion } from './versions.js';

export interface ActivePolicySet {
  readonly version: number;
  readonly sourceHash: string;
  readonly set: CompiledPolicySet;
}

export interface PolicyCache {
  current(): ActivePolicySet | null;
  refresh(): Promise<void>;
  /** This instance has just activated `version`: refresh before deciding until it is seen (or 2 s). */
  expect(version: number): void;
  ensureFresh(): Promise<void>;
  /** Disposes the served set (at shutdown). */
  close(): void;
}

const EXPECT_MS = 2000;

export function createPolicyCache(deps: { db: Queryable; logger: Pick<Logger, 'error' | 'info'>; disposeAfterMs?: number }): PolicyCache {
  const disposeAfter = deps.disposeAfterMs ?? 10000;
  let active: ActivePolicySet | null = null;
  let pending: { version: number; until: number } | null = null;

  const retire = (old: ActivePolicySet) => {
    setTimeout(() => disposePolicySet(old.set), disposeAfter).unref();
  };

  const load = async () => {
    const v = await readActiveVersion(deps.db);
    if (v === null) {
      if (active) retire(active);
      active = null;
    } else if (active?.version !== v.version) {
      try {
        const set = compilePolicySet(v.schema === null ? { files: v.files } : { files: v.files, schema: v.schema });
        const old = active;
        active = { version: v.version, sourceHash: v.sourceHash, set };
        if (old) retire(old);
        deps.logger.info({ version: v.version }, 'policy set loaded');
      } catch (e) {
        // Validated at activation, so only a Cedar upgrade could get here: keep the last good set.
        deps.logger.error({ err: { message: (e as Error).message }, version: v.version }, 'active policy set does not compile; keeping the previous one');
      }
    }
    if (pending && ((active?.version ?? 0) >= pending.version || Date.now() > pending.until)) pending = null;
  };

  const refresh = singleFlight(load);

  return {
    current: () => active,
    refresh,
    expect(version) {
      pending = { version: Math.max(version, pending?.version ?? 0), until: Date.now() + EXPECT_MS };
    },
    async ensureFresh() {
      if (pending !== null) await refresh();
    },
    close() {
      if (active) disposePolicySet(active.set);
      active = null;
    },
  };
}
