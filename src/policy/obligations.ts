/**
 * Obligations from policy annotations. Each policy's are read and checked once, at compile time, so
 * a typo such as `@ttl("10m")` refuses the policy set instead of silently granting the default.
 */
import { parseIsoDurationSeconds } from './iso-duration.js';
import type { Obligations } from './types.js';

/** What one policy obliges, parsed from its annotations. */
export interface PolicyObligations {
  readonly approval: boolean;
  readonly ttlSeconds: number | undefined;
  readonly breakGlass: boolean;
}

export const NO_OBLIGATIONS: Obligations = Object.freeze({ approval: false, breakGlass: false });

/** Parse the obligation annotations; returns an error message for a value we do not understand. */
export function parseObligations(
  annotations: Readonly<Record<string, string>>,
): PolicyObligations | string {
  const approval = annotations['approval'];
  if (approval !== undefined && approval !== 'required') {
    return `@approval must be "required", got ${JSON.stringify(approval)}`;
  }
  const breakGlass = annotations['break_glass'];
  if (breakGlass !== undefined && breakGlass !== 'allowed') {
    return `@break_glass must be "allowed", got ${JSON.stringify(breakGlass)}`;
  }
  const ttl = annotations['ttl'];
  let ttlSeconds: number | undefined;
  if (ttl !== undefined) {
    ttlSeconds = parseIsoDurationSeconds(ttl);
    if (ttlSeconds === undefined) {
      return `@ttl must be a positive ISO-8601 duration in weeks, days, hours, minutes or seconds (e.g. "PT10M"), got ${JSON.stringify(ttl)}`;
    }
  }
  return { approval: approval !== undefined, ttlSeconds, breakGlass: breakGlass !== undefined };
}

/** Combine the obligations of the determining policies: any approval, the shortest TTL. */
export function combineObligations(parts: readonly (PolicyObligations | undefined)[]): Obligations {
  let approval = false;
  let breakGlass = false;
  let ttlSeconds: number | undefined;
  for (const p of parts) {
    if (p === undefined) continue;
    approval ||= p.approval;
    breakGlass ||= p.breakGlass;
    if (p.ttlSeconds !== undefined && (ttlSeconds === undefined || p.ttlSeconds < ttlSeconds)) {
      ttlSeconds = p.ttlSeconds;
    }
  }
  if (!approval && !breakGlass && ttlSeconds === undefined) return NO_OBLIGATIONS;
  return ttlSeconds === undefined ? { approval, breakGlass } : { approval, ttlSeconds, breakGlass };
}
