/**
 * off_hours (medium): activity in an hour of the day (UTC) that holds almost none of the identity's
 * history, counting the neighbouring hours too so that a job starting a little early or late (or a
 * DST shift) is not flagged.
 */
import { hourShare } from '../baseline.js';
import { eventEvidence, type Rule } from './rule.js';

export const offHoursRule: Rule = {
  id: 'off_hours',
  dedupe: 'identity',
  check({ event: e, baseline, options, mature }) {
    if (!mature) return undefined;
    const { toleranceHours, rareFraction } = options.offHours;
    const { hour, span, share } = hourShare(baseline, e.at, toleranceHours);
    if (share >= rareFraction) return undefined;
    return {
      hourUtc: hour,
      toleranceHours: span,
      shareOfHistory: share,
      rareFraction,
      hoursHistogram: [...baseline.hours],
      baselineEvents: baseline.events,
      event: eventEvidence(e),
    };
  },
};
