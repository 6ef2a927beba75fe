/**
 * rate_spike (high): the last minute's rate far above the identity's usual busy-minute rate. The
 * baseline is a percentile of *active* minutes, so a CI job idle all day but bursting at deploy is
 * compared with its bursts, not with its idle hours.
 */
import { currentRate } from '../baseline.js';
import { ratePercentile } from '../rate-histogram.js';
import { eventEvidence, type Rule } from './rule.js';

export const rateSpikeRule: Rule = {
  id: 'rate_spike',
  dedupe: 'identity',
  check({ event: e, baseline, options, mature }) {
    if (!mature) return undefined;
    const o = options.rateSpike;
    const rate = currentRate(baseline, e.at);
    if (rate < o.minPerMinute) return undefined; // cheap exit before the percentile scan
    const usual = ratePercentile(baseline.rate.hist, o.percentile);
    const threshold = Math.max(o.minPerMinute, o.factor * usual);
    if (rate <= threshold) return undefined;
    return {
      ratePerMinute: Math.round(rate * 10) / 10,
      baselinePercentile: o.percentile,
      baselineRatePerMinute: usual,
      factor: o.factor,
      threshold,
      minutesLearned: Math.round(baseline.rate.histMinutes),
      event: eventEvidence(e),
    };
  },
};
