/** The decision domain: one pipeline for every entry point (AuthZEN, ext-authz), its caches and routes. */
export { createPdpDomain } from './domain.js';
export type { PdpDomain, PdpDomainDeps } from './domain.js';
export { createDecisionPipeline } from './decide.js';
export type { DecisionPipeline, PipelineDeps, Verdict } from './decide.js';
export type { DecideInput, DecideOutput, DecisionEntry, DecisionEntityInput, DecisionHttpRequest, DecisionReasons, DecisionToken } from './decision-types.js';
export type { DecisionEvent, DecisionObserver } from './observers.js';
export type { OwnContext } from './own-context.js';
export { authzenRoutes } from './authzen-routes.js';
export type { AuthzenRoutesOptions } from './authzen-routes.js';
