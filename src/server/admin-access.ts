/**
 * Who may call which admin route (README "Operators"): one table, checked for every request under
 * /admin/v1 and for introspection. Authentication first: the bootstrap admin token, or a named
 * operator's token (operators/operators.ts); failures are audited without the presented secret and
 * throttled per address (auth-failures.ts). Then the role: the table below; a route it does not list
 * is `admin` only (fail closed), and every role may read.
 */
import type { FastifyRequest } from 'fastify';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { Operators } from '../operators/operators.js';
import { BOOTSTRAP_ADMIN } from '../operators/operators.js';
import type { OperatorPrincipal, Role } from '../operators/roles.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import { csrfMatches, SESSION_COOKIE, type ConsoleSessions } from '../console/sessions.js';
import { cookieValue } from './cookies.js';

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorPrincipal;
  }
}

/** Writes besides `admin`'s, by role: [method, route pattern under /admin/v1, roles]. */
const WRITES: ReadonlyArray<readonly [string, string, readonly Role[]]> = [
  ['POST', '/grants/:id/approve', ['approver']],
  ['POST', '/grants/:id/deny', ['approver']],
  ['POST', '/grants/:id/confirm', ['approver']],
  ['POST', '/findings/:id/resolve', ['approver']],
  ['POST', '/findings/:id/reverse', ['approver']],
  ['POST', '/reviews/:id/decision', ['approver']],
  ['POST', '/policies', ['policy-author']],
  ['POST', '/policies/dry-run', ['policy-author']],
  // Apply: a policy author may apply policies, routes and entities only (checked on the body).
  ['POST', '/apply', ['policy-author']],
];
/** What a policy author's apply may carry. */
const POLICY_AUTHOR_SECTIONS = new Set(['policies', 'schema', 'policy_set', 'routes', 'entities']);
const READ_METHODS = new Set(['GET', 'HEAD']);
/** Routes only an admin reads (who can act as whom). */
const ADMIN_READS = new Set(['/operators']);

export function isAllowed(role: Role, method: string, route: string, body: unknown): boolean {
  if (role === 'admin') return true;
  if (READ_METHODS.has(method)) return !ADMIN_READS.has(route);
  const rule = WRITES.find(([m, r]) => m === method && r === route);
  if (!rule || !rule[2].includes(role)) return false;
  if (route === '/apply') {
    return body !== null && typeof body === 'object' && Object.keys(body).every((k) => POLICY_AUTHOR_SECTIONS.has(k));
  }
  return true;
}

export interface AdminAccessDeps {
  bootstrap: (authorization: string | undefined) => boolean;
  operators: Pick<Operators, 'authenticate'>;
  limiter: AuthFailureLimiter;
  audit: Pick<AuditWriter, 'append'>;
  now: () => number;
  /** Audited failures per second at most; beyond, they are counted into the next audited one. */
  auditPerSecond?: number;
  /** Console sessions (cookie authentication), when the console is served. */
  sessions?: Pick<ConsoleSessions, 'find'>;
}

/** The header a console page echoes its session's CSRF token in. */
export const CSRF_HEADER = 'x-tether-csrf';

/**
 * A browser names the page's origin on state-changing requests (Fetch standard, `Origin`); a
 * request from another origin is refused even with a valid cookie (defence beside SameSite=Strict
 * and the CSRF token). Non-browser clients send none.
 */
export function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** The route pattern under the admin prefix (`/grants/:id/approve`), as fastify matched it. */
function routeOf(req: FastifyRequest, prefix: string): string {
  const url = req.routeOptions?.url ?? req.url.split('?')[0]!;
  return url.startsWith(prefix) ? url.slice(prefix.length) || '/' : url;
}

