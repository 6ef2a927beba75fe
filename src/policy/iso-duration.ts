/**
 * ISO-8601 durations for `@ttl`: weeks, days, hours, minutes and whole seconds only. Years and months
 * are refused because their length in seconds depends on the calendar, and a credential TTL must not.
 */
const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** Seconds in `text` (e.g. `PT10M` → 600), or undefined when it is not a positive duration we accept. */
export function parseIsoDurationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (m === null || text === 'P' || text.endsWith('T')) return undefined;
  const [, w, d, h, min, s] = m;
  const seconds =
    num(w) * 604_800 + num(d) * 86_400 + num(h) * 3_600 + num(min) * 60 + num(s);
  return Number.isSafeInteger(seconds) && seconds > 0 ? seconds : undefined;
}

function num(part: string | undefined): number {
  return part === undefined ? 0 : Number(part);
}
