/**
 * Obligations from policy annotations, a closed set (DESIGN.md "Policy model"). Each policy's are read
 * and checked once, at compile time, so a typo such as `@ttl("10m")`, or an unknown name such as
 * `@aproval("required")`, refuses the policy set instead of silently granting without the obligation.
 */
import { parseIsoDurationSeconds } from './iso-duration.js';
import type { Obligations } from './types.js';

/** What one policy obliges, parsed from its annotations. */
export interface PolicyObligations {
  readonly approval: boolean;
  /** Distinct approvers needed (0 without `@approval`). */
  readonly approvals: number;
  readonly ttlSeconds: number | undefined;
  readonly breakGlass: boolean;
  readonly bearer: boolean;
}

/** Obligation annotations: each has a checked value and changes what a permit grants. */
export const OBLIGATION_ANNOTATIONS: readonly string[] = Object.freeze(['approval', 'ttl', 'break_glass', 'bearer']);
/** Documentation annotations: free text, no effect on a decision. `@id` names the policy. */
export const DOCUMENTATION_ANNOTATIONS: readonly string[] = Object.freeze(['id', 'description', 'owner']);
/** Every annotation a policy may carry; anything else (a typo of an obligation) refuses the set. */
export const KNOWN_ANNOTATIONS: readonly string[] = Object.freeze([...DOCUMENTATION_ANNOTATIONS, ...OBLIGATION_ANNOTATIONS]);

export const NO_OBLIGATIONS: Obligations = Object.freeze({ approval: false, breakGlass: false, bearer: false });

/** A refused annotation: its name and why (the caller adds where it is). */
export interface AnnotationError {
  readonly annotation: string;
  readonly message: string;
}

/** Parse the obligation annotations; returns the first annotation that is unknown or has a bad value. */
export function parseObligations(
  annotations: Readonly<Record<string, string>>,
): PolicyObligations | AnnotationError {
  const unknown = Object.keys(annotations).find((k) => !KNOWN_ANNOTATIONS.includes(k));
  if (unknown !== undefined) {
    return { annotation: unknown, message: `unknown annotation @${unknown}: policies may carry only ${KNOWN_ANNOTATIONS.map((k) => `@${k}`).join(', ')}` };
  }
  const bad = (annotation: string, message: string): AnnotationError => ({ annotation, message });
  const approval = annotations['approval'];
  // "required" is one approver; "2".."5" ask for that many distinct operators (four eyes and more).
  const approvals = approval === undefined ? 0 : approval === 'required' ? 1 : /^[1-5]$/.test(approval) ? Number(approval) : undefined;
  if (approvals === undefined) {
    return bad('approval', `@approval must be "required" or a number of approvers from "1" to "5", got ${JSON.stringify(approval)}`);
  }
  const breakGlass = annotations['break_glass'];
  if (breakGlass !== undefined && breakGlass !== 'allowed') {
    return bad('break_glass', `@break_glass must be "allowed", got ${JSON.stringify(breakGlass)}`);
  }
  const bearer = annotations['bearer'];
  if (bearer !== undefined && bearer !== 'allowed') {
    return bad('bearer', `@bearer must be "allowed", got ${JSON.stringify(bearer)}`);
  }
  const ttl = annotations['ttl'];
  let ttlSeconds: number | undefined;
  if (ttl !== undefined) {
    ttlSeconds = parseIsoDurationSeconds(ttl);
    if (ttlSeconds === undefined) {
      return bad('ttl', `@ttl must be a positive ISO-8601 duration in weeks, days, hours, minutes or seconds (e.g. "PT10M"), got ${JSON.stringify(ttl)}`);
    }
  }
  return { approval: approval !== undefined, approvals, ttlSeconds, breakGlass: breakGlass !== undefined, bearer: bearer !== undefined };
}

/**
 * Combine the obligations of the determining policies: any approval, the shortest TTL, break-glass
 * if any allows it, bearer only if every one allows it.
 */
export function combineObligations(parts: readonly (PolicyObligations | undefined)[]): Obligations {
  let approval = false;
  let approvals = 0;
  let breakGlass = false;
  let ttlSeconds: number | undefined;
  let bearer = parts.length > 0;
  for (const p of parts) {
    bearer &&= p?.bearer === true;
    if (p === undefined) continue;
    approval ||= p.approval;
    approvals = Math.max(approvals, p.approvals);
    breakGlass ||= p.breakGlass;
    if (p.ttlSeconds !== undefined && (ttlSeconds === undefined || p.ttlSeconds < ttlSeconds)) {
      ttlSeconds = p.ttlSeconds;
    }
  }
  if (!approval && !breakGlass && !bearer && ttlSeconds === undefined) return NO_OBLIGATIONS;
  const base = approvals > 1 ? { approval, approvals, breakGlass, bearer } : { approval, breakGlass, bearer };
  return ttlSeconds === undefined ? base : { ...base, ttlSeconds };
}
