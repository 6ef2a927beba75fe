import { z } from 'zod';
import { isEntityTypeName } from '../pdp/cedar-values.js';

/**
 * Route rules (contract, DESIGN.md flow 2): map a gateway request to an action and a resource.
 *   - name: orders
 *     gateway: nginx                          # or envoy: where the original request comes from
 *     audience: https://orders.example.test   # tokens for this upstream carry this aud
 *     public_url: http://127.0.0.1:8081       # what callers use: the DPoP htu base
 *     rules:
 *       - { method: GET, path: /orders/:id, action: "orders:read", resource: { type: Order, id: ":id" } }
 */
const PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

export const RuleSchema = z.strictObject({
  method: z.string().regex(/^([A-Z]+|\*)$/, 'an HTTP method in capitals, or *'),
  path: z.string().regex(PATH, 'a path starting with /, with :name parameters and a trailing * allowed'),
  action: z.string().regex(/^[A-Za-z0-9_.:/*-]{1,128}$/, 'an action name'),
  resource: z.strictObject({
    type: z.string().refine(isEntityTypeName, 'a Cedar entity type name'),
    id: z.string().min(1).max(512),
  }),
});

/**
 * Where the original request comes from is configuration, never guessed per request (DESIGN.md
 * Trust model): `nginx` reads the headers examples/nginx/nginx.conf sets on its auth_request
 * subrequest; `envoy` reads Envoy's ext_authz check request itself (its method, its path after
 * `/ext-authz/<route>`). See original-request.ts.
 */
export const GATEWAY_MODES = ['nginx', 'envoy'] as const;
export type GatewayMode = (typeof GATEWAY_MODES)[number];

/** Headers a client can send and Envoy passes along (or appends to): never a client address. */
const FORWARDING_HEADERS = new Set(['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-envoy-external-address']);

export const RouteSchema = z
  .strictObject({
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 characters of A-Z a-z 0-9 _ -'),
  gateway: z.enum(GATEWAY_MODES).default('nginx'),
  /**
   * Envoy only: the check-request header that carries the client address, one the Envoy config sets
   * itself (ext_authz `authorization_request.headers_to_add`, which replaces a client's header of the
   * same name). Unset, the client address is the TCP peer: X-Forwarded-For is never read, because
   * whether its last entry is Envoy's depends on settings Tether cannot see.
   */
  client_address_header: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, 'a lower-case header name')
    .refine((h) => !FORWARDING_HEADERS.has(h), 'a header Envoy forwards from the client as is (x-forwarded-for, forwarded, x-real-ip) does not prove the client address')
    .optional(),
  audience: z.string().min(1).max(512),
  public_url: z.url({ protocol: /^https?$/ }),
  rules: z.array(RuleSchema).min(1).max(1000),
  })
  .refine((r) => r.client_address_header === undefined || r.gateway === 'envoy', {
    message: 'client_address_header applies to gateway: envoy (nginx routes read X-Real-IP, which the shipped config sets)',
    path: ['client_address_header'],
  });

export type RouteConfig = z.infer<typeof RouteSchema>;
export type RuleConfig = z.infer<typeof RuleSchema>;

export interface CompiledRule {
  rule: RuleConfig;
  method: string;
  regex: RegExp;
  params: string[];
}

export interface CompiledRoute {
  config: RouteConfig;
  /** public_url without a trailing slash: the htu of a request is base + path. */
  base: string;
  rules: CompiledRule[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `/orders/:id` → a regex capturing `id`; a trailing `/*` matches any rest. */
export function compileRoute(config: RouteConfig): CompiledRoute {
  const rules = config.rules.map((rule) => {
    const params: string[] = [];
    let pattern = '';
    const segments = rule.path.split('/').slice(1);
    segments.forEach((seg, i) => {
      if (seg === '*' && i === segments.length - 1) {
        pattern += '(?:/.*)?';
        return;
      }
      pattern += '/';
      if (seg.startsWith(':')) {
        params.push(seg.slice(1));
        pattern += '([^/]+)';
      } else pattern += escape(seg);
    });
    return { rule, method: rule.method, regex: new RegExp(`^${pattern || '/'}$`), params };
  });
  return { config, base: config.public_url.replace(/\/+$/, ''), rules };
}

export interface RouteMatch {
  action: string;
  resource: { type: string; id: string };
}

/** First rule that matches wins; ids like ":id" are replaced by the path parameter (decoded). */
export function matchRoute(route: CompiledRoute, method: string, path: string): RouteMatch | null {
  for (const r of route.rules) {
    if (r.method !== '*' && r.method !== method) continue;
    const m = r.regex.exec(path);
    if (!m) continue;
    const values: Record<string, string> = {};
    try {
      r.params.forEach((p, i) => (values[p] = decodeURIComponent(m[i + 1]!)));
    } catch {
      return null;
    }
    const id = r.rule.resource.id.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (all, p: string) => values[p] ?? all);
    return { action: r.rule.action, resource: { type: r.rule.resource.type, id } };
  }
  return null;
}
