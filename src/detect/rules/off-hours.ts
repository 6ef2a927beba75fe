/**
 * off_hours (medium): activity in an hour of the day (UTC) that holds almost none of the identity's
 * history, counting the neighbouring hours too so that a job starting a little early or late (or a
 * DST shift) is not flagged.
 */
import { hourOfDay } from '../baseline.js';
import { eventEvidence, type Rule } from './rule.js';

export const offHoursRule: Rule = {
  id: 'off_hours',
  dedupe: 'identity',
  check({ event: e, baseline, options, mature }) {
    if (!mature) return undefined;
    const { toleranceHours, rareFraction } = options.offHours;
    const h = hourOfDay(e.at);
    let n = 0;
    const span = Math.min(11, Math.floor(toleranceHours));
    for (let d = -span; d <= span; d++) n += baseline.hours[(h + d + 24) % 24]!;
    const share = n / baseline.events;
    if (share >= rareFraction) return undefined;
    return {
      hourUtc: h,
      toleranceHours: span,
      shareOfHistory: share,
      rareFraction,
      hoursHistogram: [...baseline.hours],
      baselineEvents: baseline.events,
      event: eventEvidence(e),
    };
  },
};
