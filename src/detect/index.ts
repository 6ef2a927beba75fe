/**
 * Detection and response (DESIGN.md flow 5): per-identity baselines, rules raising findings, risk
 * for `context.risk`, the response policy, and signed webhook alerts. Pure library: the broker feeds
 * events in and performs the responses.
 */
export type { DetectionEvent, IdentityKind } from './events.js';
export type { Finding, RuleId, Severity } from './finding.js';
export { RULE_IDS } from './finding.js';
export type { ActionMatcher, DetectionOptions, DetectionOptionsInput } from './options.js';
export { DEFAULT_DETECTION_OPTIONS, resolveDetectionOptions } from './options.js';
export type { BaselineJSON, CountEntry, GrantSighting, IdentityBaseline, TokenSighting } from './baseline.js';
export { baselineFromJSON, baselineToJSON, createBaseline, hourOfDay, isMature, weekdayOf } from './baseline.js';
export type { BaselineSnapshot, Clock, CreateDetectorInput, Detector } from './detector.js';
export { createDetector } from './detector.js';
export { CRITICAL_RISK_FLOOR } from './risk.js';
export type { DetectionResponse, ResponsePolicy } from './responses.js';
export { DEFAULT_RESPONSE_POLICY, RESPONSE_STRENGTH, responseFor } from './responses.js';
export type { FetchLike, WebhookLogger, WebhookNotifier, WebhookNotifierInput, WebhookStats } from './webhook.js';
export {
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  createWebhookNotifier,
  signWebhookBody,
} from './webhook.js';
export { ipPrefix } from './ip-prefix.js';
