export { createRouteStore } from './route-store.js';
export type { RouteStore } from './route-store.js';
export { compileRoute, matchRoute, RouteSchema } from './route-config.js';
export type { RouteConfig, CompiledRoute, RouteMatch } from './route-config.js';
export { extAuthzRoutes } from './ext-authz.js';
export type { CredentialRefusal, ExtAuthzDeps } from './ext-authz.js';
