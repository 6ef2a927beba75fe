import type { ExportSink } from '../export-runner.js';

export interface HttpSinkOptions<T> {
  url: string;
  /** One JSON text per item (NDJSON body). */
  line(item: T): string;
  /** Sent as the Authorization header (a SIEM collector's token), from the environment only. */
  authorization?: string | undefined;
  timeoutMs?: number;
}

/**
 * POSTs each batch as newline-delimited JSON. Any status but 2xx, a timeout or a refused connection
 * throws, so the runner retries the same batch with backoff. Items carry their seq: a receiver that
 * saw a batch whose acknowledgement was lost gets it again and can drop it by seq.
 */
export function createHttpSink<T>(o: HttpSinkOptions<T>): ExportSink<T> {
  const url = new URL(o.url);
  return {
    name: `http:${url.origin}${url.pathname}`,
    async send(items) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson', ...(o.authorization ? { authorization: o.authorization } : {}) },
        body: items.map((i) => o.line(i)).join('\n') + '\n',
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status > 299) throw new Error(`${url.origin}${url.pathname} answered ${res.status}`);
    },
    close: async () => {},
  };
}
