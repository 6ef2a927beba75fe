/**
 * ISO-8601 durations for posture thresholds (`P30D`, `PT24H`). Same grammar as policy `@ttl`:
 * weeks, days, hours, minutes and seconds only, because a month or a year has no fixed length and a
 * threshold that moves with the calendar would make two reports of the same data disagree.
 */
import { invalidRequest } from '../errors.js';
import { parseIsoDurationSeconds } from '../policy/iso-duration.js';

/** Milliseconds in `text`, or a 400 naming the parameter and the accepted form. */
export function parseDurationMs(text: string, name: string): number {
  const s = parseIsoDurationSeconds(text);
  if (s === undefined) {
    throw invalidRequest(
      `${name}: must be a positive ISO-8601 duration in weeks, days, hours, minutes or seconds (e.g. P30D, PT24H), got ${JSON.stringify(text.slice(0, 64))}`,
    );
  }
  return s * 1000;
}
