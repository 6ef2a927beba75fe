/**
 * Time is injected everywhere in this domain so tests freeze it and never sleep (STYLE.md §8).
 * A Clock answers epoch **seconds**; it may carry a fraction (milliseconds) when the source has one.
 */
export type Clock = () => number;

/** Wall-clock time in epoch seconds, for production wiring. */
export const systemClock: Clock = () => Date.now() / 1000;
