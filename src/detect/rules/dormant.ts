/**
 * dormant (medium): an identity silent for a long time becomes active. Forgotten credentials of
 * dormant identities are a classic way in (OWASP NHI Top 10: NHI1 improper offboarding). "Long" is
 * the configured idle time, or longer for an identity whose own history has long silences.
 */
import { dormantAfter } from '../credential-signals.js';
import { eventEvidence, type Rule } from './rule.js';

const DAY = 86_400_000;

export const dormantRule: Rule = {
  id: 'dormant',
  dedupe: 'identity',
  check({ event: e, baseline, options }) {
    if (baseline.events === 0) return undefined; // never seen: new, not dormant
    const idle = e.at - baseline.lastAt;
    // Compared with the identity's own cadence too: a monthly job's month of silence is its schedule.
    const after = dormantAfter(baseline, options.dormant);
    if (idle < after) return undefined;
    return {
      lastActivityAt: baseline.lastAt,
      idleDays: Math.floor(idle / DAY),
      thresholdDays: Math.round((after / DAY) * 10) / 10,
      usualLongestSilenceDays: Math.round(((baseline.maxGapMs ?? 0) / DAY) * 10) / 10,
      event: eventEvidence(e),
    };
  },
};
