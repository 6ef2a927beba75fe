/**
 * Per-identity behaviour baseline, learned one event at a time so that live traffic and a replayed
 * audit history build the same thing. Memory per identity is bounded by `DetectionOptions.baseline`
 * caps: past a cap a new distinct value is counted in `dropped`, not stored (the values already
 * learned are the ones rules compare with, and an attacker cannot flush them out by flooding).
 *
 * Hours and weekdays are UTC: the histogram is only compared with itself, so the zone does not
 * matter (DST moves a local schedule by an hour, which the off_hours tolerance absorbs).
 */
import { invalidRequest } from '../errors.js';
import type { DetectionEvent, IdentityKind } from './events.js';
import type { DetectionOptions } from './options.js';
import { ipPrefix } from './ip-prefix.js';
import { RATE_BUCKETS, rateBucket } from './rate-histogram.js';

export interface CountEntry {
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** What one grant (or task, when the broker has no grant id) looked like when first seen. */
export interface GrantSighting {
  firstAt: number;
  lastAt: number;
  environment?: string;
  ip?: string;
  /** DPoP keys and source addresses seen on this grant (first few, for evidence). */
  jkts: string[];
  ips: string[];
}

/** First sighting of one token (`jti`) and how often it was used. */
export interface TokenSighting {
  firstAt: number;
  lastAt: number;
  uses: number;
  grantId?: string;
  /** `cnf.jkt` it was issued to, or the first key presented with it when the issuance was not seen. */
  jkt?: string;
  /** Address of the first sighting (the issuance when it was seen). */
  ip?: string;
  /** Address the token endpoint saw the exchange come from (socket or trusted proxy, never a header). */
  issuedIp?: string;
  /** Distinct addresses it was used from at the gateway on this instance (first few). */
  ips?: string[];
  /** ... and on the cluster's other instances (cluster-activity.ts). */
  elsewhere?: string[];
  environment?: string;
}

export interface RateState {
  /** Minute index (epoch ms / 60 000) of the minute being counted. */
  minute: number;
  count: number;
  /** Count of the minute just before `minute` (0 if that minute was idle). */
  prevCount: number;
  /** Histogram of active minutes' counts (see rate-histogram.ts). */
  hist: number[];
  histMinutes: number;
}

export interface IdentityBaseline {
  identity: string;
  kind?: IdentityKind;
  events: number;
  allowed: number;
  denied: number;
  firstAt: number;
  lastAt: number;
  /** Longest silence between two of its events (its cadence: a monthly job has ~30 days). */
  maxGapMs?: number;
  actions: Map<string, CountEntry>;
  resources: Map<string, CountEntry>;
  resourceTypes: Map<string, CountEntry>;
  environments: Map<string, CountEntry>;
  /** Allowed events whose resource was not in `resources` at the time (cardinality signal). */
  newResourceEvents: number;
  dropped: { actions: number; resources: number; resourceTypes: number; environments: number; addresses?: number; prefixes?: number };
  hours: number[];
  weekdays: number[];
  rate: RateState;
  grants: Map<string, GrantSighting>;
  tokens: Map<string, TokenSighting>;
  /**
   * Source addresses (exact) and their networks (/24, /64) the identity exchanged or made allowed
   * requests from → last seen: replicas and NAT pools are normal for workloads, and a token used
   * from a place the identity already uses is not news (rules/replay.ts, rules/drift.ts).
   */
  addresses: Map<string, number>;
  prefixes: Map<string, number>;
  /** Addresses seen with one token so far → that token (not the identity's yet; learnAddress). */
  pendingAddresses: Map<string, string>;
  /** AI agents: tool-call bigrams, previous action → next action → count (`^` = start of a task). */
  transitions: Map<string, Map<string, number>>;
  lastAction?: string;
  lastTask?: string;
}

export type BaselineLimits = DetectionOptions['baseline'];

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Marks the start of an agent's task in the transition table. */
export const TASK_START = '^';
const MAX_PER_GRANT_VALUES = 8;
/** Addresses and networks remembered per identity (least recently seen forgotten first). */
export const MAX_ADDRESSES = 256;
export const MAX_PREFIXES = 64;

/** Below this many known networks an identity's networks are stable (a service, a NAT-ed job). */
export const STABLE_NETWORKS = 8;

/** The network an address belongs to, for "does this identity already use it" (/24, /64). */
export function networkOf(ip: string): string {
  return ipPrefix(ip, 24, 64);
}

/**
 * Whether the identity already uses this exact address. Past the cap (a workload on addresses that
 * change all the time) its known networks stand in for the addresses.
 */
export function knownAddress(b: IdentityBaseline, ip: string): boolean {
  return b.addresses.has(ip) || ((b.dropped.addresses ?? 0) > 0 && knownNetwork(b, ip));
}

/** Whether the identity already uses this network (/24, /64). */
export function knownNetwork(b: IdentityBaseline, ip: string): boolean {
  return b.prefixes.has(networkOf(ip));
}

export function hourOfDay(at: number): number {
  return Math.floor(at / HOUR) % 24;
}

/** 0 = Sunday (1970-01-01 was a Thursday). */
export function weekdayOf(at: number): number {
  return (Math.floor(at / DAY) + 4) % 7;
}

/** `Order::42` → `Order`; an audience or untyped resource is its own type. */
export function resourceTypeOf(resource: string): string {
  const i = resource.indexOf('::');
  return i < 0 ? resource : resource.slice(0, i);
}

/** The key grants are tracked under: grant id, else task id. */
export function grantKeyOf(e: DetectionEvent): string | undefined {
  return e.grantId ?? e.taskId;
}

export function createBaseline(identity: string, kind?: IdentityKind): IdentityBaseline {
  const b: IdentityBaseline = {
    identity,
    events: 0,
    allowed: 0,
    denied: 0,
    firstAt: 0,
    lastAt: 0,
    actions: new Map(),
    resources: new Map(),
    resourceTypes: new Map(),
    environments: new Map(),
    newResourceEvents: 0,
    dropped: { actions: 0, resources: 0, resourceTypes: 0, environments: 0 },
    hours: new Array<number>(24).fill(0),
    weekdays: new Array<number>(7).fill(0),
    rate: { minute: 0, count: 0, prevCount: 0, hist: new Array<number>(RATE_BUCKETS).fill(0), histMinutes: 0 },
    grants: new Map(),
    tokens: new Map(),
    addresses: new Map(),
    prefixes: new Map(),
    pendingAddresses: new Map(),
    transitions: new Map(),
  };
  if (kind) b.kind = kind;
  return b;
}

/** Enough history to compare with: `minEvents` events spread over at least one learning window. */
export function isMature(b: IdentityBaseline, learning: DetectionOptions['learning']): boolean {
  return b.events >= learning.minEvents && b.lastAt - b.firstAt >= learning.windowMs;
}

/**
 * Count the event in the per-minute rate. Called before the rules run (the current minute must
 * include the event being judged); closing a minute moves its count into the histogram.
 */
export function countRate(b: IdentityBaseline, at: number, limits: BaselineLimits): void {
  const r = b.rate;
  const m = Math.floor(at / MINUTE);
  if (m > r.minute) {
    if (r.count > 0) {
      r.hist[rateBucket(r.count)]! += 1;
      r.histMinutes += 1;
      if (r.histMinutes > limits.rateHistoryMinutes) {
        for (let i = 0; i < r.hist.length; i++) r.hist[i]! *= 0.5;
        r.histMinutes *= 0.5;
      }
    }
    r.prevCount = m === r.minute + 1 ? r.count : 0;
    r.minute = m;
    r.count = 0;
  }
  // A slightly late event (m < minute) is counted in the current minute rather than rewriting history.
  r.count += 1;
}

/** Events in the last 60 s, estimated from this and the previous minute (sliding-window counter). */
export function currentRate(b: IdentityBaseline, at: number): number {
  const r = b.rate;
  const into = (at - r.minute * MINUTE) / MINUTE;
  return r.count + r.prevCount * Math.max(0, 1 - into);
}

/**
 * Share of the identity's history in the hour of `at` (UTC) and the `toleranceHours` either side, so
 * a job starting a little early or late (or a DST shift) is not unusual.
 */
export function hourShare(b: IdentityBaseline, at: number, toleranceHours: number): { hour: number; span: number; share: number } {
  const hour = hourOfDay(at);
  const span = Math.min(11, Math.floor(toleranceHours));
  let n = 0;
  for (let d = -span; d <= span; d++) n += b.hours[(hour + d + 24) % 24]!;
  return { hour, span, share: b.events === 0 ? 0 : n / b.events };
}

/** Learn everything but the rate (see countRate). Called after the rules have judged the event. */
export function learnEvent(b: IdentityBaseline, e: DetectionEvent, limits: BaselineLimits): void {
  const at = e.at;
  if (b.events === 0) b.firstAt = at;
  else if (at - b.lastAt > (b.maxGapMs ?? 0)) b.maxGapMs = at - b.lastAt;
  b.events += 1;
  if (at > b.lastAt) b.lastAt = at;
  if (e.identityKind && b.kind !== e.identityKind) b.kind = e.identityKind;
  b.hours[hourOfDay(at)]! += 1;
  b.weekdays[weekdayOf(at)]! += 1;
  if (e.environment !== undefined) {
    if (!bump(b.environments, e.environment, at, limits.maxEnvironments)) b.dropped.environments += 1;
  }
  learnGrant(b, e, limits);
  learnToken(b, e, limits);
  // Only where the identity really worked from: a refused request (a thief's key) teaches nothing.
  if (e.allowed && e.sourceIp !== undefined) learnAddress(b, e, e.sourceIp);
  if (!e.allowed) {
    // A refused action did not happen: it must not become "usual" for the identity.
    b.denied += 1;
    return;
  }
  b.allowed += 1;
  if (!bump(b.actions, e.action, at, limits.maxActions)) b.dropped.actions += 1;
  const known = b.resources.get(e.resource);
  if (known) {
    known.count += 1;
    known.lastSeen = at;
  } else {
    b.newResourceEvents += 1;
    if (b.resources.size < limits.maxResources) b.resources.set(e.resource, { count: 1, firstSeen: at, lastSeen: at });
    else b.dropped.resources += 1;
    if (!bump(b.resourceTypes, resourceTypeOf(e.resource), at, limits.maxResourceTypes)) b.dropped.resourceTypes += 1;
  }
  if (b.kind === 'ai_agent') learnTransition(b, e, limits);
}

/** Share of allowed events that touched a resource never seen before (1 = every event is new). */
export function resourceNovelty(b: IdentityBaseline): number {
  return b.allowed === 0 ? 1 : b.newResourceEvents / b.allowed;
}

function bump(m: Map<string, CountEntry>, key: string, at: number, cap: number): boolean {
  const c = m.get(key);
  if (c) {
    c.count += 1;
    c.lastSeen = at;
    return true;
  }
  if (m.size >= cap) return false;
  m.set(key, { count: 1, firstSeen: at, lastSeen: at });
  return true;
}

function learnGrant(b: IdentityBaseline, e: DetectionEvent, limits: BaselineLimits): void {
  const key = grantKeyOf(e);
  if (key === undefined) return;
  let g = b.grants.get(key);
  if (!g) {
    // Grants are short-lived: the oldest one seen is the one to forget.
    if (b.grants.size >= limits.maxGrants) evictOldest(b.grants);
    g = { firstAt: e.at, lastAt: e.at, jkts: [], ips: [] };
    if (e.environment !== undefined) g.environment = e.environment;
    b.grants.set(key, g);
  } else {
    if (e.at > g.lastAt) g.lastAt = e.at;
    if (g.environment === undefined && e.environment !== undefined) g.environment = e.environment;
  }
  const jkt = e.presentedJkt ?? e.issuedJkt;
  if (jkt !== undefined && g.jkts.length < MAX_PER_GRANT_VALUES && !g.jkts.includes(jkt)) g.jkts.push(jkt);
  // Where the task works from: its requests. The exchange may come by another path (NAT, mesh).
  if (e.sourceIp === undefined || e.kind !== 'request') return;
  g.ip ??= e.sourceIp;
  if (g.ips.length < MAX_PER_GRANT_VALUES && !g.ips.includes(e.sourceIp)) g.ips.push(e.sourceIp);
}

/**
 * An address becomes the identity's once it exchanged from it, or used it with two different tokens
 * (a pod re-exchanging): a copied token's place, seen with that one token, never does. Past the cap
 * a new address is counted, not stored (like every other baseline value).
 */
function learnAddress(b: IdentityBaseline, e: DetectionEvent, ip: string): void {
  const at = e.at;
  const net = networkOf(ip);
  if (b.prefixes.has(net) || b.prefixes.size < MAX_PREFIXES) b.prefixes.set(net, at);
  else b.dropped.prefixes = (b.dropped.prefixes ?? 0) + 1;
  if (!b.addresses.has(ip) && e.kind === 'request') {
    const token = e.jti ?? '';
    const first = b.pendingAddresses.get(ip);
    if (first === undefined || first === token) {
      if (first === undefined && b.pendingAddresses.size >= MAX_ADDRESSES) evictOldest(b.pendingAddresses);
      b.pendingAddresses.set(ip, token);
      return;
    }
    b.pendingAddresses.delete(ip);
  }
  if (b.addresses.has(ip) || b.addresses.size < MAX_ADDRESSES) b.addresses.set(ip, at);
  else b.dropped.addresses = (b.dropped.addresses ?? 0) + 1;
}

/** Record where a token was seen (an issuance, or a use at the gateway); also from another instance. */
export function noteTokenPlace(t: TokenSighting, kind: 'issue' | 'request', ip: string): void {
  if (kind === 'issue') {
    t.issuedIp ??= ip;
    return;
  }
  t.ips ??= [];
  if (t.ips.length < MAX_PER_GRANT_VALUES && !t.ips.includes(ip)) t.ips.push(ip);
}

/** A place another instance saw the token at (cluster-activity.ts): an issuance or a use. */
export function noteRemotePlace(b: IdentityBaseline, t: TokenSighting, a: { ip: string; issue: boolean; at: number; jti: string }): void {
  if (a.at > t.lastAt) t.lastAt = a.at;
  if (a.issue) t.issuedIp ??= a.ip;
  else {
    t.elsewhere ??= [];
    if (t.elsewhere.length < MAX_PER_GRANT_VALUES && !t.elsewhere.includes(a.ip)) t.elsewhere.push(a.ip);
  }
  // Where the identity works from, whichever instance saw it (a copy's place stays pending).
  learnAddress(b, { kind: a.issue ? 'issue' : 'request', at: a.at, jti: a.jti } as DetectionEvent, a.ip);
}

function learnToken(b: IdentityBaseline, e: DetectionEvent, limits: BaselineLimits): void {
  if (e.jti === undefined) return;
  const t = b.tokens.get(e.jti);
  if (t) {
    t.uses += 1;
    if (e.at > t.lastAt) t.lastAt = e.at;
    // Later sightings never overwrite the first: the first is what a replay is compared with.
    if (t.jkt === undefined) {
      const jkt = e.issuedJkt ?? e.presentedJkt;
      if (jkt !== undefined) t.jkt = jkt;
    }
    if (t.ip === undefined && e.sourceIp !== undefined) t.ip = e.sourceIp;
    // A refused use (a thief's key) is a place the token was presented from, too.
    if (e.sourceIp !== undefined) noteTokenPlace(t, e.kind, e.sourceIp);
    return;
  }
  if (b.tokens.size >= limits.maxTokens) evictOldest(b.tokens);
  const s: TokenSighting = { firstAt: e.at, lastAt: e.at, uses: 1 };
  if (e.grantId !== undefined) s.grantId = e.grantId;
  const jkt = e.issuedJkt ?? e.presentedJkt;
  if (jkt !== undefined) s.jkt = jkt;
  if (e.sourceIp !== undefined) {
    s.ip = e.sourceIp;
    noteTokenPlace(s, e.kind, e.sourceIp);
  }
  if (e.environment !== undefined) s.environment = e.environment;
  b.tokens.set(e.jti, s);
}

function learnTransition(b: IdentityBaseline, e: DetectionEvent, limits: BaselineLimits): void {
  const task = e.taskId ?? e.grantId;
  const prev = task !== b.lastTask || b.lastAction === undefined ? TASK_START : b.lastAction;
  let next = b.transitions.get(prev);
  if (!next && b.transitions.size < limits.maxActions + 1) {
    next = new Map();
    b.transitions.set(prev, next);
  }
  if (next) {
    const c = next.get(e.action);
    if (c !== undefined) next.set(e.action, c + 1);
    else if (next.size < limits.maxTransitionsPerAction) next.set(e.action, 1);
  }
  b.lastAction = e.action;
  if (task === undefined) delete b.lastTask;
  else b.lastTask = task;
}

/** Known transition count from the agent's previous action to `action` (undefined: not an agent). */
export function transitionCount(b: IdentityBaseline, e: DetectionEvent): number | undefined {
  if (b.kind !== 'ai_agent') return undefined;
  const task = e.taskId ?? e.grantId;
  const prev = task !== b.lastTask || b.lastAction === undefined ? TASK_START : b.lastAction;
  return b.transitions.get(prev)?.get(e.action) ?? 0;
}

function evictOldest(m: Map<string, unknown>): void {
  const first = m.keys().next();
  if (!first.done) m.delete(first.value);
}

// ---------------------------------------------------------------------------------------------
// JSON form: Maps become arrays of tuples so a baseline can be stored as one JSON document.

type CountTuple = [key: string, count: number, firstSeen: number, lastSeen: number];

export interface BaselineJSON {
  v: 1;
  identity: string;
  kind?: IdentityKind;
  events: number;
  allowed: number;
  denied: number;
  firstAt: number;
  lastAt: number;
  maxGapMs?: number;
  actions: CountTuple[];
  resources: CountTuple[];
  resourceTypes: CountTuple[];
  environments: CountTuple[];
  newResourceEvents: number;
  dropped: IdentityBaseline['dropped'];
  hours: number[];
  weekdays: number[];
  rate: RateState;
  grants: [string, GrantSighting][];
  tokens: [string, TokenSighting][];
  addresses?: [string, number][];
  prefixes?: [string, number][];
  pendingAddresses?: [string, string][];
  transitions: [string, [string, number][]][];
  lastAction?: string;
  lastTask?: string;
}

export function baselineToJSON(b: IdentityBaseline): BaselineJSON {
  const counts = (m: Map<string, CountEntry>): CountTuple[] =>
    [...m].map(([k, c]) => [k, c.count, c.firstSeen, c.lastSeen]);
  const j: BaselineJSON = {
    v: 1,
    identity: b.identity,
    events: b.events,
    allowed: b.allowed,
    denied: b.denied,
    firstAt: b.firstAt,
    lastAt: b.lastAt,
    actions: counts(b.actions),
    resources: counts(b.resources),
    resourceTypes: counts(b.resourceTypes),
    environments: counts(b.environments),
    newResourceEvents: b.newResourceEvents,
    dropped: { ...b.dropped },
    hours: [...b.hours],
    weekdays: [...b.weekdays],
    rate: { ...b.rate, hist: [...b.rate.hist] },
    grants: [...b.grants].map(([k, g]) => [k, { ...g, jkts: [...g.jkts], ips: [...g.ips] }]),
    tokens: [...b.tokens].map(([k, t]) => [k, { ...t, ...(t.ips ? { ips: [...t.ips] } : {}), ...(t.elsewhere ? { elsewhere: [...t.elsewhere] } : {}) }]),
    addresses: [...b.addresses],
    prefixes: [...b.prefixes],
    pendingAddresses: [...b.pendingAddresses],
    transitions: [...b.transitions].map(([k, m]) => [k, [...m]]),
  };
  if (b.kind) j.kind = b.kind;
  if (b.maxGapMs !== undefined) j.maxGapMs = b.maxGapMs;
  if (b.lastAction !== undefined) j.lastAction = b.lastAction;
  if (b.lastTask !== undefined) j.lastTask = b.lastTask;
  return j;
}

/** Inverse of baselineToJSON. Checks the shape enough that a corrupt record fails here, not in a rule. */
export function baselineFromJSON(j: BaselineJSON): IdentityBaseline {
  if (!j || j.v !== 1 || typeof j.identity !== 'string') throw invalidRequest('unsupported baseline record');
  const arrays = [j.actions, j.resources, j.resourceTypes, j.environments, j.grants, j.tokens, j.transitions];
  if (!arrays.every(Array.isArray) || j.hours?.length !== 24 || j.weekdays?.length !== 7 || j.rate?.hist?.length !== RATE_BUCKETS) {
    throw invalidRequest(`malformed baseline record for ${j.identity}`);
  }
  const counts = (t: CountTuple[]): Map<string, CountEntry> =>
    new Map(t.map(([k, count, firstSeen, lastSeen]) => [k, { count, firstSeen, lastSeen }]));
  const b = createBaseline(j.identity, j.kind);
  b.events = j.events;
  b.allowed = j.allowed;
  b.denied = j.denied;
  b.firstAt = j.firstAt;
  b.lastAt = j.lastAt;
  if (typeof j.maxGapMs === 'number') b.maxGapMs = j.maxGapMs;
  b.actions = counts(j.actions);
  b.resources = counts(j.resources);
  b.resourceTypes = counts(j.resourceTypes);
  b.environments = counts(j.environments);
  b.newResourceEvents = j.newResourceEvents;
  b.dropped = { ...j.dropped };
  b.hours = [...j.hours];
  b.weekdays = [...j.weekdays];
  b.rate = { ...j.rate, hist: [...j.rate.hist] };
  b.grants = new Map(j.grants.map(([k, g]) => [k, { ...g, jkts: [...g.jkts], ips: [...g.ips] }]));
  b.tokens = new Map(j.tokens.map(([k, t]) => [k, { ...t, ...(Array.isArray(t.ips) ? { ips: [...t.ips] } : {}), ...(Array.isArray(t.elsewhere) ? { elsewhere: [...t.elsewhere] } : {}) }]));
  // Absent in snapshots taken before addresses were learned.
  if (Array.isArray(j.addresses)) b.addresses = new Map(j.addresses);
  if (Array.isArray(j.prefixes)) b.prefixes = new Map(j.prefixes);
  if (Array.isArray(j.pendingAddresses)) b.pendingAddresses = new Map(j.pendingAddresses);
  b.transitions = new Map(j.transitions.map(([k, m]) => [k, new Map(m)]));
  if (j.lastAction !== undefined) b.lastAction = j.lastAction;
  if (j.lastTask !== undefined) b.lastTask = j.lastTask;
  return b;
}
