/**
 * Short sliding windows updated before the rules run, so that the event being judged is inside
 * them: the deny ring and distinct-new-resource set (enumeration) and the escalation chain stages.
 */
import type { DetectionEvent } from './events.js';
import type { ActionMatcher, DetectionOptions } from './options.js';
import type { IdentityState } from './state.js';

export const SECRET_READ = 1;
export const PERMISSION_CHANGE = 2;
export const EXTERNAL_CALL = 4;

/**
 * Classifies action names for the escalation chain. Action names repeat endlessly, so the regex
 * work is done once per distinct name; the cache is cleared when full rather than grown without bound.
 */
export function createActionClassifier(o: DetectionOptions['escalation'], max = 4096): (action: string) => number {
  const cache = new Map<string, number>();
  const match = (m: ActionMatcher, a: string): boolean => m.noun.test(a) && (!m.verb || m.verb.test(a));
  return (action) => {
    const hit = cache.get(action);
    if (hit !== undefined) return hit;
    let c = 0;
    if (match(o.secretRead, action)) c |= SECRET_READ;
    if (match(o.permissionChange, action)) c |= PERMISSION_CHANGE;
    if (match(o.externalCall, action)) c |= EXTERNAL_CALL;
    if (cache.size >= max) cache.clear();
    cache.set(action, c);
    return c;
  };
}

/** Policy denies only (see DetectionEvent.credentialStage), into the short ring and the slow one. */
export function trackDeny(s: IdentityState, e: DetectionEvent): void {
  if (e.allowed || e.credentialStage === true || s.denies.length === 0) return;
  const minute = Math.floor(e.at / 60_000);
  if (minute !== s.denyMinute) {
    s.denyPrev = minute === s.denyMinute + 1 ? s.denyCount : 0;
    s.denyMinute = minute;
    s.denyCount = 0;
  }
  s.denyCount += 1;
  s.denies[s.denyNext] = e;
  s.denyNext = (s.denyNext + 1) % s.denies.length;
  if (s.slowDenies.length === 0) return;
  s.slowDenies[s.slowNext] = e.at;
  s.slowJtis[s.slowNext] = e.jti;
  s.slowNext = (s.slowNext + 1) % s.slowDenies.length;
}

/** Policy denies in the last minute (sliding, like baseline currentRate). */
export function denyRate(s: IdentityState, at: number): number {
  const into = (at - s.denyMinute * 60_000) / 60_000;
  if (into >= 2) return 0;
  return (into < 1 ? s.denyCount : 0) + (into < 1 ? s.denyPrev * (1 - into) : s.denyCount * Math.max(0, 2 - into));
}

/** Policy denies inside the slow window ending at `at`, when that ring is full of them; else 0. */
export function slowDenyBurst(s: IdentityState, at: number, windowMs: number): number {
  const oldest = s.slowDenies[s.slowNext];
  return oldest !== undefined && at - oldest <= windowMs ? s.slowDenies.length : 0;
}

/**
 * The one token (`jti`) behind every deny of the burst just found, or undefined when several
 * tokens (or denies seen only as counts on another instance) make it up.
 */
export function burstToken(s: IdentityState, fast: boolean): string | undefined {
  const jtis = fast ? s.denies.map((d) => d?.jti) : s.slowJtis;
  const first = jtis[0];
  return first !== undefined && jtis.every((j) => j === first) ? first : undefined;
}

/** Denies inside the window ending at `at`, when the ring is full of them; else 0 (cheap common case). */
export function denyBurst(s: IdentityState, at: number, windowMs: number): number {
  const oldest = s.denies[s.denyNext]; // the ring is written in order: the next slot holds the oldest
  return oldest !== undefined && at - oldest.at <= windowMs ? s.denies.length : 0;
}

export function trackNewResource(s: IdentityState, e: DetectionEvent, o: DetectionOptions['enumeration']): void {
  const m = s.recentNew;
  m.delete(e.resource); // re-insert so Map order stays oldest-first
  m.set(e.resource, e.at);
  // Prune from the old end; the cap keeps a flood from growing the map past what the rule needs.
  // Kept for the slow window too: probing paced under the fast threshold adds up over minutes.
  const keepMs = Math.max(o.windowMs, o.slowWindowMs);
  const cap = Math.max(o.distinctResources, o.slowDistinctResources) * 2;
  for (const [r, t] of m) {
    if (e.at - t <= keepMs && m.size <= cap) break;
    m.delete(r);
  }
}

export function trackEscalation(s: IdentityState, e: DetectionEvent, cls: number, windowMs: number): void {
  const x = s.escalation;
  delete x.chain;
  if (cls === 0) return;
  // Judge the latest stage first, so one action matching several patterns cannot complete a chain alone.
  if (cls & EXTERNAL_CALL && x.perm && x.permSecret && e.at - x.permSecret.at <= windowMs) {
    x.chain = [x.permSecret, x.perm, e];
    delete x.secret;
    delete x.perm;
    delete x.permSecret;
    return;
  }
  if (cls & PERMISSION_CHANGE && x.secret && e.at - x.secret.at <= windowMs) {
    x.perm = e;
    x.permSecret = x.secret;
    return;
  }
  if (cls & SECRET_READ) x.secret = e;
}
