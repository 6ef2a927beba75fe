/**
 * Credential-specific signals: what one token (`jti`) did that someone holding stolen material
 * cannot avoid, so that automatic containment stays on that one credential (evidence-grade.ts).
 * Judged per token, before the event is learned (the baseline as it was):
 *
 * - foreign network: the token exchanged or used from a network (/24, /64) the identity had never
 *   used before this token appeared. The address is the server's own view (the socket, or the
 *   header a route's trusted gateway sets; never one a client sets), so a thief works from its own
 *   network unless it sits on the workload's host. Only for mature identities with stable networks
 *   (fewer than STABLE_NETWORKS): for a fleet of CI runners on ephemeral networks a new one says
 *   nothing. A network stays foreign for the token that brought it, so an exchange from a network
 *   (which teaches the baseline that network) does not make the same token's uses look usual.
 * - first-sighting anomalies: the baseline rules that applied when the token first appeared: an hour
 *   the identity is rarely active (off_hours) or a silence far beyond its own cadence (dormant).
 * - moved: a token already used from one network, used mid-task from a foreign one (a pod, a VM or a
 *   CI runner keeps its address for the life of a task; a copy elsewhere does not).
 * - rate beyond the envelope: more requests with this one token in a minute than `tokenFactor` times
 *   the busiest minute the identity as a whole (every replica together) ever had.
 * - superseded: the token's task instance was superseded by a later attempt of the same run, named
 *   by verified subject-token claims (the issuer's `task_attempt`, e.g. GitHub `run_id` and
 *   `run_attempt`): a re-run starts only after the attempt before it ended, so its task is over
 *   (RFC 8693 §1.1: the issued token stands for that subject's task, nothing after it).
 *
 * Containment needs: superseded; or a rate beyond the envelope; or a foreign network corroborated by
 * a first-sighting anomaly or by the token having moved. One signal alone (a new replica on a new
 * node network, a job moved to a new hour, a forgotten job woken on its own network) only alerts
 * through the baseline rules, with bounded risk, or raises nothing.
 */
import { hourShare, knownNetwork, networkOf, STABLE_NETWORKS, type IdentityBaseline } from './baseline.js';
import { eventEvidence, type DetectionEvent } from './events.js';
import type { RuleId } from './finding.js';
import type { DetectionOptions } from './options.js';
import { ratePercentile } from './rate-histogram.js';

/** Per token, in memory only (minutes-lived credentials; never part of a baseline snapshot). */
export interface TokenSignals {
  anomalies: RuleId[];
  /** Networks unknown to the identity when this token was first seen there. */
  newNets: string[];
  /** Networks of its requests that passed the credential checks. */
  usedNets: string[];
  /** Requests in the current and previous minute (sliding window, like the identity's rate). */
  minute: number;
  count: number;
  prev: number;
  run?: string;
  attempt?: number;
  contained?: boolean;
}

export interface Containment {
  rule: RuleId;
  evidence: Record<string, unknown>;
}

/** Tokens tracked per identity; least recently seen forgotten first. */
export const MAX_TOKEN_SIGNALS = 256;
/** Runs remembered per identity for superseded attempts. */
export const MAX_RUNS = 256;
const MAX_NETS = 4;
const MINUTE = 60_000;
/** Minutes of learned rate below which the envelope is not known well enough to contain on. */
export const MIN_ENVELOPE_MINUTES = 30;

/** The per-identity windows this module keeps (part of IdentityState). */
export interface SignalState {
  tokens: Map<string, TokenSignals>;
  /** Run (digest) → highest attempt seen. */
  runs: Map<string, number>;
}

export function createSignalState(): SignalState {
  return { tokens: new Map(), runs: new Map() };
}

/** The silence after which activity is dormant: the configured idle time, or longer for slow cadences. */
export function dormantAfter(b: IdentityBaseline, o: DetectionOptions['dormant']): number {
  return Math.max(o.idleMs, o.cadenceFactor * (b.maxGapMs ?? 0));
}

function stableNetworks(b: IdentityBaseline): boolean {
  return b.prefixes.size < STABLE_NETWORKS && (b.dropped.prefixes ?? 0) === 0;
}

function remember<K, V>(m: Map<K, V>, k: K, v: V, cap: number): void {
  m.delete(k);
  m.set(k, v);
  if (m.size > cap) m.delete(m.keys().next().value as K);
}

/** A later attempt of a run was exchanged (here, or on another instance). */
export function noteAttempt(s: SignalState, run: string, attempt: number): void {
  const cur = s.runs.get(run);
  if (cur === undefined || attempt > cur) remember(s.runs, run, attempt, MAX_RUNS);
}

