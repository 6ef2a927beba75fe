/**
 * A small closed-loop HTTP load generator for benches: C workers over keep-alive connections (one
 * socket per worker), each awaiting its response before sending the next request, with a warm-up
 * that is not measured. Requests are built by the caller (`request(i)`), so anything expensive
 * (signing DPoP proofs, minting tokens) can be prepared ahead of time and only looked up here.
 *
 * Run it in a different process from the server it measures (benches fork the server and pin it
 * to its own core): a generator sharing the server's event loop or core measures itself.
 *
 * Cost on the 2-core bench machine: node:http client, ~60–90 µs of generator CPU per request (a
 * third of a core at 4k req/s); `cpuSeconds` in the result tells whether the generator itself was
 * near a full core (then it, not the server, limited the rate).
 */
import http from 'node:http';
import { nowMs, runClosedLoop, summarize, type ClosedLoopResult, type Summary } from './timing.js';

export interface HttpRequestSpec {
  method?: string;
  /** Path and query, e.g. `/oauth/token`. */
  path: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface KeepAliveClient {
  send(spec: HttpRequestSpec): Promise<HttpReply>;
  /** Closes the pooled sockets. */
  close(): void;
}

/** A keep-alive client for one origin: at most `maxSockets` connections, reused in LIFO order. */
export function createKeepAliveClient(baseUrl: string, maxSockets: number): KeepAliveClient {
  const u = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' });
  const hostname = u.hostname;
  const port = Number(u.port || 80);
  return {
    send(spec) {
      return new Promise<HttpReply>((resolve, reject) => {
        const body = spec.body === undefined ? undefined : typeof spec.body === 'string' ? Buffer.from(spec.body) : spec.body;
        const req = http.request(
          {
            agent,
            hostname,
            port,
            method: spec.method ?? (body ? 'POST' : 'GET'),
            path: spec.path,
            headers: { ...spec.headers, ...(body ? { 'content-length': body.length } : {}) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

export interface HttpLoadOptions {
  client: KeepAliveClient;
  concurrency: number;
  /** Unmeasured warm-up, ms (JIT, connection setup, caches, first grant). 0 to skip. */
  warmupMs: number;
  durationMs: number;
  /** Stop the measured phase after this many requests (e.g. the size of a pre-built proof pool). */
  maxOps?: number;
  /** Builds request `i`; `phase` tells warm-up requests apart (they may be built on the fly). */
  request: (i: number, phase: 'warmup' | 'measure') => HttpRequestSpec;
  /** Success test; default: status 200. */
  ok?: (reply: HttpReply) => boolean;
  /** Called between warm-up and the measured phase (e.g. to size and build a pool from the warm-up rate). */
  afterWarmup?: (warmup: ClosedLoopResult) => Promise<{ maxOps?: number } | void> | { maxOps?: number } | void;
  /** Called just before / after the measured phase (e.g. to sample server CPU). */
  onMeasureStart?: () => Promise<void> | void;
  onMeasureEnd?: () => Promise<void> | void;
}

export interface HttpLoadResult extends ClosedLoopResult {
  /** Successful requests per second over the measured phase. */
  okPerSec: number;
  failures: number;
  statuses: Record<number, number>;
  /** The first failed reply (status and up to 500 characters of body), for the output. */
  firstFailure?: string;
  /** Generator process CPU over the measured phase, seconds (user + system, all its threads). */
  cpuSeconds: number;
  warmup: ClosedLoopResult;
  /** True when the measured phase stopped at maxOps before its duration. */
  stoppedAtMaxOps: boolean;
}

/** Warm-up, then a measured closed loop; latency is per request, from send to the end of the body. */
export async function runHttpLoad(o: HttpLoadOptions): Promise<HttpLoadResult> {
  const ok = o.ok ?? ((r: HttpReply) => r.status === 200);
  let next = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  const statuses: Record<number, number> = {};
  const op = (phase: 'warmup' | 'measure') => async () => {
    const r = await o.client.send(o.request(next++, phase));
    if (phase === 'measure') statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    if (!ok(r)) {
      if (phase === 'measure') failures++;
      firstFailure ??= `${phase}: HTTP ${r.status} ${r.body.slice(0, 500)}`;
    }
  };
  const warmup =
    o.warmupMs > 0
      ? await runClosedLoop({ concurrency: o.concurrency, durationMs: o.warmupMs, op: op('warmup') })
      : { ops: 0, seconds: 0, opsPerSec: 0, latency: { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN } };
  const sized = (await o.afterWarmup?.(warmup)) ?? {};
  const maxOps = sized.maxOps ?? o.maxOps;
  await o.onMeasureStart?.();
  const cpu0 = process.cpuUsage();
  const r = await runClosedLoop({ concurrency: o.concurrency, durationMs: o.durationMs, ...(maxOps !== undefined ? { maxOps } : {}), op: op('measure') });
  const cpu = process.cpuUsage(cpu0);
  await o.onMeasureEnd?.();
  return {
    ...r,
    okPerSec: (r.ops - failures) / r.seconds,
    failures,
    statuses,
    ...(firstFailure !== undefined ? { firstFailure } : {}),
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    warmup,
    stoppedAtMaxOps: maxOps !== undefined && r.ops >= maxOps && r.seconds * 1000 < o.durationMs,
  };
}

export interface OpenLoopOptions {
  client: KeepAliveClient;
  /** Requests per second, sent on schedule whatever the answers do (open loop). */
  rate: number;
  durationMs: number;
  request: (i: number) => HttpRequestSpec;
  ok?: (reply: HttpReply) => boolean;
}

export interface OpenLoopResult {
  sent: number;
  failures: number;
  firstFailure?: string;
  seconds: number;
  /** From each request's scheduled send time to the end of its body, so a stall is not hidden by sending less (coordinated omission). */
  latency: Summary;
  /** How late the generator sent, p99 ms: when it is large the generator, not the server, was behind. */
  sendLagP99: number;
}

/**
 * Open loop at a fixed rate: request i is due at start + i / rate and sent then, never waiting for
 * earlier answers, so latency is what a caller arriving at that rate sees (a closed loop would
 * measure queueing at its own concurrency instead).
 */
export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const ok = o.ok ?? ((r: HttpReply) => r.status === 200);
  const total = Math.floor((o.rate * o.durationMs) / 1000);
  const latencies: number[] = [];
  const lags: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const inflight: Array<Promise<void>> = [];
  const t0 = nowMs();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / o.rate;
    const wait = due - nowMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    lags.push(Math.max(0, nowMs() - due));
    inflight.push(
      o.client.send(o.request(i)).then(
        (r) => {
          latencies.push(nowMs() - due);
          if (!ok(r)) {
            failures++;
            firstFailure ??= `HTTP ${r.status} ${r.body.slice(0, 300)}`;
          }
        },
        (e: Error) => {
          failures++;
          firstFailure ??= e.message;
        },
      ),
    );
  }
  await Promise.all(inflight);
  const lag = summarize(lags);
  return { sent: total, failures, ...(firstFailure !== undefined ? { firstFailure } : {}), seconds: (nowMs() - t0) / 1000, latency: summarize(latencies), sendLagP99: lag.p99 };
}
