/**
 * The detector: feed it the broker's issuance/decision stream with observe(); it updates the
 * per-identity baselines, runs the rules, and returns findings. Synchronous and allocation-light
 * (no findings → a shared empty array, no per-event strings in the common case), so the broker can
 * call it inline; it does no I/O: persisting findings, alerting and responding belong to the caller.
 */
import { randomUUID } from 'node:crypto';
import { invalidRequest } from '../errors.js';
import {
  baselineFromJSON,
  baselineToJSON,
  countRate,
  isMature,
  learnEvent,
  noteRemotePlace,
  resourceNovelty,
  resourceTypeOf,
  type BaselineJSON,
} from './baseline.js';
import { judgeToken, noteAttempt } from './credential-signals.js';
import { corroborated, evidenceGrade, ONE_OPEN_PER_IDENTITY } from './evidence-grade.js';
import type { DetectionEvent, IdentityKind } from './events.js';
import type { Finding } from './finding.js';
import { resolveDetectionOptions, type DetectionOptionsInput } from './options.js';
import { addFindingRisk, removeFindingRisk, riskScore } from './risk.js';
import { BUILTIN_RULES } from './rules/all.js';
import type { Clock } from '../clock.js';
import { strangePlace } from './rules/replay.js';
import type { Rule, RuleContext } from './rules/rule.js';
import { createIdentityState, newIdentityState, type IdentityState } from './state.js';
import { createActionClassifier, trackDeny, trackEscalation, trackNewResource } from './windows.js';

export type { Clock };

export interface CreateDetectorInput {
  options?: DetectionOptionsInput;
  clock: Clock;
  /** Finding id generator; random UUIDs by default. */
  newId?: () => string;
  /**
   * Identity kinds opted in to identity-wide responses (responses.ts): only their credential and
   * chain findings hold the critical risk floor. None by default, like the response policy.
   */
  identityWide?: readonly IdentityKind[];
}

/** All baselines of a detector as one JSON document (store it, load it into a new instance). */
export interface BaselineSnapshot {
  v: 1;
  exportedAt: number;
  baselines: BaselineJSON[];
}

/** Activity another instance of the cluster saw (cluster-activity.ts). */
export type RemoteActivity =
  | { kind: 'place'; identity: string; jti: string; grant: string; ip: string; issue: boolean; at: number; run?: string; attempt?: number }
  | { kind: 'deny'; identity: string; at: number; action: string; resource: string; jti?: string }
  | { kind: 'count'; identity: string; count: number; at: number };

export interface Detector {
  /** Judge one event, then learn it. Returns the findings it raised (usually none). */
  observe(event: DetectionEvent): readonly Finding[];
  /** Take in what another instance saw; may raise a replay found only by putting both together. */
  observeRemote(activity: RemoteActivity): readonly Finding[];
  /** Learn a history (oldest first) without judging it: no findings, no risk. Returns events learned. */
  replay(events: Iterable<DetectionEvent>): number;
  /** Export every baseline. */
  baselines(): BaselineSnapshot;
  /** Load baselines (replacing those of the same identities); open findings and risk are kept. */
  importBaselines(snapshot: BaselineSnapshot): void;
  /** One identity's baseline, as JSON; undefined if never seen. */
  baseline(identity: string): BaselineJSON | undefined;
  /**
   * 0–100; ≥ 80 while a critical finding of the identity is open and its kind is opted in to
   * identity-wide responses. `now` defaults to the clock.
   */
  risk(identity: string, now?: number): number;
  /** Resolve an open finding; returns the resolved copy, or undefined if unknown or already resolved. */
  resolve(findingId: string, reason?: string): Finding | undefined;
  /** Open findings, of one identity or of all, oldest first. */
  openFindings(identity?: string): Finding[];
  /** How many identities have state in memory (bounded by baseline.maxIdentities). */
  tracked(): number;
}

const NO_FINDINGS: readonly Finding[] = Object.freeze([]);

/**
 * The request rate (rate_spike, enumeration's volume) counts requests, not issuances (replicas
 * refreshing together after expiry are not traffic), and a request repeated at once with the same
 * token, action and resource (a client retrying on a flaky network) only once.
 */
function countsTowardRate(s: IdentityState, e: DetectionEvent): boolean {
  if (e.kind !== 'request') return false;
  const key = `${e.jti ?? ''}|${e.action}|${e.resource}`;
  if (key === s.lastRequest) return false;
  s.lastRequest = key;
  return true;
}
/** An open finding of this rule already contains this token (a contained credential is not raised twice). */
function openOnToken(s: IdentityState, rule: string, jti: string | undefined): boolean {
  if (jti === undefined || s.open.size === 0) return false;
  for (const f of s.open.values()) if (f.rule === rule && f.jti === jti && corroborated(f.evidence)) return true;
  return false;
}

