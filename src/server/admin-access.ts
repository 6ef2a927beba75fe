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

  return {
    /**
     * Audits a refused credential (an admin token, an operator token, a Slack callback) under the
     * one per-second cap, so a flood of refusals cannot flood the audit log; the next audited
     * refusal carries how many were not.
     */
    refused: failure,
    /** onRequest: who is calling. Throws 401/429; sets `req.operator`. */
    authenticate: (what: string) => async (req: FastifyRequest): Promise<void> => {
      const now = deps.now();
      const wait = deps.limiter.retryAfter(req.ip, now);
      if (wait > 0) {
        await failure(req, 'throttled');
        throw new TetherError('too_many_requests', `too many failed authentications from this address; retry in ${wait} s`, { retry_after: wait });
      }
      const h = req.headers.authorization;
      if (typeof h === 'string' && deps.bootstrap(h)) {
        req.operator = { name: BOOTSTRAP_ADMIN, role: 'admin', bootstrap: true };
        return;
      }
      const m = typeof h === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/i.exec(h) : null;
      const auth = m ? await deps.operators.authenticate(m[1]!) : ({ ok: false, reason: h === undefined ? 'missing' : 'unknown_token' } as const);
      if (auth.ok) {
        req.operator = auth.operator;
        return;
      }
      const after = deps.limiter.fail(req.ip, now);
      await failure(req, auth.reason, 'name' in auth && auth.name ? { operator: auth.name } : {});
      if (after > 0) throw new TetherError('too_many_requests', `too many failed authentications from this address; retry in ${after} s`, { retry_after: after });
      throw new TetherError('unauthorized', `a valid ${what} is required (Authorization: Bearer <token>)`);
    },
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
