/**
 * Every threshold of detection in one typed object. Defaults are chosen so that the benign traffic
 * we model (CI deploy bursts, nightly batches, steady services, AI agents in their usual tool order)
 * raises nothing after a week of learning; each is overridable per deployment.
 */
import { invalidRequest } from '../errors.js';
import { BASELINE_RISK_MAX } from './evidence-grade.js';
import type { RuleId, Severity } from './finding.js';

/** An action matches when `noun` matches and, if given, `verb` matches too (e.g. `secrets:read`). */
export interface ActionMatcher {
  noun: RegExp;
  verb?: RegExp;
}

export interface DetectionOptions {
  /** A baseline is "mature" (rules that compare with it may fire) after this much history. */
  learning: { minEvents: number; windowMs: number };
  /** Memory bounds per identity: beyond a cap new distinct values are counted as dropped, not stored. */
  baseline: {
    /**
     * Identities with state in memory; past this the least recently seen one is forgotten (its
     * open findings stay in the store and the cluster view). Bounds a flood of distinct ids.
     */
    maxIdentities: number;
    maxActions: number;
    maxResources: number;
    maxResourceTypes: number;
    maxEnvironments: number;
    maxGrants: number;
    maxTokens: number;
    maxTransitionsPerAction: number;
    /** Per-minute rate histogram is halved when it holds more minutes than this (keeps it recent). */
    rateHistoryMinutes: number;
    /**
     * Share of events that touched a never-seen resource above which an identity counts as
     * high-cardinality (e.g. a service reading `Order::<any id>`): there an unseen exact resource is
     * normal, and only an unseen resource *type* counts as new.
     */
    highCardinalityRatio: number;
  };
  /** A rule does not fire twice for the same identity + rule + grant within this time. */
  cooldownMs: number;
  /** `baselineMax`: what baseline findings alone may add up to (evidence-grade.ts). */
  risk: { halfLifeMs: number; points: Record<Severity, number>; baselineMax: number };
  /** Severity per rule; the defaults follow issue 6. */
  severity: Record<RuleId, Severity>;
  /** Rules switched off entirely. */
  disabled: readonly RuleId[];
  replay: { tokenLifetimeMs: number };
  /**
   * Deny bursts count policy denies on verified tokens: `denies` within `windowMs`, or `slowDenies`
   * within `slowWindowMs` (probing paced under the short threshold); either only when the denies are
   * at least `denyShare` of the identity's traffic in the last minute (a busy service's routine
   * refusals are not probing). New resources likewise: `distinctResources` within `windowMs`, or
   * `slowDistinctResources` within `slowWindowMs`.
   */
  enumeration: { windowMs: number; denies: number; distinctResources: number; slowWindowMs: number; slowDenies: number; slowDistinctResources: number; denyShare: number };
  offHours: { rareFraction: number; toleranceHours: number };
  /**
   * `tokenFactor`: one token's requests in a minute beyond this many times the identity's busiest
   * learned minute (all its replicas together) contain that token (credential-signals.ts).
   */
  rateSpike: { factor: number; minPerMinute: number; percentile: number; tokenFactor: number };
  /**
   * Dormant after `idleMs` of silence, or `cadenceFactor` times the longest silence the identity
   * already had, whichever is longer: a monthly reporter waking on schedule is not dormant.
   */
  dormant: { idleMs: number; cadenceFactor: number };
  escalation: {
    windowMs: number;
    secretRead: ActionMatcher;
    permissionChange: ActionMatcher;
    externalCall: ActionMatcher;
  };
  drift: { ipv4PrefixBits: number; ipv6PrefixBits: number };
}

