/** Small HTTP helpers for the PDP tests: raw requests to a running broker, JSON answers. */
import type { RunningBroker } from '../helpers/broker.js';

export interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export async function send(url: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string | null }): Promise<Answer> {
  const res = await fetch(url + path, { method: init.method ?? 'POST', headers: init.headers ?? {}, body: init.body ?? null });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, headers: res.headers, body };
}

/** The PDP token of test brokers whose callers must see `reason_admin` (only authenticated callers do). */
export const PDP_TOKEN = 'pdp-token-0123456789abcdef';

/** The PDP credential the broker requires, if any. */
export function pdpAuth(b: RunningBroker): Record<string, string> {
  return b.broker.config.pdpToken ? { authorization: `Bearer ${b.broker.config.pdpToken}` } : {};
}

/** One AuthZEN evaluation, authenticated with the broker's PDP token when it has one (headers override). */
export function evaluate(b: RunningBroker, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return send(b.url, '/access/v1/evaluation', { headers: { 'content-type': 'application/json', ...pdpAuth(b), ...headers }, body: JSON.stringify(body) });
}

export async function applyOk(b: RunningBroker, bundle: Record<string, unknown>): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const r = await b.admin('POST', '/admin/v1/apply', { identities: [], ...bundle });
  if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export const ask = (subject: unknown, action: string, resource: unknown, extra: Record<string, unknown> = {}) => ({
  subject,
  action: { name: action },
  resource,
  ...extra,
});
