/**
 * Everything the detector keeps per identity: the learned (serialisable) baseline, short sliding
 * windows that only matter for a minute or ten (never stored), cooldowns, risk and open findings.
 */
import { createBaseline, type IdentityBaseline } from './baseline.js';
import { createSignalState, type SignalState } from './credential-signals.js';
import type { DetectionEvent } from './events.js';
import type { Finding, RuleId } from './finding.js';

export interface EscalationState {
  /** Latest secret read. */
  secret?: DetectionEvent;
  /** Latest permission change that followed a secret read in the window, with that read. */
  perm?: DetectionEvent;
  permSecret?: DetectionEvent;
  /** Set on the event that completes the chain, cleared once judged. */
  chain?: readonly [DetectionEvent, DetectionEvent, DetectionEvent];
}

export interface IdentityState {
  baseline: IdentityBaseline;
  /** Ring of the last N denied events (N = enumeration.denies). */
  denies: (DetectionEvent | undefined)[];
  denyNext: number;
  /** Times of the last M policy denies (M = enumeration.slowDenies): probing spread over minutes. */
  slowDenies: (number | undefined)[];
  /** The token (`jti`) of each entry of `slowDenies` (same slots): whether one credential probed. */
  slowJtis: (string | undefined)[];
  slowNext: number;
  /** Policy denies in the current and the previous minute (compared with the request rate). */
  denyMinute: number;
  denyCount: number;
  denyPrev: number;
  /** Distinct never-seen resources in the enumeration window → when last touched (insertion = age order). */
  recentNew: Map<string, number>;
  escalation: EscalationState;
  /** rule → dedupe key (grant, or '' for identity-wide rules) → time it last fired; created on first finding. */
  cooldowns?: Map<RuleId, Map<string, number>>;
  /** Risk points of credential and chain findings at `riskAt`, before decay. */
  riskPoints: number;
  /** Risk points of baseline findings at `riskAt` (bounded when read; see risk.ts). */
  baselinePoints: number;
  /** Open baseline findings per rule (corroboration counts distinct rules). */
  baselineRules: Map<string, number>;
  riskAt: number;
  open: Map<string, Finding>;
  openCritical: number;
  /** The last request counted into the rate (token, action, resource): retries count once. */
  lastRequest?: string;
  /** Per-token signals for credential containment (credential-signals.ts). */
  signals: SignalState;
}

export function createIdentityState(baseline: IdentityBaseline, denyWindow: number, slowWindow = 0): IdentityState {
  return {
    baseline,
    denies: new Array<DetectionEvent | undefined>(denyWindow).fill(undefined),
    denyNext: 0,
    slowDenies: new Array<number | undefined>(slowWindow).fill(undefined),
    slowJtis: new Array<string | undefined>(slowWindow).fill(undefined),
    slowNext: 0,
    denyMinute: 0,
    denyCount: 0,
    denyPrev: 0,
    recentNew: new Map(),
    escalation: {},
    riskPoints: 0,
    baselinePoints: 0,
    baselineRules: new Map(),
    riskAt: 0,
    open: new Map(),
    openCritical: 0,
    signals: createSignalState(),
  };
}

export function newIdentityState(e: DetectionEvent, denyWindow: number, slowWindow = 0): IdentityState {
  return createIdentityState(createBaseline(e.identity, e.identityKind), denyWindow, slowWindow);
}
