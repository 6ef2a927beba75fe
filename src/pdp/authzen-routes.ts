/**
 * OpenID AuthZEN Authorization API 1.0 over the decision pipeline:
 *   POST /access/v1/evaluation    Access Evaluation API (spec §6)
 *   POST /access/v1/evaluations   Access Evaluations API (spec §7), with `options.evaluations_semantic`
 *   GET  /.well-known/authzen-configuration   PDP metadata (spec §9)
 * Errors render through the `authzen` surface: 400 with a message for bad input, bad JSON, an empty
 * body or a non-JSON content type; 503 when the decision cannot be audited (fail closed). The
 * request id is echoed by app.ts on every response (spec "Request Identification").
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authzenItemError, invalidRequest, isTetherError, TetherError } from '../errors.js';
import { bearerMatcher } from '../server/admin-auth.js';
import { parseEvaluation, parseEvaluations, type AuthzenEvaluation, type EvaluationsSemantic } from './authzen-request.js';
import type { DecisionPipeline } from './decide.js';
import type { DecideInput, DecideOutput } from './decision-types.js';

export interface AuthzenRoutesOptions {
  pipeline: Pick<DecisionPipeline, 'decide'>;
  /** TETHER_PDP_TOKEN: when set, evaluations require `Authorization: Bearer <it>`. */
  pdpToken?: string | undefined;
  /** The broker's public base URL (config.issuerUrl); derived from the request's Host otherwise. */
  baseUrl?: string | undefined;
}

interface EvaluationResponse {
  decision: boolean;
  context?: Record<string, unknown>;
}

const authzen = { config: { surface: 'authzen' as const } };

function toInput(r: AuthzenEvaluation): DecideInput {
  return { entry: 'authzen', principal: r.subject, action: r.action, resource: r.resource, context: r.context };
}

/**
 * The reasons go in the response `context` (spec §6.2 allows any object there), as `reason_admin`
 * (policy ids, errors, inventory facts) only for an authenticated PDP caller (TETHER_PDP_TOKEN): an
 * anonymous caller on loopback learns the decision and its audit id, nothing about policies or inventory.
 */
function toResponse(out: DecideOutput, admin: boolean): EvaluationResponse {
  if (!admin) return { decision: out.decision, context: { id: String(out.auditSeq) } };
  const reason_admin: Record<string, unknown> = { policies: out.reasons.policies, errors: out.reasons.errors };
  if (out.reasons.reason !== undefined) reason_admin['reason'] = out.reasons.reason;
  return { decision: out.decision, context: { id: String(out.auditSeq), reason_admin } };
}

/** A batch item that cannot be evaluated: `decision: false` with the error, not a 400 (spec §7.1.2). */
function itemError(e: TetherError, admin: boolean): EvaluationResponse {
  return { decision: false, context: { ...authzenItemError(e), ...(admin ? { reason_admin: { policies: [], errors: [e.message] } } : {}) } };
}

function requireJson(req: FastifyRequest): void {
  const ct = req.headers['content-type'];
  const media = typeof ct === 'string' ? ct.split(';')[0]!.trim().toLowerCase() : '';
  if (media !== 'application/json') {
    throw new TetherError('unsupported_media_type', 'Content-Type must be application/json');
  }
}

export function baseUrlOf(req: FastifyRequest, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  return `${req.protocol}://${req.host}`;
}

export async function authzenRoutes(app: FastifyInstance, opts: AuthzenRoutesOptions): Promise<void> {
  app.get('/.well-known/authzen-configuration', authzen, async (req, reply) => {
    const base = baseUrlOf(req, opts.baseUrl);
    reply.type('application/json; charset=utf-8');
    return {
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
    };
  });

  // Without a PDP token the broker listens on loopback only (config refuses anything else): callers
  // are then local but anonymous.
  const admin = opts.pdpToken !== undefined;
  await app.register(async (pdp) => {
    if (opts.pdpToken !== undefined) {
      const matches = bearerMatcher(opts.pdpToken);
      pdp.addHook('onRequest', async (req, reply) => {
        if (!matches(req.headers.authorization)) {
          reply.header('WWW-Authenticate', 'Bearer realm="tether-pdp"');
          throw new TetherError('unauthorized', 'a valid PDP token is required (Authorization: Bearer <token>)');
        }
      });
    }
    pdp.addHook('preValidation', async (req) => requireJson(req));

    pdp.post('/access/v1/evaluation', authzen, async (req, reply) => {
      const out = await opts.pipeline.decide(toInput(parseEvaluation(req.body)));
      reply.type('application/json; charset=utf-8');
      return toResponse(out, admin);
    });

    pdp.post('/access/v1/evaluations', authzen, async (req, reply) => {
      const batch = parseEvaluations(req.body);
      reply.type('application/json; charset=utf-8');
      // No or empty `evaluations`: answered like the single endpoint (spec §7.1).
      if (batch.single !== undefined) return toResponse(await opts.pipeline.decide(toInput(batch.single)), admin);
      return { evaluations: await evaluateBatch(opts.pipeline, batch.items, batch.semantic, admin) };
    });
  });
}

type Item = ReturnType<typeof parseEvaluations>['items'][number];

async function evaluateItem(pipeline: Pick<DecisionPipeline, 'decide'>, item: Item, admin: boolean): Promise<EvaluationResponse> {
  if (!item.ok) return itemError(invalidRequest(item.error), admin);
  try {
    return toResponse(await pipeline.decide(toInput(item.request)), admin);
  } catch (e) {
    // A value Cedar cannot take fails this item only; an audit failure (503) fails the whole batch.
    if (isTetherError(e) && e.code === 'invalid_request') return itemError(e, admin);
    throw e;
  }
}

/**
 * Items of an execute_all batch started per turn of the event loop. A decision is ~0.5 ms of
 * synchronous work (Cedar, the record): 1000 items started at once ran back to back and held every
 * other request (a gateway check included) for ~0.5 s; started in slices, other requests get a turn
 * between slices, and the items still share group commits.
 */
const BATCH_SLICE = 32;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function evaluateBatch(pipeline: Pick<DecisionPipeline, 'decide'>, items: readonly Item[], semantic: EvaluationsSemantic, admin: boolean): Promise<EvaluationResponse[]> {
  // execute_all: every item, concurrently, so their audit records share group commits.
  if (semantic === 'execute_all') {
    const started: Array<Promise<EvaluationResponse>> = [];
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && i % BATCH_SLICE === 0) await nextTurn();
      const p = evaluateItem(pipeline, items[i]!, admin);
      // A slice that fails (an audit outage) fails the batch through Promise.all below; until then
      // its rejection must not count as unhandled while later slices start.
      p.catch(() => undefined);
      started.push(p);
    }
    return Promise.all(started);
  }
  // Short-circuit semantics (spec §7.1.1): in order, stopping at the first deny / permit; the last
  // item carries the semantic that stopped it, as in the spec's example.
  const out: EvaluationResponse[] = [];
  for (const it of items) {
    const r = await evaluateItem(pipeline, it, admin);
    out.push(r);
    const stop = semantic === 'deny_on_first_deny' ? !r.decision : r.decision;
    if (stop) {
      r.context = { ...(r.context ?? {}), code: r.context?.['code'] ?? '200', reason: r.context?.['reason'] ?? semantic };
      break;
    }
  }
  return out;
}