export function createAdminAccess(deps: AdminAccessDeps) {
  const perSecond = deps.auditPerSecond ?? 100;
  let second = 0;
  let auditedThisSecond = 0;
  let unaudited = 0;

  const failure = async (req: FastifyRequest, reason: string, extra: Record<string, unknown> = {}) => {
    const now = deps.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      auditedThisSecond = 0;
    }
    if (auditedThisSecond >= perSecond) {
      unaudited++;
      return;
    }
    auditedThisSecond++;
    const missed = unaudited;
    unaudited = 0;
    await deps.audit.append({
      type: 'operator.auth_failed',
      actor: 'anonymous',
      data: { reason, source_ip: req.ip, method: req.method, path: req.url.split('?')[0]!.slice(0, 256), ...extra, ...(missed ? { unaudited_before: missed } : {}) },
    });
  };

  const byToken = async (req: FastifyRequest, h: string | undefined, what: string): Promise<OperatorPrincipal> => {
    const now = deps.now();
    const wait = deps.limiter.retryAfter(req.ip, now);
    if (wait > 0) {
      await failure(req, 'throttled');
      throw new TetherError('too_many_requests', `too many failed authentications from this address; retry in ${wait} s`, { retry_after: wait });
    }
    if (typeof h === 'string' && deps.bootstrap(h)) return { name: BOOTSTRAP_ADMIN, role: 'admin', bootstrap: true };
    const m = typeof h === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/i.exec(h) : null;
    const auth = m ? await deps.operators.authenticate(m[1]!) : ({ ok: false, reason: h === undefined ? 'missing' : 'unknown_token' } as const);
    if (auth.ok) return auth.operator;
    const after = deps.limiter.fail(req.ip, now);
    await failure(req, auth.reason, 'name' in auth && auth.name ? { operator: auth.name } : {});
    if (after > 0) throw new TetherError('too_many_requests', `too many failed authentications from this address; retry in ${after} s`, { retry_after: after });
    throw new TetherError('unauthorized', `a valid ${what} is required (Authorization: Bearer <token>)`);
  };

  return {
    /**
     * Audits a refused credential (an admin token, an operator token, a Slack callback) under the
     * one per-second cap, so a flood of refusals cannot flood the audit log; the next audited
     * refusal carries how many were not.
     */
    refused: failure,
    /**
     * onRequest: who is calling. Throws 401/429/403; sets `req.operator`. An `Authorization` header
     * (bootstrap admin or operator token) wins; without one, a console session cookie
     * (console/sessions.ts), whose state changes must carry the session's CSRF token and, when the
     * browser names one, the broker's own origin.
     */
    authenticate: (what: string) => async (req: FastifyRequest): Promise<void> => {
      const h = req.headers.authorization;
      if (h === undefined && deps.sessions) {
        const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
        if (sid !== undefined) {
          const session = await deps.sessions.find(sid);
          if (!session) throw new TetherError('unauthorized', 'the console session has ended (expired, logged out, or its operator revoked); log in again');
          if (!READ_METHODS.has(req.method)) {
            const why = !sameOrigin(req) ? 'cross_origin' : !csrfMatches(session, req.headers[CSRF_HEADER]) ? 'csrf_missing_or_wrong' : null;
            if (why) {
              await deps.audit.append({ type: 'operator.forbidden', actor: session.operator.name, data: { operator: session.operator.name, role: session.operator.role, method: req.method, path: req.url.split('?')[0]!.slice(0, 256), reason: why } });
              throw new TetherError('forbidden', `a state change from a console session needs the session's CSRF token in ${CSRF_HEADER} from the broker's own origin (${why})`);
            }
          }
          req.operator = session.operator;
          return;
        }
      }
      req.operator = await byToken(req, h, what);
    },
    /**
     * A console login: the token an operator typed, checked exactly like an `Authorization` header
     * (same throttle, same audit of failures). Throws 401/429.
     */
    login: (req: FastifyRequest, token: string): Promise<OperatorPrincipal> => byToken(req, `Bearer ${token}`, 'admin or operator token'),
    /**
     * An operator token presented outside the admin API (the token endpoint's X-Tether-Operator-Token):
     * the same per-address throttle and audit as the admin API, so it is no oracle for guessing.
     */
    operatorOf: async (token: string, req: FastifyRequest): Promise<string | null> => {
      const now = deps.now();
      if (deps.limiter.retryAfter(req.ip, now) > 0) {
        await failure(req, 'throttled');
        return null;
      }
      const auth = await deps.operators.authenticate(token);
      if (auth.ok) return auth.operator.name;
      deps.limiter.fail(req.ip, now);
      await failure(req, auth.reason, 'name' in auth && auth.name ? { operator: auth.name } : {});
      return null;
    },
    /** preHandler: may this operator do this? Throws 403, audited. */
    authorize: (prefix: string) => async (req: FastifyRequest): Promise<void> => {
      const op = req.operator;
      if (!op) throw new TetherError('unauthorized', 'not authenticated');
      const route = routeOf(req, prefix);
      if (isAllowed(op.role, req.method, route, req.body)) return;
      await deps.audit.append({ type: 'operator.forbidden', actor: op.name, data: { operator: op.name, role: op.role, method: req.method, path: route } });
      throw new TetherError('forbidden', `operator ${op.name} (role ${op.role}) may not ${req.method} ${prefix}${route}`);
    },
  };
}

/** The audit actor of an admin request: the authenticated operator's name. */
export function actorOf(req: FastifyRequest): string {
  return req.operator?.name ?? BOOTSTRAP_ADMIN;
}
