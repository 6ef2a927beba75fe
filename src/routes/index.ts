export { createRouteStore } from './route-store.js';
export type { RouteStore } from './route-store.js';
export { compileRoute, matchRoute, RouteSchema } from './route-config.js';
export type { RouteConfig, CompiledRoute, RouteMatch } from './route-config.js';
export type { CredentialRefusal } from './credential-refusal.js';
