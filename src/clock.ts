/**
 * The one clock of the code base. Time is injected everywhere, from the composition root's one
 * instance, so tests freeze it and never sleep (STYLE.md §8).
 */
export type Clock = () => Date;

/** Wall-clock time, for production wiring. */
export const systemClock: Clock = () => new Date();

/** A clock's now in whole epoch seconds: what JWT NumericDate claims (RFC 7519 §2) compare against. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock().getTime() / 1000);
}
