/**
 * Detection wired into the broker (DESIGN.md flow 5): the pure detector fed from committed decisions,
 * gateway credential refusals and issuances, entirely off the request path (events are queued and
 * judged on a later turn of the event loop); findings persisted with their response and audit events
 * in one transaction, announced to the cluster, alerted to the log and a webhook; risk and approval
 * holds answered from memory for the request path.
 *
 * Scope of a detector: each instance judges the traffic it sees, with baselines learned from the
 * audited history at start (and from the learning endpoint), plus a summary of what the other
 * instances see (token places, policy denies, request counts; cluster-activity.ts), so replay,
 * source change and enumeration judge the cluster's activity. Findings, risk floors and holds are
 * cluster-wide: they live in the table and every instance's ClusterView.
 */
import type { Logger } from 'pino';
import { iterateAuditEvents, type AuditInput, type AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { DecisionEvent } from '../pdp/index.js';
import type { CredentialRefusal } from '../routes/index.js';
import { notifyChange, type ChangeNotice, type Queryable } from '../store/index.js';
import type { IssuedTokenFacts } from '../tokens/exchange.js';
import { createClusterActivity } from './cluster-activity.js';
import { createClusterView } from './cluster-view.js';
import { createDetector, type Detector } from './detector.js';
import { evidenceGrade, ONE_OPEN_PER_IDENTITY } from './evidence-grade.js';
import type { DetectionEvent, IdentityKind } from './events.js';
import { fromAuditRecord, fromDecision, fromIssuance, fromRefusal, type KnownToken } from './feed.js';
import type { Finding } from './finding.js';
import { insertFindingIn, liveFindings, markReversedIn, mustGetFinding, resolveIn, resolvedAmong, type FindingSummary, type FindingView, type Resolution } from './findings-store.js';
import { resolveDetectionOptions, type DetectionOptionsInput } from './options.js';
import { DETECTOR_ACTOR, respondIn, reverseIn, type ResponderDeps } from './responder.js';
import { DEFAULT_RESPONSE_POLICY, responseFor, type ResponsePolicy } from './responses.js';
import { CRITICAL_RISK_FLOOR } from './risk.js';
import type { WebhookNotifier } from './webhook.js';
import type { Clock } from '../clock.js';

const DAY = 86_400_000;
/** Live events waiting to be judged; past this the oldest are dropped (and counted), never the broker. */
const MAX_QUEUE = 100_000;
/** Tokens remembered for attributing refusals (grant, scopes); an LRU, oldest forgotten first. */
const MAX_KNOWN_TOKENS = 50_000;
/** Events judged per turn of the event loop, so a backlog never starves request handling. */
const SLICE = 2_000;

export interface DetectionServiceDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact'>;
  responder: ResponderDeps;
  logger: Pick<Logger, 'warn' | 'error' | 'info'>;
  clock: Clock;
  /** Off: nothing is fed or judged (risk 0, no holds); the findings API still reads the table. */
  enabled: boolean;
  options?: DetectionOptionsInput;
  responses?: ResponsePolicy;
  webhook?: WebhookNotifier | null;
  /** The route rule's action and resource for a refused gateway request. */
  routeTarget(route: string, method: string, path: string): { action: string; resource: string } | undefined;
  /** Kind and environment of an inventory identity, from a cache (never a query on the feed path). */
  identityInfo(id: string): { kind?: IdentityKind; environment?: string } | undefined;
  /**
   * Whether other instances can share this store (PostgreSQL): only then is this instance's activity
   * sent to them (cluster-activity.ts). An embedded store serves one process, which has no one to tell.
   */
  shared?: boolean;
  /** Learning from the audited history at start: how far back, and at most how many events. */
  history?: { days: number; maxEvents: number };
}

export interface DetectionStatus {
  enabled: boolean;
  history: { state: 'pending' | 'running' | 'done' | 'failed' | 'off'; events: number };
  learned: number;
  observed: number;
  queued: number;
  dropped: number;
  findings_raised: number;
  persist_failures: number;
  /**
   * Decisions and refusals that name no verified identity (AuthZEN callers' subjects, credentials
   * whose signature did not verify): counted here, and nothing else (DESIGN.md trust model).
   */
  anonymous: number;
  /** Identities with detection state in memory (capped; see options.baseline.maxIdentities). */
  tracked: number;
}

