/**
 * The admin learning endpoint's body: detection events (events.ts) as untrusted JSON, checked once at
 * the edge. Learning is how a fresh instance, a test or the simulator gets a mature baseline
 * without waiting a week (DetectionOptions.learning).
 */
import { z } from 'zod';
import type { DetectionEvent } from './events.js';

/** Per call: large enough for a week of a busy identity, small enough to parse in one go. */
export const LEARN_MAX_EVENTS = 100_000;

const text = (max: number) => z.string().min(1).max(max);

export const LearnEventSchema = z.strictObject({
  kind: z.enum(['issue', 'request']),
  at: z.number().int().min(0).max(8.64e15),
  identity: text(256),
  identityKind: z.enum(['service_account', 'ci_job', 'workload', 'ai_agent', 'api_client']).optional(),
  allowed: z.boolean(),
  action: text(256),
  resource: text(1024),
  grantId: text(128).optional(),
  jti: text(128).optional(),
  issuedJkt: text(128).optional(),
  presentedJkt: text(128).optional(),
  sourceIp: text(64).optional(),
  environment: text(128).optional(),
  taskId: text(128).optional(),
  taskEnded: z.boolean().optional(),
  taskActions: z.array(text(256)).max(64).optional(),
  reason: z.string().max(1024).optional(),
});

export const LearnBody = z.strictObject({
  events: z.array(LearnEventSchema).max(LEARN_MAX_EVENTS, `at most ${LEARN_MAX_EVENTS} events per call`),
});

/** zod leaves absent optionals absent, so the parsed object already is a DetectionEvent. */
export function toDetectionEvents(body: z.infer<typeof LearnBody>): DetectionEvent[] {
  return body.events as DetectionEvent[];
}
