import { isIP } from 'node:net';
import type { RouteConfig } from './route-config.js';

/** The check request as received, reduced to what the gateway modes read. */
export interface CheckRequest {
  method: string;
  /** The raw request-target of the check request (path and query, undecoded). */
  url: string;
  /** `/ext-authz/<route>`: what precedes Envoy's appended path. */
  prefix: string;
  header(name: string): string | undefined;
  /** The TCP peer: the gateway itself. */
  peer: string;
}

export type OriginalRequest = { ok: true; method: string; target: string; sourceIp: string } | { ok: false; description: string };

/** RFC 9110 §9.1 method token. Compared exactly: methods are case-sensitive. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * The request the client made, by the route's configured gateway mode (DESIGN.md Trust model):
 *
 * - `nginx`: `X-Original-Method`, `X-Original-URI` and `X-Real-IP`, which the shipped
 *   examples/nginx/nginx.conf sets on the auth_request subrequest (overwriting whatever the client
 *   sent). Nothing else: `X-Forwarded-*` are never read. The check request must be exactly
 *   `/ext-authz/<route>`; a missing header is a misconfigured gateway and is refused.
 * - `envoy`: Envoy's HTTP ext_authz sends the original request as the check request: its method, and
 *   its path appended after `/ext-authz/<route>` (`/ext-authz/orders` + `/` is the path `/`). Headers
 *   never override them. The client address is the route's `client_address_header`, set by Envoy
 *   itself (`headers_to_add` with `%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%`), else the TCP peer.
 *   X-Forwarded-For is never read: its last entry is Envoy's only under settings Tether cannot check
 *   (`use_remote_address`, trusted hops), and otherwise it is whatever the client wrote.
 *
 * Any mismatch refuses (the caller answers 403): a check is never answered about a guessed request.
 */
export function originalRequest(route: Pick<RouteConfig, 'gateway' | 'client_address_header'>, req: CheckRequest): OriginalRequest {
  const mode = route.gateway;
  const refuse = (description: string): OriginalRequest => ({ ok: false, description });
  if (mode === 'nginx') {
    // nginx may pass the original query on the subrequest; only the path is the check's.
    if (req.url.split('?')[0] !== req.prefix) return refuse(`this route is configured for nginx: the check must be ${req.prefix} exactly`);
    const method = req.header('x-original-method');
    const target = req.header('x-original-uri');
    if (method === undefined || target === undefined) return refuse('the gateway did not send X-Original-Method and X-Original-URI (see examples/nginx/nginx.conf)');
    if (!METHOD.test(method)) return refuse('X-Original-Method is not an HTTP method');
    return { ok: true, method, target, sourceIp: address(req.header('x-real-ip')) ?? req.peer };
  }
  if (!req.url.startsWith(`${req.prefix}/`)) return refuse(`this route is configured for envoy: the check must be ${req.prefix} followed by the original path`);
  if (!METHOD.test(req.method)) return refuse('the check request method is not an HTTP method');
  const configured = route.client_address_header;
  const sourceIp = configured === undefined ? req.peer : address(req.header(configured));
  if (sourceIp === undefined) return refuse(`the gateway did not send the client address in ${configured} (route client_address_header)`);
  return { ok: true, method: req.method, target: req.url.slice(req.prefix.length), sourceIp };
}

/** An IP address, or undefined: whatever else a header holds never reaches the audit log. */
function address(v: string | undefined): string | undefined {
  const a = v?.trim();
  return a && isIP(a) ? a : undefined;
}