/**
 * Update the token's signals with this event and say whether they now warrant containing it.
 * `counted`: the event counted toward the request rate (retries count once). Called before the
 * baseline learns the event; never throws, allocates only for tokens it tracks.
 */
export function judgeToken(s: SignalState, b: IdentityBaseline, e: DetectionEvent, o: DetectionOptions, mature: boolean, counted: boolean): Containment | undefined {
  if (e.jti === undefined) return undefined;
  let t = s.tokens.get(e.jti);
  if (!t) {
    t = { anomalies: [], newNets: [], usedNets: [], minute: 0, count: 0, prev: 0 };
    // First sighting (not a token learned from history): which baseline rules apply right now.
    if (mature && !b.tokens.has(e.jti)) {
      if (hourShare(b, e.at, o.offHours.toleranceHours).share < o.offHours.rareFraction) t.anomalies.push('off_hours');
      if (b.events > 0 && e.at - b.lastAt >= dormantAfter(b, o.dormant)) t.anomalies.push('dormant');
    }
  }
  remember(s.tokens, e.jti, t, MAX_TOKEN_SIGNALS);
  if (e.run !== undefined && e.attempt !== undefined) {
    t.run = e.run;
    t.attempt = e.attempt;
    noteAttempt(s, e.run, e.attempt);
  }
  // A refused credential did no work with this token (another key, its revocation): replay and
  // after_task judge those; only requests and exchanges that passed the credential checks count.
  if (e.credentialStage === true || (e.issuedJkt !== undefined && e.presentedJkt !== undefined && e.issuedJkt !== e.presentedJkt)) return undefined;

  let foreign: string | undefined;
  let moved = false;
  if (e.sourceIp !== undefined) {
    const net = networkOf(e.sourceIp);
    if (!knownNetwork(b, e.sourceIp) && !t.newNets.includes(net) && t.newNets.length < MAX_NETS) t.newNets.push(net);
    if (mature && stableNetworks(b) && t.newNets.includes(net)) foreign = net;
    if (e.kind === 'request') {
      moved = t.usedNets.length > 0 && !t.usedNets.includes(net);
      if (!t.usedNets.includes(net) && t.usedNets.length < MAX_NETS) t.usedNets.push(net);
    }
  }
  let rate = 0;
  if (counted) {
    const m = Math.floor(e.at / MINUTE);
    if (m > t.minute) {
      t.prev = m === t.minute + 1 ? t.count : 0;
      t.minute = m;
      t.count = 0;
    }
    t.count += 1;
    rate = t.count + t.prev * Math.max(0, 1 - (e.at - t.minute * MINUTE) / MINUTE);
  }
  if (t.contained || e.kind !== 'request') return undefined;

  const base = { jti: e.jti, grantId: e.grantId, event: eventEvidence(e) };
  const contain = (rule: RuleId, reason: string, signals: string[], extra: Record<string, unknown>): Containment => {
    t.contained = true;
    return { rule, evidence: { reason, credential: { jti: e.jti, signals }, ...extra, ...base } };
  };
  if (t.run !== undefined && t.attempt !== undefined) {
    const latest = s.runs.get(t.run);
    if (latest !== undefined && latest > t.attempt) {
      return contain('after_task', 'superseded', ['superseded_attempt'], { attempt: t.attempt, latestAttempt: latest });
    }
  }
  if (counted && mature && b.rate.histMinutes >= MIN_ENVELOPE_MINUTES) {
    const envelope = ratePercentile(b.rate.hist, 1);
    const threshold = Math.max(o.rateSpike.minPerMinute, o.rateSpike.tokenFactor * envelope);
    if (rate > threshold) {
      return contain('rate_spike', 'token_beyond_envelope', ['token_rate'], {
        tokenRatePerMinute: Math.round(rate * 10) / 10,
        identityBusiestMinute: envelope,
        tokenFactor: o.rateSpike.tokenFactor,
        threshold,
        minutesLearned: Math.round(b.rate.histMinutes),
      });
    }
  }
  if (foreign === undefined) return undefined;
  const networks = { foreignNetwork: foreign, knownNetworks: b.prefixes.size };
  if (moved) return contain('drift', 'token_moved', ['foreign_network', 'moved_mid_task'], { ...networks, usedFrom: [...t.usedNets] });
  if (t.anomalies.length > 0) return contain(t.anomalies[0]!, 'corroborated', [...t.anomalies, 'foreign_network'], networks);
  return undefined;
}
