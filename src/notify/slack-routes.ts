/**
 * Slack interactive approvals (README "Notifications"): the Approve/Deny buttons of a `grant.pending`
 * message come back as Slack interaction callbacks. Each is verified as Slack documents ("Verifying
 * requests from Slack"): `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
 * "v0:<X-Slack-Request-Timestamp>:<raw body>")>`, compared in constant time, the timestamp within 5
 * minutes, and a signature seen before is refused (a replay inside the window). The Slack user must be
 * mapped to an active operator (`tether operators add … --slack-user U…`) whose role may decide grants;
 * the decision is that operator's, audited with their name. Everything refused is audited.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import type { Grants } from '../grants/grants.js';
import type { Operators } from '../operators/operators.js';
import { isAllowed } from '../server/admin-access.js';

const WINDOW_S = 300;

export interface SlackRouteDeps {
  signingSecret: string;
  operators: Pick<Operators, 'bySlackUser'>;
  grants: Pick<Grants, 'decide'>;
  audit: Pick<AuditWriter, 'append'>;
  /** Audits a refused callback under the admin API's per-second cap (admin-access.ts). */
  refused: (req: FastifyRequest, reason: string, extra?: Record<string, unknown>) => Promise<void>;
  now: () => number;
}

export function slackSignature(secret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

export async function slackRoutes(app: FastifyInstance, deps: SlackRouteDeps) {
  // Signatures seen within the window (bounded: at most what a window can hold, oldest out first).
  const seen = new Map<string, number>();
  const remember = (sig: string, now: number) => {
    for (const [s, at] of seen) {
      if (now - at <= WINDOW_S * 1000 && seen.size < 10_000) break;
      seen.delete(s);
    }
    seen.set(sig, now);
  };
  const refuse = async (req: FastifyRequest, reason: string, status: 401 | 403, extra: Record<string, unknown> = {}) => {
    await deps.refused(req, reason, extra);
    throw new TetherError(status === 401 ? 'unauthorized' : 'forbidden', `Slack callback refused: ${reason}`);
  };

  app.post('/integrations/slack/interactions', { config: { surface: 'admin' as const } }, async (req) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    const ts = req.headers['x-slack-request-timestamp'];
    const sig = req.headers['x-slack-signature'];
    const now = deps.now();
    if (typeof ts !== 'string' || typeof sig !== 'string' || !/^\d{1,12}$/.test(ts)) return refuse(req, 'slack_unsigned', 401);
    if (Math.abs(now / 1000 - Number(ts)) > WINDOW_S) return refuse(req, 'slack_stale_timestamp', 401);
    const want = Buffer.from(slackSignature(deps.signingSecret, ts, raw));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return refuse(req, 'slack_bad_signature', 401);
    if (seen.has(sig)) return refuse(req, 'slack_replay', 401);
    remember(sig, now);

    let payload: { type?: string; user?: { id?: string }; actions?: Array<{ action_id?: string; value?: string }> };
    try {
      payload = JSON.parse(new URLSearchParams(raw).get('payload') ?? '') as typeof payload;
    } catch {
      throw new TetherError('invalid_request', 'Slack callback without a JSON payload');
    }
    if (payload === null || typeof payload !== 'object' || !Array.isArray(payload.actions)) throw new TetherError('invalid_request', 'not a Tether approval action');
    const action = payload.actions[0];
    const decision = action?.action_id === 'tether_approve' ? 'approve' : action?.action_id === 'tether_deny' ? 'deny' : null;
    if (payload.type !== 'block_actions' || !decision || typeof action?.value !== 'string' || typeof payload.user?.id !== 'string') {
      throw new TetherError('invalid_request', 'not a Tether approval action');
    }
    const slackUser = payload.user.id;
    const operator = await deps.operators.bySlackUser(slackUser);
    if (!operator) return refuse(req, 'slack_unmapped', 403, { slack_user_id: slackUser.slice(0, 32) });
    if (!isAllowed(operator.role, 'POST', `/grants/:id/${decision}`, {})) {
      await deps.audit.append({ type: 'operator.forbidden', actor: operator.name, data: { operator: operator.name, role: operator.role, method: 'POST', path: `/grants/:id/${decision}`, via: 'slack' } });
      throw new TetherError('forbidden', `operator ${operator.name} (role ${operator.role}) may not decide grants`);
    }
    const g = await deps.grants.decide(action.value, decision, operator.name, `via Slack by ${operator.name}`);
    return { text: `Grant ${g.id} is ${g.state} (${decision === 'approve' ? 'approved' : 'denied'} by ${operator.name}).`, replace_original: false };
  });
}
