/**
 * This instance's in-memory view of the findings that matter to decisions, cluster-wide: the open
 * ones (the risk floor of an open critical finding holds on every instance, not only the one that
 * raised it, and so do approval holds). Filled from the table at start and on resync, and per identity on every
 * `findings` notification, so the request path only ever reads memory.
 */
import { combineRisk } from './evidence-grade.js';
import type { FindingSummary } from './findings-store.js';

export interface ClusterView {
  /** Replace what is known of one identity (or, with undefined, of everyone). */
  replace(identity: string | undefined, live: readonly FindingSummary[]): void;
  add(f: FindingSummary): void;
  openCount(identity: string): number;
  hasOpenCritical(identity: string): boolean;
  /** New grants for these actions need approval (a require_approval or narrow hold). */
  requireApproval(identity: string, actions: readonly string[]): boolean;
  /** A detection response revoked this grant (its later use is expected, not news). */
  grantRevoked(grant: string): boolean;
  open(identity: string): FindingSummary[];
  /**
   * Risk from the identity's open findings anywhere in the cluster, decayed like the detector's own
   * (risk.ts): what every instance agrees on, and what survives a restart. `identityWide`: the
   * identity's kind is opted in to identity-wide responses, so credential and chain findings count
   * unbounded; otherwise all of them are bounded like baseline ones (evidence-grade.ts).
   */
  risk(identity: string, now: number, o: { halfLifeMs: number; points: Record<string, number>; baselineMax: number }, identityWide: boolean): number;
}

const REVOKING = new Set(['revoke_grant', 'narrow', 'suspend', 'revoke_identity']);

export function createClusterView(): ClusterView {
  const byIdentity = new Map<string, Map<string, FindingSummary>>();
  const grants = new Map<string, number>(); // grant → how many live findings revoked it

  const index = (f: FindingSummary, delta: 1 | -1) => {
    if (!f.grantId || !f.response || !REVOKING.has(f.response)) return;
    const n = (grants.get(f.grantId) ?? 0) + delta;
    if (n > 0) grants.set(f.grantId, n);
    else grants.delete(f.grantId);
  };

  const drop = (identity: string) => {
    const m = byIdentity.get(identity);
    if (!m) return;
    for (const f of m.values()) index(f, -1);
    byIdentity.delete(identity);
  };

  const add = (f: FindingSummary) => {
    let m = byIdentity.get(f.identity);
    if (!m) byIdentity.set(f.identity, (m = new Map()));
    const old = m.get(f.id);
    if (old) index(old, -1);
    m.set(f.id, f);
    index(f, 1);
  };

  return {
    replace(identity, live) {
      if (identity === undefined) {
        byIdentity.clear();
        grants.clear();
      } else drop(identity);
      for (const f of live) add(f);
    },
    add,
    openCount(identity) {
      let n = 0;
      for (const f of byIdentity.get(identity)?.values() ?? []) if (f.open) n += 1;
      return n;
    },
    hasOpenCritical(identity) {
      for (const f of byIdentity.get(identity)?.values() ?? []) if (f.open && f.severity === 'critical') return true;
      return false;
    },
    requireApproval(identity, actions) {
      const m = byIdentity.get(identity);
      if (!m) return false;
      for (const f of m.values()) {
        if (!f.open) continue;
        if (f.response === 'require_approval') return true;
        if (f.response === 'narrow' && (f.actions.length === 0 || actions.some((a) => f.actions.includes(a)))) return true;
      }
      return false;
    },
    grantRevoked: (grant) => grants.has(grant),
    open: (identity) => [...(byIdentity.get(identity)?.values() ?? [])].filter((f) => f.open),
    risk(identity, now, o, identityWide) {
      let strong = 0;
      let baseline = 0;
      const rules = new Set<string>();
      for (const f of byIdentity.get(identity)?.values() ?? []) {
        if (!f.open) continue;
        const pts = (o.points[f.severity] ?? 0) * 2 ** (-Math.max(0, now - f.createdAt) / o.halfLifeMs);
        if (f.grade !== 'baseline' && identityWide) strong += pts;
        else {
          baseline += pts;
          if (f.grade === 'baseline') rules.add(f.rule);
        }
      }
      return combineRisk(strong, baseline, rules.size, o.baselineMax);
    },
  };
}
