/**
 * The decision domain: one kernel for every decision (issuance, ext-authz, AuthZEN) and its caches.
 * Its HTTP surface (authzen-routes.ts) is mounted by the composition root, not exported here.
 */
export { createPdpDomain } from './domain.js';
export type { PdpDomain, PdpDomainDeps } from './domain.js';
export { createDecisionPipeline } from './decide.js';
export type { DecideOptions, DecisionPipeline, Kernel, PipelineDeps, RiskView } from './decide.js';
export type { DecideInput, DecideOutput, DecisionEntry, DecisionEntityInput, DecisionHttpRequest, DecisionPhase, DecisionReasons, DecisionStage, DecisionToken, IssuanceFacts, Verdict } from './decision-types.js';
export { cedarContext, neutralOwnContext, ownContextOf } from './own-context.js';
export { exceedsValues, MAX_VALUES } from './cedar-values.js';
export type { DecisionEvent, DecisionObserver } from './observers.js';
export type { OwnContext } from './own-context.js';