export interface DetectionService {
  observeDecision(e: DecisionEvent): void;
  observeRefusal(r: CredentialRefusal): void;
  observeIssuance(f: IssuedTokenFacts): void;
  /** What another instance's detector saw (cluster-activity.ts), from the change feed. */
  observeActivity(n: Extract<ChangeNotice, { kind: 'activity' }>): void;
  /** Learn events (no judging); returns how many. */
  learn(events: DetectionEvent[]): number;
  riskOf(identity: string): number;
  requireApproval(identity: string, actions: readonly string[]): boolean;
  openCount(identity: string): number;
  /** Re-read live findings (of one identity, or all) and drop locally-open ones resolved elsewhere. */
  reload(identity?: string): Promise<void>;
  resolve(id: string, input: { reason: string; reverse: boolean; actor: string }): Promise<FindingView>;
  reverse(id: string, input: { reason: string; actor: string }): Promise<FindingView>;
  /** Starts learning from the audited history in the background. */
  start(): void;
  /** Resolves once every event queued so far was judged and its findings persisted (tests, shutdown). */
  idle(): Promise<void>;
  status(): DetectionStatus;
  baseline(identity: string): unknown;
  readonly detector: Detector;
}

export function createDetectionService(deps: DetectionServiceDeps): DetectionService {
  const { db, audit, logger, clock } = deps;
  const policy = deps.responses ?? DEFAULT_RESPONSE_POLICY;
  const identityWide = policy.identityWide ?? [];
  const detector = createDetector({ clock, identityWide, ...(deps.options ? { options: deps.options } : {}) });
  const riskOptions = resolveDetectionOptions(deps.options).risk;
  const view = createClusterView();
  const activity = createClusterActivity(db, logger, { shared: deps.shared ?? true });
  const known = new Map<string, KnownToken>();
  const revokedHere = new Set<string>();
  // A FIFO as an array and a head index: dropping the oldest under overload must be O(1), not shift().
  let queue: DetectionEvent[] = [];
  let head = 0;
  const queued = () => queue.length - head;
  let scheduled = false;
  let paused = false;
  const inflight = new Set<Promise<void>>();
  const st: DetectionStatus = {
    enabled: deps.enabled,
    history: { state: deps.enabled ? 'pending' : 'off', events: 0 },
    learned: 0,
    observed: 0,
    queued: 0,
    dropped: 0,
    findings_raised: 0,
    persist_failures: 0,
    anonymous: 0,
    tracked: 0,
  };

  const remember = (jti: string, t: KnownToken) => {
    known.delete(jti);
    known.set(jti, t);
    if (known.size > MAX_KNOWN_TOKENS) known.delete(known.keys().next().value as string);
  };

  const enqueue = (e: DetectionEvent) => {
    if (queued() >= MAX_QUEUE) {
      head += 1;
      st.dropped += 1;
      if (head >= MAX_QUEUE) {
        queue = queue.slice(head); // compact now and then (paused: the pump is not doing it)
        head = 0;
      }
    }
    queue.push(e);
    schedule();
  };

  const schedule = () => {
    if (scheduled || paused) return;
    scheduled = true;
    setImmediate(pump);
  };

  function pump(): void {
    scheduled = false;
    if (paused) return;
    const end = Math.min(queue.length, head + SLICE);
    const batch = queue;
    const from = head;
    head = end;
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 65_536) {
      queue = queue.slice(head);
      head = 0;
    }
    for (let i = from; i < end; i++) {
      const e = batch[i]!;
      st.observed += 1;
      let found: readonly Finding[];
      try {
        found = detector.observe(e);
      } catch (err) {
        logger.error({ err: { message: (err as Error).message } }, 'detector failed on an event');
        continue;
      }
      for (const f of found) track(persist(f));
      activity.local(e);
    }
    if (queued()) schedule();
  }

  const track = (p: Promise<void>) => {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  /** Finding + response + audit + notice, in one transaction; then memory, log line and webhook. */
  const persist = async (f: Finding): Promise<void> => {
    // One open finding per baseline rule and identity in the whole cluster: another instance may
    // have raised it already (each judges the cluster's activity, cluster-activity.ts).
    // A credential containment is about one token, never deduplicated against the identity's alerts.
    if (ONE_OPEN_PER_IDENTITY.has(f.rule) && evidenceGrade(f) === 'baseline' && view.open(f.identity).some((x) => x.rule === f.rule && x.grade === 'baseline')) {
      detector.resolve(f.id, 'already open in the cluster');
      return;
    }
    st.findings_raised += 1;
    const wanted = responseFor(f, policy);
    const now = clock();
    try {
      const outcome = await audit.transact(async (q, emit) => {
        const after: AuditInput[] = [];
        const o = await respondIn(q, (e) => after.push(e), deps.responder, f, wanted, now);
        const evidence = { ...f.evidence, response_detail: o.detail };
        await insertFindingIn(q, f, o.response, evidence, now);
        const finding = { id: f.id, rule: f.rule, severity: f.severity, grant: f.grantId ?? null, created_at: new Date(f.createdAt).toISOString(), evidence: f.evidence };
        emit({ type: 'finding.raised', actor: DETECTOR_ACTOR, identity: f.identity, data: { finding } });
        after.forEach(emit);
        emit({ type: 'finding.responded', actor: DETECTOR_ACTOR, identity: f.identity, data: { finding: f.id, response: o.response, detail: o.detail } });
        await notifyChange(q, { kind: 'findings', identity: f.identity });
        return o;
      });
      const summary: FindingSummary = {
        id: f.id,
        identity: f.identity,
        rule: f.rule,
        severity: f.severity,
        open: true,
        response: outcome.response,
        grantId: f.grantId ?? null,
        actions: Array.isArray(outcome.detail.actions) ? (outcome.detail.actions as string[]) : [],
        createdAt: f.createdAt,
        grade: evidenceGrade(f),
      };
      view.add(summary);
      if (typeof outcome.detail.grant === 'string') revokedHere.add(outcome.detail.grant);
      if (typeof outcome.detail.jti === 'string') revokedHere.add(outcome.detail.jti);
      // One line per finding; ids and names only (evidence may hold addresses, never tokens, but stays out of logs).
      logger.warn({ finding: f.id, rule: f.rule, identity: f.identity, severity: f.severity, response: outcome.response, grant: f.grantId }, 'detection finding');
      deps.webhook?.notify({ ...f, evidence: { ...f.evidence, response_detail: outcome.detail }, response: outcome.response } as Finding);
    } catch (err) {
      st.persist_failures += 1;
      logger.error({ err: { message: (err as Error).message }, finding: f.id, rule: f.rule, identity: f.identity }, 'could not record a detection finding');
    }
  };

  const reload = async (identity?: string): Promise<void> => {
    if (!deps.enabled) return;
    view.replace(identity, await liveFindings(db, identity));
    // Local detector state: findings an operator resolved (maybe on another instance) stop counting here.
    const ids = detector.openFindings(identity).map((f) => f.id);
    for (let i = 0; i < ids.length; i += 1000) {
      for (const id of await resolvedAmong(db, ids.slice(i, i + 1000))) detector.resolve(id, 'resolved in the cluster');
    }
  };

  const learnHistory = async (): Promise<void> => {
    const h = deps.history ?? { days: 14, maxEvents: 2_000_000 };
    st.history.state = 'running';
    paused = true;
    try {
      const info = new Map<string, { kind?: IdentityKind; environment?: string }>();
      const rows = await db.query<{ id: string; kind: IdentityKind; environment: string | null }>('SELECT id, kind, environment FROM identities');
      for (const r of rows.rows) info.set(r.id, { kind: r.kind, ...(r.environment ? { environment: r.environment } : {}) });
      const lookup = { kind: (id: string) => info.get(id)?.kind, environment: (id: string) => info.get(id)?.environment };
      const since = new Date(clock().getTime() - h.days * DAY);
      let batch: DetectionEvent[] = [];
      const flush = async () => {
        st.history.events += detector.replay(batch);
        batch = [];
        await new Promise<void>((r) => setImmediate(r)); // let requests in between pages
      };
      for await (const rec of iterateAuditEvents(db, { since })) {
        if (rec.type !== 'decision' && rec.type !== 'token.issued') continue;
        for (const e of fromAuditRecord(rec, lookup)) batch.push(e);
        if (batch.length >= 5000) await flush();
        if (st.history.events + batch.length >= h.maxEvents) break;
      }
      await flush();
      st.history.state = 'done';
      logger.info({ events: st.history.events, days: h.days }, 'detection learned from the audited history');
    } catch (err) {
      st.history.state = 'failed';
      logger.error({ err: { message: (err as Error).message } }, 'detection could not learn from the audited history');
    } finally {
      paused = false;
      schedule();
    }
  };

  const resolve: DetectionService['resolve'] = async (id, input) => {
    const now = clock();
    const done = await audit.transact(async (q, emit) => {
      const cur = await mustGetFinding(q, id, true);
      if (cur.status !== 'open') throw new TetherError('conflict', `finding ${id} is already resolved`);
      const reversal = input.reverse ? await reverseIn(q, emit, deps.responder, cur, input.reason, input.actor) : undefined;
      const resolution: Resolution = { reason: input.reason, by: input.actor, reversed: input.reverse };
      if (reversal) Object.assign(resolution, { reversed_at: now.toISOString(), reverse_reason: input.reason, reversal });
      const out = await resolveIn(q, id, resolution, now);
      if (!out) throw new TetherError('conflict', `finding ${id} is already resolved`);
      emit({ type: 'finding.resolved', actor: input.actor, identity: cur.identity, data: { finding: id, reason: input.reason, reversed: input.reverse, ...(reversal ? { reversal } : {}) } });
      await notifyChange(q, { kind: 'findings', identity: cur.identity });
      return out;
    });
    await reload(done.identity); // this instance at once; the others on the notice
    return done;
  };

  const reverse: DetectionService['reverse'] = async (id, input) => {
    const now = clock();
    const done = await audit.transact(async (q, emit) => {
      const cur = await mustGetFinding(q, id, true);
      if (cur.status === 'open') throw new TetherError('conflict', `finding ${id} is open: resolve it with reverse: true`);
      if (cur.resolution?.reversed) throw new TetherError('conflict', `finding ${id} was already reversed`);
      const reversal = await reverseIn(q, emit, deps.responder, cur, input.reason, input.actor);
      const resolution: Resolution = { ...(cur.resolution ?? { reason: '', by: input.actor }), reversed: true, reversed_at: now.toISOString(), reverse_reason: input.reason, reversal };
      await markReversedIn(q, id, resolution);
      emit({ type: 'finding.reversed', actor: input.actor, identity: cur.identity, data: { finding: id, reason: input.reason, reversal } });
      await notifyChange(q, { kind: 'findings', identity: cur.identity });
      return { ...cur, resolution };
    });
    await reload(done.identity);
    return done;
  };

  const refusalContext = {
    target: deps.routeTarget,
    token: (jti: string) => known.get(jti),
    kind: (id: string) => deps.identityInfo(id)?.kind,
    environment: (id: string) => deps.identityInfo(id)?.environment,
    revokedByDetection: (grant: string | undefined, jti: string | undefined) =>
      (grant !== undefined && (revokedHere.has(grant) || view.grantRevoked(grant))) || (jti !== undefined && revokedHere.has(jti)),
  };

  return {
    detector,
    observeDecision(e) {
      if (!deps.enabled) return;
      const ev = fromDecision(e);
      if (!ev) {
        // A plain issuance arrives with its token (observeIssuance); anything else names nobody verified.
        if (!(e.input.entry === 'token' && e.input.phase === 'issue')) st.anonymous += 1;
        return;
      }
      if (ev.jti && ev.grantId && !known.has(ev.jti)) remember(ev.jti, { grant: ev.grantId, scopes: ev.taskActions ?? [], jkt: ev.issuedJkt });
      enqueue(ev);
    },
    observeRefusal(r) {
      if (!deps.enabled) return;
      // Called on the request path (before the 401 is sent): only queue here.
      setImmediate(() => {
        const ev = fromRefusal(r, refusalContext);
        if (ev) enqueue(ev);
        else st.anonymous += 1;
      });
    },
    observeIssuance(f) {
      if (!deps.enabled) return;
      remember(f.jti, { grant: f.grant, scopes: f.scopes, jkt: f.jkt ?? undefined });
      for (const ev of fromIssuance(f)) enqueue(ev);
    },
    observeActivity(n) {
      if (!deps.enabled) return;
      for (const a of activity.remote(n)) {
        try {
          for (const f of detector.observeRemote(a)) track(persist(f));
        } catch (err) {
          logger.error({ err: { message: (err as Error).message } }, 'detector failed on remote activity');
        }
      }
    },
    learn(events) {
      if (!deps.enabled) throw new TetherError('conflict', 'detection is switched off on this instance (TETHER_DETECTION=false)');
      const sorted = [...events].sort((a, b) => a.at - b.at);
      const n = detector.replay(sorted);
      st.learned += n;
      return n;
    },
    riskOf(identity) {
      if (!deps.enabled) return 0;
      // The larger of what this instance's detector holds and what the cluster's open findings say.
      // The floor only for kinds opted in to identity-wide responses: elsewhere a critical finding is
      // about one credential (contained by its response), and a floor at 80 would lock the identity out.
      const kind = deps.identityInfo(identity)?.kind;
      const wide = kind !== undefined && identityWide.includes(kind);
      const r = Math.max(detector.risk(identity), view.risk(identity, clock().getTime(), riskOptions, wide));
      return wide && view.hasOpenCritical(identity) ? Math.max(CRITICAL_RISK_FLOOR, r) : r;
    },
    requireApproval: (identity, actions) => deps.enabled && view.requireApproval(identity, actions),
    openCount: (identity) => view.openCount(identity),
    reload,
    resolve,
    reverse,
    start() {
      if (deps.enabled) void learnHistory();
    },
    async idle() {
      while (queued() || scheduled || inflight.size || paused) {
        if (inflight.size) await Promise.all([...inflight]);
        else await new Promise<void>((r) => setTimeout(r, 5));
      }
      await activity.flush();
    },
    status: () => ({ ...st, history: { ...st.history }, queued: queued(), tracked: detector.tracked() }),
    baseline: (identity) => detector.baseline(identity),
  };
}
