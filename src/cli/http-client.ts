/** Tiny admin-API client for the CLI: base URL + admin token from flags or the environment. */
export interface AdminTarget {
  url: string;
  token: string;
}

export function adminTarget(o: { url?: string; token?: string }): AdminTarget {
  const url = (o.url ?? process.env.TETHER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = process.env.TETHER_ADMIN_TOKEN ?? '';
  if (!token) throw new Error('TETHER_ADMIN_TOKEN is not set (the admin token, e.g. from <data-dir>/admin-token)');
  return { url, token };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`${status} ${String(body.error ?? 'error')}: ${String(body.error_description ?? '')}`);
  }
}

export async function adminCall<T = Record<string, unknown>>(t: AdminTarget, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(t.url + path, {
      method,
      headers: { authorization: `Bearer ${t.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : null,
    });
  } catch (e) {
    throw new Error(`cannot reach ${t.url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { error: 'bad_response', error_description: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json as T;
}
