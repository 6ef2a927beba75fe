/**
 * Admin routes of posture: the report (JSON contract or the self-contained HTML) and the audit chain
 * verification an evidence bundle records, so `tether evidence` works against a running broker.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { verifyChain } from '../audit/index.js';
import { parseWith } from '../server/validate.js';
import type { Queryable } from '../store/index.js';
import { analyzePosture } from './analyze.js';
import { parseDurationMs } from './duration.js';
import { POSTURE_REPORT_CSP, renderPostureHtml } from './report-html.js';
import type { Clock } from '../clock.js';

const duration = (name: string) =>
  z
    .string()
    .max(32)
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      try {
        parseDurationMs(v, name);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message.replace(`${name}: `, '') });
      }
    });

const PostureQuery = z.strictObject({
  window: duration('window'),
  dormant_after: duration('dormant_after'),
  standing_bound: duration('standing_bound'),
  lifetime_bound: duration('lifetime_bound'),
  blast_radius_bound: z.coerce.number().int('must be a whole number').min(1).max(1_000_000).optional(),
  /** Only the N identities with the largest blast radius (findings and metrics stay complete). */
  limit: z.coerce.number().int('must be a whole number').min(1).max(100_000).optional(),
  format: z.enum(['json', 'html']).default('json'),
});

export interface PostureRouteOptions {
  db: Queryable;
  clock: Clock;
  /** Current risk of an identity (detection); 0 until detection plugs in. */
  riskOf?: (identity: string) => number;
}

export async function postureRoutes(app: FastifyInstance, opts: PostureRouteOptions) {
  app.get('/posture', async (req, reply) => {
    const q = parseWith(PostureQuery, req.query, 'query');
    const report = await analyzePosture(opts.db, {
      now: opts.clock(),
      ...(q.window ? { window: q.window } : {}),
      ...(q.dormant_after ? { dormantAfter: q.dormant_after } : {}),
      ...(q.standing_bound ? { standingBound: q.standing_bound } : {}),
      ...(q.lifetime_bound ? { lifetimeBound: q.lifetime_bound } : {}),
      ...(q.blast_radius_bound ? { blastRadiusBound: q.blast_radius_bound } : {}),
      ...(opts.riskOf ? { riskOf: opts.riskOf } : {}),
    });
    const out = q.limit ? { ...report, identities: report.identities.slice(0, q.limit) } : report;
    reply.header('Cache-Control', 'no-store');
    if (q.format === 'html') {
      reply.header('Content-Security-Policy', POSTURE_REPORT_CSP);
      return reply.type('text/html; charset=utf-8').send(renderPostureHtml(out));
    }
    return out;
  });

  // Recomputes the whole chain (paged, never the whole log in memory): an auditor's check, not a probe.
  app.get('/audit/verify', async () => verifyChain(opts.db));
}
