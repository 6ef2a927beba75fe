/**
 * Findings to a webhook, off the caller's path: notify() only enqueues. One worker delivers in
 * order, retrying network errors, 429 and 5xx with exponential backoff and jitter; other 4xx are
 * the receiver refusing the alert and are not retried. The queue is bounded (a dead receiver must
 * not grow memory without end): when full the oldest alert is dropped and counted.
 *
 * Each delivery is signed: `X-Tether-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and
 * `X-Tether-Timestamp: <epoch seconds>`. Receivers verify the HMAC over the raw body with a
 * constant-time compare. The timestamp header is not covered by the signature; the body carries the
 * finding's own id and times, so receivers should dedupe on `finding.id`.
 */
import { createHmac } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Finding } from './finding.js';

/** The subset of pino's API used here (`logger.warn(obj, msg)`). */
export interface WebhookLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal }) => Promise<{ status: number; ok: boolean }>;

export interface WebhookNotifierInput {
  url: string;
  secret: string;
  fetch?: FetchLike;
  clock: Clock;
  maxAttempts?: number;
  baseDelayMs?: number;
  /** Backoff never waits longer than this between two attempts. */
  maxDelayMs?: number;
  /** Per attempt: a receiver that hangs must not stall the queue. */
  timeoutMs?: number;
  maxQueue?: number;
  logger: WebhookLogger;
  /** Jitter source, injectable so tests can pin it. */
  random?: () => number;
}

export interface WebhookStats {
  delivered: number;
  failed: number;
  dropped: number;
  queued: number;
  attempts: number;
}

export interface WebhookNotifier {
  /** Enqueue and return at once; never throws, never waits. */
  notify(finding: Finding): void;
  /** Resolves when everything queued so far was delivered or given up (for shutdown). */
  flush(): Promise<void>;
  stats(): WebhookStats;
}

export const WEBHOOK_SIGNATURE_HEADER = 'X-Tether-Signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'X-Tether-Timestamp';

/** The signature header value for a body: exported so receivers (and tests) compute it the same way. */
export function signWebhookBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function createWebhookNotifier(input: WebhookNotifierInput): WebhookNotifier {
  const {
    url,
    secret,
    clock,
    logger,
    maxAttempts = 5,
    baseDelayMs = 500,
    maxDelayMs = 30_000,
    timeoutMs = 5_000,
    maxQueue = 1_000,
    random = Math.random,
  } = input;
  if (!secret) throw new TypeError('webhook secret is required: unsigned alerts could be forged');
  if (maxAttempts < 1 || maxQueue < 1) throw new TypeError('webhook maxAttempts and maxQueue must be >= 1');
  const doFetch: FetchLike = input.fetch ?? ((u, init) => fetch(u, init));
  const queue: Finding[] = [];
  const stats: WebhookStats = { delivered: 0, failed: 0, dropped: 0, queued: 0, attempts: 0 };
  let running: Promise<void> | undefined;

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  /** One delivery with retries; true when the receiver accepted it. */
  const deliver = async (finding: Finding): Promise<boolean> => {
    const body = JSON.stringify({ type: 'tether.finding', finding });
    const headers = {
      'content-type': 'application/json',
      [WEBHOOK_SIGNATURE_HEADER]: signWebhookBody(body, secret),
      [WEBHOOK_TIMESTAMP_HEADER]: String(Math.floor(clock().getTime() / 1000)),
    };
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      stats.attempts += 1;
      let retryable: boolean;
      let detail: Record<string, unknown>;
      try {
        const res = await doFetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        if (res.ok) return true;
        retryable = res.status >= 500 || res.status === 429;
        detail = { status: res.status };
      } catch (err) {
        retryable = true;
        detail = { err: err instanceof Error ? err.message : String(err) };
      }
      const log = { findingId: finding.id, attempt, ...detail };
      if (!retryable || attempt === maxAttempts) {
        logger.error(log, 'webhook delivery failed, giving up');
        return false;
      }
      // Exponential backoff with "equal jitter": half fixed, half random, so retries from many
      // instances do not hit a recovering receiver at the same instant.
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const delay = ceiling / 2 + random() * (ceiling / 2);
      logger.warn({ ...log, retryInMs: Math.round(delay) }, 'webhook delivery failed, retrying');
      await sleep(delay);
    }
    return false;
  };

  const drain = async (): Promise<void> => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      stats.queued = queue.length;
      if (await deliver(f)) stats.delivered += 1;
      else stats.failed += 1;
    }
    stats.queued = 0;
  };

  const kick = (): void => {
    if (running) return;
    // Start on a later turn of the event loop: even the first HMAC and fetch set-up stay off the caller's path.
    running = new Promise<void>((r) => setImmediate(r))
      .then(drain)
      .catch((err: unknown) => logger.error({ err: String(err) }, 'webhook worker crashed'))
      .finally(() => {
        running = undefined;
        if (queue.length > 0) kick(); // enqueued after the loop saw an empty queue
      });
  };

  return {
    notify(finding) {
      if (queue.length >= maxQueue) {
        queue.shift();
        stats.dropped += 1;
        logger.warn({ dropped: stats.dropped }, 'webhook queue full, dropped the oldest alert');
      }
      queue.push(finding);
      stats.queued = queue.length;
      kick();
    },
    async flush() {
      while (running) await running;
    },
    stats: () => ({ ...stats }),
  };
}
