/**
 * Calls to the broker from the console: same origin, the session cookie (HttpOnly: this code never
 * sees it) and, on every state change, the session's CSRF token, held in memory only.
 */
export interface Session {
  operator: string;
  role: 'admin' | 'approver' | 'policy-author' | 'auditor';
  csrf_token: string;
  expires_at: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

let session: Session | null = null;
let onLoggedOut: () => void = () => undefined;

export const currentSession = () => session;
export function setSession(s: Session | null): void {
  session = s;
}
export function whenLoggedOut(f: () => void): void {
  onLoggedOut = f;
}

export async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && session) headers['x-tether-csrf'] = session.csrf_token;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { error: 'bad_response', error_description: text.slice(0, 200) };
  }
  if (res.status === 401 && session) {
    session = null;
    onLoggedOut();
  }
  if (!res.ok) throw new ApiError(res.status, String(json['error'] ?? res.status), String(json['error_description'] ?? json['message'] ?? res.statusText));
  return json as T;
}

/** The admin API under /admin/v1. */
export const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(method, `/admin/v1${path}`, body);

/** What a role may do, as the broker's role table says (server/admin-access.ts); the broker enforces it. */
export function may(what: 'decide' | 'policies' | 'admin'): boolean {
  const role = session?.role;
  if (role === 'admin') return true;
  if (what === 'decide') return role === 'approver';
  if (what === 'policies') return role === 'policy-author';
  return false;
}

export const q = (params: Record<string, string | number | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};
