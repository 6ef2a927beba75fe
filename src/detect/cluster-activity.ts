/**
 * A small cluster-wide summary of what each instance's detector sees, exchanged over the change feed
 * (one `activity` notice per instance every FLUSH_MS at most): the places a token was issued or used
 * at (an issuance with its run and attempt, when the issuer names them), policy denies on verified
 * tokens (with the token), and request counts per identity. Replay, source change and
 * enumeration then judge the cluster's activity, not one instance's: a token copied and used on
 * another instance than its holder's, or probing spread over instances, is seen as one.
 *
 * Sent outside any transaction (NOTIFY is cheap and best effort: a lost notice costs detection a
 * sighting, never correctness of enforcement) and bounded: a place is sent once per token, payloads
 * stay under PostgreSQL's 8000-byte NOTIFY limit, and a flood is cut at MAX_PENDING per flush.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { notifyChange, type ChangeNotice, type Queryable } from '../store/index.js';
import type { RemoteActivity } from './detector.js';
import type { DetectionEvent } from './events.js';

type Notice = Extract<ChangeNotice, { kind: 'activity' }>;
type Place = NonNullable<Notice['p']>[number];
type Deny = NonNullable<Notice['d']>[number];

const FLUSH_MS = 25;
/** PostgreSQL refuses NOTIFY payloads of 8000 bytes or more. */
const MAX_PAYLOAD = 7000;
const MAX_PENDING = 5000;
/** (jti, address) pairs already announced; an LRU, oldest forgotten first. */
const MAX_SENT = 50_000;

export interface ClusterActivity {
  readonly id: string;
  /** A local event the detector just judged: remember what the other instances need of it. */
  local(e: DetectionEvent): void;
  /** A notice from the feed: what another instance saw, as the detector's remote activity. */
  remote(n: Notice): RemoteActivity[];
  /** Send what is pending now (tests, shutdown). */
  flush(): Promise<void>;
}

export function createClusterActivity(db: Queryable, logger: Pick<Logger, 'warn'>, opts: { shared?: boolean } = {}): ClusterActivity {
  const shared = opts.shared ?? true;
  const id = randomUUID();
  const sent = new Map<string, true>();
  let places: Place[] = [];
  let denies: Deny[] = [];
  const counts = new Map<string, [number, number]>(); // identity → [count, latest at]
  let timer: NodeJS.Timeout | null = null;
  let sending: Promise<void> = Promise.resolve();
  let dropped = 0;

  const pending = () => places.length + denies.length + counts.size;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, FLUSH_MS);
    timer.unref();
  };

  const send = async (n: Notice) => {
    try {
      await notifyChange(db, n);
    } catch (err) {
      logger.warn({ err: { message: (err as Error).message } }, 'could not share detection activity with the cluster');
    }
  };

  const flush = (): Promise<void> => {
    if (pending() === 0) return sending;
    const p = places;
    const d = denies;
    const c = [...counts].map(([identity, [count, at]]) => [identity, count, at] as [string, number, number]);
    places = [];
    denies = [];
    counts.clear();
    // Chunks under the payload limit; JSON of a tuple is bounded by the ids in it (stored ids are short).
    const notices: Notice[] = [];
    let cur: Notice = { kind: 'activity', from: id };
    let size = 64;
    const put = <K extends 'p' | 'd' | 'n'>(k: K, v: NonNullable<Notice[K]>[number]) => {
      const len = JSON.stringify(v).length + 1;
      if (size + len > MAX_PAYLOAD) {
        notices.push(cur);
        cur = { kind: 'activity', from: id };
        size = 64;
      }
      ((cur[k] ??= [] as never) as unknown[]).push(v);
      size += len;
    };
    for (const v of p) put('p', v);
    for (const v of d) put('d', v);
    for (const v of c) put('n', v);
    notices.push(cur);
    sending = sending.then(async () => {
      for (const n of notices) await send(n);
    });
    return sending;
  };

  return {
    id,
    local(e) {
      // Nobody else reads this store (PGlite): a notice per FLUSH_MS would be a statement, its payload
      // a JSON of every issuance, for this instance alone to receive and ignore (`remote`).
      if (!shared) return;
      if (pending() >= MAX_PENDING) {
        dropped += 1;
        if (dropped % 10_000 === 1) logger.warn({ dropped }, 'detection activity summary is full: dropping');
        return;
      }
      // Requests only, like the detector's own rate (issuances are not traffic).
      const c = e.kind === 'request' ? counts.get(e.identity) : undefined;
      if (c) {
        c[0] += 1;
        c[1] = Math.max(c[1], e.at);
      } else if (e.kind === 'request') counts.set(e.identity, [1, e.at]);
      if (e.kind === 'request' && !e.allowed && e.credentialStage !== true) denies.push(e.jti !== undefined ? [e.identity, e.at, e.action, e.resource, e.jti] : [e.identity, e.at, e.action, e.resource]);
      // Where the token was: its issuance, or a use the policy judged (its key and signature were good).
      if (e.jti !== undefined && e.grantId !== undefined && e.sourceIp !== undefined && e.credentialStage !== true) {
        const key = `${e.jti}|${e.sourceIp}|${e.kind}`;
        if (!sent.has(key)) {
          sent.set(key, true);
          if (sent.size > MAX_SENT) sent.delete(sent.keys().next().value as string);
          places.push(e.run !== undefined && e.attempt !== undefined ? [e.identity, e.jti, e.sourceIp, e.kind === 'issue' ? 1 : 0, e.at, e.grantId, e.run, e.attempt] : [e.identity, e.jti, e.sourceIp, e.kind === 'issue' ? 1 : 0, e.at, e.grantId]);
        }
      }
      schedule();
    },
    remote(n) {
      if (n.from === id) return [];
      const out: RemoteActivity[] = [];
      for (const [identity, jti, ip, issue, at, grant, run, attempt] of n.p ?? []) {
        out.push({ kind: 'place', identity, jti, ip, issue: issue === 1, at, grant, ...(typeof run === 'string' && typeof attempt === 'number' ? { run, attempt } : {}) });
      }
      for (const [identity, at, action, resource, jti] of n.d ?? []) out.push({ kind: 'deny', identity, at, action, resource, ...(typeof jti === 'string' ? { jti } : {}) });
      for (const [identity, count, at] of n.n ?? []) out.push({ kind: 'count', identity, count, at });
      return out;
    },
    flush,
  };
}
