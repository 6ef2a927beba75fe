/**
 * The contract between the detector and a rule. A rule reads the baseline as it was *before* the
 * event (the detector learns the event only after every rule has judged it) and returns evidence
 * when it fires, or undefined. Rules never mutate state and allocate only when they fire: the
 * detector runs beside the request path.
 */
import type { IdentityBaseline } from '../baseline.js';
import type { DetectionEvent } from '../events.js';
import type { RuleId } from '../finding.js';
import type { DetectionOptions } from '../options.js';
import type { IdentityState } from '../state.js';

export interface RuleContext {
  event: DetectionEvent;
  state: IdentityState;
  baseline: IdentityBaseline;
  options: DetectionOptions;
  /** Baseline has enough history for comparisons (see isMature). */
  mature: boolean;
  actionSeen: boolean;
  resourceSeen: boolean;
  resourceTypeSeen: boolean;
  /** The identity touches new exact resources all the time (see options.baseline.highCardinalityRatio). */
  highCardinality: boolean;
  /** The resource is new in a way that means something for this identity. */
  resourceNew: boolean;
}

export interface Rule {
  readonly id: RuleId;
  /**
   * What the cooldown is keyed on besides identity and rule: `grant` rules may fire once per grant
   * (a replay of grant A says nothing about grant B); `identity` rules describe the identity as a
   * whole, so one finding per cooldown is enough.
   */
  readonly dedupe: 'grant' | 'identity';
  /**
   * The rule may name one token whose own evidence contains it (`credential`, evidence-grade.ts):
   * it is judged even while the identity has its one open baseline finding of the rule, and only
   * such a finding is raised then.
   */
  readonly mayContain?: true;
  check(ctx: RuleContext): Record<string, unknown> | undefined;
}

/** A JSON-safe copy of the event for evidence (events.ts). */
export { eventEvidence } from '../events.js';
