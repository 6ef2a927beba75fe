/**
 * dormant (medium): an identity silent for a long time becomes active. Forgotten credentials of
 * dormant identities are a classic way in (OWASP NHI Top 10: NHI1 improper offboarding).
 */
import { eventEvidence, type Rule } from './rule.js';

const DAY = 86_400_000;

export const dormantRule: Rule = {
  id: 'dormant',
  dedupe: 'identity',
  check({ event: e, baseline, options }) {
    if (baseline.events === 0) return undefined; // never seen: new, not dormant
    const idle = e.at - baseline.lastAt;
    if (idle < options.dormant.idleMs) return undefined;
    return {
      lastActivityAt: baseline.lastAt,
      idleDays: Math.floor(idle / DAY),
      thresholdDays: options.dormant.idleMs / DAY,
      event: eventEvidence(e),
    };
  },
};
