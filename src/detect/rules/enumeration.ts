/**
 * enumeration (high): a burst of denies, or of distinct resources the identity never touched,
 * within a short window or (paced under it) a ten-minute one: probing what a credential can reach. The deny half needs no baseline (a
 * healthy client is rarely refused ten times a minute); the resource half needs a mature baseline
 * and ignores exact ids for high-cardinality identities (see RuleContext.resourceNew).
 *
 * A deny burst made entirely by one token is about that credential: verified policy denies on a
 * verified token, a large share of the identity's traffic (relative to its volume). Its evidence
 * names the token (`credential`), which contains it (evidence-grade.ts); nothing else is touched. A
 * burst spread over several tokens, and the new-resources half (allowed reads; a release or a
 * larger nightly batch produces them too), stay baseline alerts.
 */
import { currentRate } from '../baseline.js';
import { burstToken, denyBurst, denyRate, slowDenyBurst } from '../windows.js';
import { eventEvidence, type Rule } from './rule.js';

export const enumerationRule: Rule = {
  id: 'enumeration',
  dedupe: 'identity',
  mayContain: true,
  check(ctx) {
    const { event: e, state, options } = ctx;
    const o = options.enumeration;
    if (!e.allowed && e.credentialStage !== true) {
      const fast = denyBurst(state, e.at, o.windowMs);
      const slow = fast ? 0 : slowDenyBurst(state, e.at, o.slowWindowMs);
      // Relative to volume: policy denies against all requests (this one included), over the last minute.
      if ((fast || slow) && denyRate(state, e.at) >= o.denyShare * Math.max(1, currentRate(ctx.baseline, e.at))) {
        const volume = currentRate(ctx.baseline, e.at);
        const events = state.denies.filter((d) => d !== undefined).sort((a, b) => a.at - b.at);
        const jti = burstToken(state, fast > 0);
        return {
          ...(jti !== undefined && jti === e.jti ? { credential: { jti, signals: ['policy_denies_one_token'] }, jti } : {}),
          reason: fast ? 'deny_burst' : 'slow_deny_burst',
          denies: fast || slow,
          threshold: fast ? o.denies : o.slowDenies,
          windowMs: fast ? o.windowMs : o.slowWindowMs,
          requestsLastMinute: Math.round(volume),
          events: events.map(eventEvidence),
        };
      }
    }
    if (!ctx.mature || !ctx.resourceNew || state.recentNew.size < Math.min(o.distinctResources, o.slowDistinctResources)) return undefined;
    const resources: string[] = [];
    let slowCount = 0;
    for (const [r, t] of state.recentNew) {
      if (e.at - t <= o.windowMs) resources.push(r);
      if (e.at - t <= o.slowWindowMs) slowCount += 1;
    }
    const fast = resources.length >= o.distinctResources;
    if (!fast && slowCount < o.slowDistinctResources) return undefined;
    if (!fast) for (const [r, t] of state.recentNew) if (e.at - t <= o.slowWindowMs && e.at - t > o.windowMs) resources.push(r);
    return {
      reason: fast ? 'distinct_resources' : 'slow_distinct_resources',
      distinctNewResources: fast ? resources.length : slowCount,
      threshold: fast ? o.distinctResources : o.slowDistinctResources,
      windowMs: fast ? o.windowMs : o.slowWindowMs,
      resources,
      knownResources: ctx.baseline.resources.size,
      event: eventEvidence(e),
    };
  },
};
