/** The decision domain: one kernel for every decision (issuance, ext-authz, AuthZEN), its caches and routes. */
export { createPdpDomain } from './domain.js';
export type { PdpDomain, PdpDomainDeps } from './domain.js';
export { createDecisionPipeline } from './decide.js';
export type { DecisionPipeline, Kernel, PipelineDeps, RiskView, Verdict } from './decide.js';
export type { DecideInput, DecideOutput, DecisionEntry, DecisionEntityInput, DecisionHttpRequest, DecisionPhase, DecisionReasons, DecisionStage, DecisionToken, IssuanceFacts } from './decision-types.js';
export { cedarContext, neutralOwnContext, ownContextOf } from './own-context.js';
export type { DecisionEvent, DecisionObserver } from './observers.js';
export type { OwnContext } from './own-context.js';
export { authzenRoutes } from './authzen-routes.js';
export type { AuthzenRoutesOptions } from './authzen-routes.js';