/** An open finding of this rule with this evidence reason (the same burst, seen one event later). */
function openWithReason(s: IdentityState, rule: string, reason: unknown): boolean {
  for (const f of s.open.values()) if (f.rule === rule && f.evidence.reason === reason) return true;
  return false;
}

/** Prune a rule's cooldown map when it grows past this (grant-scoped rules key it by grant). */
const COOLDOWN_PRUNE_AT = 256;
/**
 * Open findings kept in memory per identity. Past this the oldest non-critical one is forgotten
 * here (its points keep decaying in the sum; the caller's store still holds it): an identity under
 * sustained attack must not grow the detector without bound. Critical ones are never dropped,
 * because they hold the risk floor until an operator resolves them.
 */
const MAX_OPEN_PER_IDENTITY = 1000;

export function createDetector(input: CreateDetectorInput): Detector {
  const o = resolveDetectionOptions(input.options);
  const clock = input.clock;
  const newId = input.newId ?? randomUUID;
  const wide: readonly IdentityKind[] = [...(input.identityWide ?? [])];
  const disabled = new Set(o.disabled);
  const rules: readonly Rule[] = BUILTIN_RULES.filter((r) => !disabled.has(r.id));
  const classify = createActionClassifier(o.escalation);
  const states = new Map<string, IdentityState>();
  const openById = new Map<string, IdentityState>();
  // One context object reused for every event: rules read it synchronously and never keep it.
  const ctx = {} as RuleContext;
  ctx.options = o;

  // Least recently seen first (Map insertion order, refreshed on every event): capped at
  // baseline.maxIdentities so a stream of made-up ids cannot grow the heap without bound.
  const forget = (id: string, s: IdentityState) => {
    for (const f of s.open.keys()) openById.delete(f);
    states.delete(id);
  };
  const admit = (id: string, s: IdentityState) => {
    states.set(id, s);
    while (states.size > o.baseline.maxIdentities) {
      const [oldId, old] = states.entries().next().value as [string, IdentityState];
      forget(oldId, old);
    }
  };
  const stateOf = (e: DetectionEvent): IdentityState => {
    let s = states.get(e.identity);
    if (s) {
      states.delete(e.identity);
      states.set(e.identity, s);
      return s;
    }
    s = newIdentityState(e, o.enumeration.denies, o.enumeration.slowDenies);
    admit(e.identity, s);
    return s;
  };

  const inCooldown = (s: IdentityState, rule: Rule, key: string, at: number): boolean => {
    const last = s.cooldowns?.get(rule.id)?.get(key);
    // Either side of the last finding: an out-of-order event must not slip past the cooldown either.
    return last !== undefined && Math.abs(at - last) < o.cooldownMs;
  };

  const startCooldown = (s: IdentityState, rule: Rule, key: string, at: number): void => {
    s.cooldowns ??= new Map();
    let m = s.cooldowns.get(rule.id);
    if (!m) s.cooldowns.set(rule.id, (m = new Map()));
    if (m.size >= COOLDOWN_PRUNE_AT) for (const [k, t] of m) if (at - t >= o.cooldownMs) m.delete(k);
    m.delete(key);
    m.set(key, at);
  };

  const forgetOldestNonCritical = (s: IdentityState): void => {
    for (const [id, f] of s.open) {
      if (f.severity === 'critical') continue;
      s.open.delete(id);
      openById.delete(id);
      return;
    }
  };

  const raise = (s: IdentityState, rule: Pick<Rule, 'id'>, e: Pick<DetectionEvent, 'identity' | 'identityKind' | 'at' | 'grantId' | 'jti'>, evidence: Record<string, unknown>, severity = o.severity[rule.id]): Finding => {
    const f: Finding = {
      id: newId(),
      rule: rule.id,
      identity: e.identity,
      severity,
      status: 'open',
      evidence,
      createdAt: e.at,
    };
    // Only a proof by another key earns critical: a token from a strange address or workload
    // is also produced by NAT pools and meshes the baseline has not seen yet (evidence-grade.ts).
    if (f.severity === 'critical' && (evidenceGrade(f) === 'baseline' || evidence.reason === 'source_changed')) f.severity = 'high';
    const kind = e.identityKind ?? s.baseline.kind;
    if (kind !== undefined) f.identityKind = kind;
    // A replay without a grant id on the event still names the grant from the token's first sighting,
    // so a revoke_grant response knows what to revoke.
    const grantId = e.grantId ?? (typeof evidence.grantId === 'string' ? evidence.grantId : undefined);
    if (grantId !== undefined) f.grantId = grantId;
    if (e.jti !== undefined) f.jti = e.jti;
    if (s.open.size >= MAX_OPEN_PER_IDENTITY) forgetOldestNonCritical(s);
    s.open.set(f.id, f);
    openById.set(f.id, s);
    addFindingRisk(s, f, o.risk, wide);
    return f;
  };

  const replayRuleOn = rules.find((r) => r.id === 'replay');

  /**
   * What another instance saw (cluster-activity.ts): token places, policy denies, request counts.
   * Counted into this instance's windows and token sightings, so replay and enumeration judge the
   * cluster's activity; a copied token is raised here only when the strange place was seen here.
   */
  const observeRemote = (a: RemoteActivity): readonly Finding[] => {
    const s = stateOf({ identity: a.identity } as DetectionEvent);
    const b = s.baseline;
    if (a.kind === 'count') {
      for (let i = 0; i < a.count; i++) countRate(b, a.at, o.baseline);
      return NO_FINDINGS;
    }
    if (a.kind === 'deny') {
      trackDeny(s, { kind: 'request', at: a.at, identity: a.identity, allowed: false, action: a.action, resource: a.resource, reason: 'denied on another instance', ...(a.jti !== undefined ? { jti: a.jti } : {}) });
      return NO_FINDINGS;
    }
    // A later attempt of a run exchanged on another instance ends the earlier attempts' tasks here too.
    if (a.issue && a.run !== undefined && a.attempt !== undefined) noteAttempt(s.signals, a.run, a.attempt);
    let t = b.tokens.get(a.jti);
    if (!t) {
      if (b.tokens.size >= o.baseline.maxTokens) b.tokens.delete(b.tokens.keys().next().value as string);
      t = { firstAt: a.at, lastAt: a.at, uses: 0, grantId: a.grant, ip: a.ip };
      b.tokens.set(a.jti, t);
    }
    const strange = !a.issue && isMature(b, o.learning) && replayRuleOn ? strangePlace(b, t, a.ip, false) : undefined;
    noteRemotePlace(b, t, a);
    if (strange === undefined || !replayRuleOn || inCooldown(s, replayRuleOn, a.grant, a.at)) return NO_FINDINGS;
    startCooldown(s, replayRuleOn, a.grant, a.at);
    const evidence = { reason: 'source_changed', jti: a.jti, grantId: a.grant, strangeIp: strange, firstSeen: { ...t, ...(t.ips ? { ips: [...t.ips] } : {}) }, elsewhere: { sourceIp: a.ip, at: a.at } };
    return [raise(s, replayRuleOn, { identity: a.identity, at: a.at, grantId: a.grant, jti: a.jti }, evidence)];
  };

  const observe = (e: DetectionEvent): readonly Finding[] => {
    const s = stateOf(e);
    const b = s.baseline;
    ctx.event = e;
    ctx.state = s;
    ctx.baseline = b;
    ctx.mature = isMature(b, o.learning);
    ctx.actionSeen = b.actions.has(e.action);
    ctx.resourceSeen = b.resources.has(e.resource);
    // resourceTypeOf allocates a substring: only for resources not already known.
    ctx.resourceTypeSeen = ctx.resourceSeen || b.resourceTypes.has(resourceTypeOf(e.resource));
    ctx.highCardinality = b.dropped.resources > 0 || resourceNovelty(b) > o.baseline.highCardinalityRatio;
    ctx.resourceNew = !ctx.resourceSeen && (!ctx.resourceTypeSeen || !ctx.highCardinality);

    const counted = countsTowardRate(s, e);
    if (counted) countRate(b, e.at, o.baseline);
    trackDeny(s, e);
    if (ctx.mature && ctx.resourceNew) trackNewResource(s, e, o.enumeration);
    // Only requests perform actions: a token obtained for secrets:read, iam:write and egress:post
    // (one issue event per scope, in that order) must not read as the chain having happened.
    // A denied step is an attempt, not a privilege used: only allowed requests advance the chain.
    trackEscalation(s, e, e.kind === 'request' && e.allowed ? classify(e.action) : 0, o.escalation.windowMs);

    let out: Finding[] | undefined;
    // Credential containment (credential-signals.ts): judged on the baseline as it was before this
    // event, once per token, outside the one-open-per-identity and cooldown gates of baseline alerts
    // (each is about a different credential). It stands for its rule's alert on this event, and for a
    // replay of the same token's place (a token moved to a foreign network is both; one finding).
    const contained = e.jti !== undefined && s.signals.tokens.get(e.jti)?.contained === true;
    const contain = judgeToken(s.signals, b, e, o, ctx.mature, counted);
    const containRule = contain && !disabled.has(contain.rule) ? contain.rule : undefined;
    if (contain && containRule !== undefined) out = [raise(s, { id: containRule }, e, contain.evidence, o.severity[containRule] === 'critical' ? 'critical' : 'high')];
    for (const rule of rules) {
      if ((containRule !== undefined && rule.id === containRule) || ((contained || containRule !== undefined) && rule.id === 'replay')) continue;
      const key = rule.dedupe === 'grant' ? (e.grantId ?? e.taskId ?? e.jti ?? '') : '';
      // One open finding per baseline rule and identity: a second says nothing the first did not,
      // unless it contains a credential the first did not (rule.mayContain).
      const gated = (s.cooldowns !== undefined && inCooldown(s, rule, key, e.at)) || (ONE_OPEN_PER_IDENTITY.has(rule.id) && s.baselineRules.has(rule.id));
      if ((gated && rule.mayContain !== true) || (ONE_OPEN_PER_IDENTITY.has(rule.id) && openOnToken(s, rule.id, e.jti))) continue;
      const evidence = rule.check(ctx);
      // Past the gate only a containment the open finding did not already stand for (another reason).
      if (!evidence || (gated && (!corroborated(evidence) || openWithReason(s, rule.id, evidence.reason)))) continue;
      startCooldown(s, rule, key, e.at);
      (out ??= []).push(raise(s, rule, e, evidence));
    }
    learnEvent(b, e, o.baseline);
    return out ?? NO_FINDINGS;
  };

  const replay = (events: Iterable<DetectionEvent>): number => {
    let n = 0;
    for (const e of events) {
      const b = stateOf(e).baseline;
      // History older than the minute being counted (it arrived after live events) must not be
      // counted into that minute: countRate folds late events into it, which would fake a spike.
      if ((b.events === 0 || Math.floor(e.at / 60_000) >= b.rate.minute) && e.kind === 'request') countRate(b, e.at, o.baseline);
      learnEvent(b, e, o.baseline);
      n += 1;
    }
    return n;
  };

  const baselines = (): BaselineSnapshot => ({
    v: 1,
    exportedAt: clock().getTime(),
    baselines: [...states.values()].map((s) => baselineToJSON(s.baseline)),
  });

  const importBaselines = (snap: BaselineSnapshot): void => {
    if (!snap || snap.v !== 1 || !Array.isArray(snap.baselines)) throw invalidRequest('unsupported baseline snapshot');
    // Parse everything first: a bad record must not leave half a snapshot loaded.
    const parsed = snap.baselines.map(baselineFromJSON);
    for (const b of parsed) {
      const s = states.get(b.identity);
      if (s) s.baseline = b;
      else admit(b.identity, createIdentityState(b, o.enumeration.denies, o.enumeration.slowDenies));
    }
  };

  const resolve = (findingId: string, reason?: string): Finding | undefined => {
    const s = openById.get(findingId);
    const f = s?.open.get(findingId);
    if (!s || !f) return undefined;
    const now = clock().getTime();
    openById.delete(findingId);
    s.open.delete(findingId);
    removeFindingRisk(s, f, now, o.risk, wide);
    // A new object: the caller may still hold the open one observe() returned.
    const done: Finding = { ...f, status: 'resolved', resolvedAt: now };
    if (reason !== undefined) done.resolution = reason;
    return done;
  };

  const openFindings = (identity?: string): Finding[] => {
    if (identity !== undefined) return [...(states.get(identity)?.open.values() ?? [])];
    const all: Finding[] = [];
    for (const s of states.values()) all.push(...s.open.values());
    return all.sort((a, b) => a.createdAt - b.createdAt);
  };

  return {
    observe,
    observeRemote,
    replay,
    baselines,
    importBaselines,
    baseline: (identity) => {
      const s = states.get(identity);
      return s ? baselineToJSON(s.baseline) : undefined;
    },
    risk: (identity, now = clock().getTime()) => riskScore(states.get(identity), now, o.risk),
    resolve,
    openFindings,
    tracked: () => states.size,
  };
}