/** What callers pass: every leaf optional; nested records (points, severities) merge key by key. */
export type DetectionOptionsInput = {
  [K in Exclude<keyof DetectionOptions, 'risk' | 'cooldownMs' | 'disabled'>]?: Partial<DetectionOptions[K]>;
} & {
  cooldownMs?: number;
  disabled?: readonly RuleId[];
  risk?: { halfLifeMs?: number; points?: Partial<Record<Severity, number>>; baselineMax?: number };
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = deepFreeze({
  learning: { minEvents: 20, windowMs: 7 * DAY },
  baseline: {
    maxIdentities: 10_000,
    maxActions: 256,
    maxResources: 1000,
    maxResourceTypes: 64,
    maxEnvironments: 16,
    maxGrants: 256,
    maxTokens: 1024,
    maxTransitionsPerAction: 32,
    rateHistoryMinutes: 7 * 24 * 60,
    highCardinalityRatio: 0.2,
  },
  cooldownMs: 15 * MINUTE,
  risk: { halfLifeMs: HOUR, points: { low: 5, medium: 15, high: 30, critical: 60 }, baselineMax: BASELINE_RISK_MAX },
  severity: {
    replay: 'critical',
    enumeration: 'high',
    first_seen: 'medium',
    off_hours: 'medium',
    rate_spike: 'high',
    after_task: 'high',
    dormant: 'medium',
    escalation: 'critical',
    drift: 'high',
  },
  disabled: [],
  replay: { tokenLifetimeMs: HOUR },
  enumeration: { windowMs: MINUTE, denies: 10, distinctResources: 20, slowWindowMs: 10 * MINUTE, slowDenies: 30, slowDistinctResources: 30, denyShare: 0.5 },
  offHours: { rareFraction: 0.01, toleranceHours: 1 },
  rateSpike: { factor: 10, minPerMinute: 30, percentile: 0.95, tokenFactor: 4 },
  dormant: { idleMs: 30 * DAY, cadenceFactor: 1.5 },
  escalation: {
    windowMs: 10 * MINUTE,
    secretRead: { noun: /secret|credential/i, verb: /read|get|list|fetch|access|decrypt|reveal/i },
    permissionChange: {
      noun: /iam|permission|role|policy/i,
      verb: /write|put|create|update|attach|grant|set|add|modify|assign|delete|bind/i,
    },
    externalCall: { noun: /external|egress|webhook|http/i },
  },
  drift: { ipv4PrefixBits: 24, ipv6PrefixBits: 64 },
});

/** Merge caller options over the defaults and check them once, at construction. */
export function resolveDetectionOptions(input: DetectionOptionsInput = {}): DetectionOptions {
  const d = DEFAULT_DETECTION_OPTIONS;
  const o: DetectionOptions = {
    learning: { ...d.learning, ...input.learning },
    baseline: { ...d.baseline, ...input.baseline },
    cooldownMs: input.cooldownMs ?? d.cooldownMs,
    risk: {
      halfLifeMs: input.risk?.halfLifeMs ?? d.risk.halfLifeMs,
      points: { ...d.risk.points, ...input.risk?.points },
      baselineMax: input.risk?.baselineMax ?? d.risk.baselineMax,
    },
    severity: { ...d.severity, ...input.severity },
    disabled: [...(input.disabled ?? d.disabled)],
    replay: { ...d.replay, ...input.replay },
    enumeration: { ...d.enumeration, ...input.enumeration },
    offHours: { ...d.offHours, ...input.offHours },
    rateSpike: { ...d.rateSpike, ...input.rateSpike },
    dormant: { ...d.dormant, ...input.dormant },
    escalation: { ...d.escalation, ...input.escalation },
    drift: { ...d.drift, ...input.drift },
  };
  for (const [path, v] of numericLeaves(o)) {
    if (!Number.isFinite(v) || v < 0) throw invalidRequest(`detection option ${path} must be a finite number >= 0`);
  }
  if (o.baseline.maxIdentities < 1) throw invalidRequest('detection option baseline.maxIdentities must be >= 1');
  if (o.enumeration.denies < 1 || o.enumeration.distinctResources < 1 || o.enumeration.slowDistinctResources < 1) {
    throw invalidRequest('detection enumeration thresholds must be >= 1');
  }
  if (o.rateSpike.percentile <= 0 || o.rateSpike.percentile > 1) {
    throw invalidRequest('detection option rateSpike.percentile must be in (0, 1]');
  }
  if (o.risk.halfLifeMs <= 0) throw invalidRequest('detection option risk.halfLifeMs must be > 0');
  if (o.drift.ipv4PrefixBits > 32 || o.drift.ipv6PrefixBits > 128) {
    throw invalidRequest('detection drift prefix lengths must be <= 32 (IPv4) and <= 128 (IPv6)');
  }
  // A `g` or `y` RegExp keeps lastIndex between test() calls and would then match every other time.
  const e = o.escalation;
  e.secretRead = statelessMatcher(e.secretRead);
  e.permissionChange = statelessMatcher(e.permissionChange);
  e.externalCall = statelessMatcher(e.externalCall);
  return o;
}

function statelessMatcher(m: ActionMatcher): ActionMatcher {
  const out: ActionMatcher = { noun: stateless(m.noun) };
  if (m.verb) out.verb = stateless(m.verb);
  return out;
}

function stateless(r: RegExp): RegExp {
  return r.global || r.sticky ? new RegExp(r.source, r.flags.replace(/[gy]/g, '')) : r;
}

function* numericLeaves(o: object, prefix = ''): Generator<[string, number]> {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') yield [prefix + k, v];
    else if (v && typeof v === 'object' && !(v instanceof RegExp) && !Array.isArray(v)) {
      yield* numericLeaves(v as object, `${prefix}${k}.`);
    }
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !(o instanceof RegExp)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
