/**
 * The simulator's view of a broker: only its public HTTP surface (admin API with the admin token,
 * the OAuth endpoints a workload uses, and the gateway check). Nothing here reaches into the
 * broker's process, so the simulator runs against any broker at `--url`.
 */
import { TetherError } from '../errors.js';

export interface BrokerTarget {
  url: string;
  adminToken: string;
  /** X-Tether-PDP-Token, when the broker's gateway check requires one. */
  pdpToken?: string | undefined;
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A kept-alive connection the server closed as the request went out: nothing was processed. */
const STALE_CONNECTION = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET']);

async function send<T>(url: string, init: RequestInit, retried = false): Promise<HttpResult<T>> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    if (!retried && code !== undefined && STALE_CONNECTION.has(code)) return send<T>(url, init, true);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new TetherError('unavailable', `cannot reach ${new URL(url).origin}${new URL(url).pathname}: ${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
  }
  const text = await res.text();
  let body: unknown = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { error: 'bad_response', error_description: text.slice(0, 200) };
  }
  return { status: res.status, body: body as T, headers: res.headers };
}

export function createBrokerClient(t: BrokerTarget) {
  const base = t.url.replace(/\/+$/, '');
  return {
    base,
    /** Admin call; throws on anything but 2xx (the simulator cannot go on without its setup). */
    async admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
      const r = await send<T>(base + path, {
        method,
        headers: { authorization: `Bearer ${t.adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? null : JSON.stringify(body),
      });
      if (r.status < 200 || r.status > 299) {
        const b = r.body as { error?: string; error_description?: string };
        throw new TetherError('invalid_request', `${method} ${path}: ${r.status} ${b.error ?? ''} ${b.error_description ?? ''}`.trim());
      }
      return r.body;
    },
    /** Admin call answering the status too (for polling and expected refusals). */
    adminRaw<T = Record<string, unknown>>(method: string, path: string): Promise<HttpResult<T>> {
      return send<T>(base + path, { method, headers: { authorization: `Bearer ${t.adminToken}` } });
    },
    form(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResult> {
      return send(base + path, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });
    },
    /** Envoy-style gateway check: the original method and path are the request's own. */
    async extAuthz(route: string, method: string, path: string, headers: Record<string, string>): Promise<number> {
      const res = await fetch(`${base}/ext-authz/${route}${path}`, {
        method,
        headers: { ...headers, ...(t.pdpToken ? { 'x-tether-pdp-token': t.pdpToken } : {}) },
      });
      await res.arrayBuffer();
      return res.status;
    },
    /** RFC 7662 introspection with the admin token: is this token still usable anywhere? */
    async active(token: string): Promise<boolean> {
      const r = await send<{ active?: boolean }>(`${base}/oauth/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${t.adminToken}` },
        body: new URLSearchParams({ token }).toString(),
      });
      return r.body.active === true;
    },
  };
}

export type BrokerClient = ReturnType<typeof createBrokerClient>;
