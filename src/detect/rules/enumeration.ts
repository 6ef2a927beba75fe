/**
 * enumeration (high): a burst of denies, or of distinct resources the identity never touched,
 * within a short window: probing what a credential can reach. The deny half needs no baseline (a
 * healthy client is rarely refused ten times a minute); the resource half needs a mature baseline
 * and ignores exact ids for high-cardinality identities (see RuleContext.resourceNew).
 */
import { denyBurst } from '../windows.js';
import { eventEvidence, type Rule } from './rule.js';

export const enumerationRule: Rule = {
  id: 'enumeration',
  dedupe: 'identity',
  check(ctx) {
    const { event: e, state, options } = ctx;
    const o = options.enumeration;
    if (!e.allowed) {
      const n = denyBurst(state, e.at, o.windowMs);
      if (n >= o.denies) {
        const events = state.denies.filter((d) => d !== undefined).sort((a, b) => a.at - b.at);
        return {
          reason: 'deny_burst',
          denies: n,
          threshold: o.denies,
          windowMs: o.windowMs,
          events: events.map(eventEvidence),
        };
      }
    }
    if (!ctx.mature || !ctx.resourceNew || state.recentNew.size < o.distinctResources) return undefined;
    const resources: string[] = [];
    for (const [r, t] of state.recentNew) if (e.at - t <= o.windowMs) resources.push(r);
    if (resources.length < o.distinctResources) return undefined;
    return {
      reason: 'distinct_resources',
      distinctNewResources: resources.length,
      threshold: o.distinctResources,
      windowMs: o.windowMs,
      resources,
      knownResources: ctx.baseline.resources.size,
      event: eventEvidence(e),
    };
  },
};
