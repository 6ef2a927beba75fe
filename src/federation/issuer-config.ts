import { z } from 'zod';
import { TetherError } from '../errors.js';
import { ASYMMETRIC_JWS_ALGORITHMS, hasPrivateMembers } from '../tokens/index.js';
import { IDENTITY_TEMPLATE } from './claims.js';

/**
 * An issuer is a trust source that vouches for workloads (DESIGN.md: Issuer). Validated once at the
 * edge (`tether apply`, the admin API) and handled as this type afterwards.
 *
 * - `oidc`: GitHub Actions, GitLab CI, Kubernetes projected service-account tokens, any OIDC issuer.
 * - `spiffe`: JWT-SVIDs. `issuer` is the `iss` the SPIRE server emits, or the trust domain
 *   (`spiffe://example.org`) when it emits none; `sub` must be a SPIFFE ID of that trust domain.
 * - `private_key_jwt`: a workload's own registered public keys (RFC 7523 §3). `issuer` is the `iss` =
 *   `sub` its assertions carry (its identity id; never the issuer's `name`), `audience` the broker's
 *   token endpoint and/or issuer URL.
 */
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

/** Only public asymmetric keys: a JWKS holding `oct` or private members is a misconfiguration. */
const publicJwk = z
  .object({ kty: z.enum(['RSA', 'EC', 'OKP']) })
  .loose()
  .refine((k) => !hasPrivateMembers(k), {
    message: 'JWKS must hold public keys only',
  });

export const jwksSchema = z.object({ keys: z.array(publicJwk).min(1) }).loose();

export const issuerConfigSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'name: 1-64 characters of A-Z a-z 0-9 . _ -'),
    kind: z.enum(['oidc', 'spiffe', 'private_key_jwt']).optional(),
    /** The expected `iss`, compared exactly. */
    issuer: z.string().min(1),
    /** The expected `aud`; with a list, the token must name at least one. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    jwks: jwksSchema.optional(),
    /**
     * https. `http:` only to a loopback host, for tests whose own JWKS cache sets the
     * allowInsecureJwksUri symbol; the broker refuses every `http:` jwks_uri at apply
     * (assertUsableByBroker). No credentials or fragment.
     */
    jwks_uri: z
      .url({ protocol: /^https?$/ })
      .refine((u) => new URL(u).protocol === 'https:' || LOOPBACK.test(new URL(u).hostname), {
        message: 'must use https (anyone on the path could substitute the issuer\'s keys)',
      })
      .refine((u) => !new URL(u).username && !new URL(u).password && !new URL(u).hash, { message: 'must not carry credentials or a fragment' })
      .optional(),
    /** Template over verified claims, e.g. `ci/{repository}`; dotted paths reach nested claims. */
    identity: z.string().regex(IDENTITY_TEMPLATE, 'identity: literal [A-Za-z0-9._:@/-] and {claim.path} placeholders'),
    /** Exact-match constraints on verified claims (dotted paths). */
    claims: z.record(z.string().min(1), claimValue).optional(),
    /** Whether identities first seen through this issuer may be created as `unowned` (inventory). */
    allow_unowned: z.boolean().optional(),
    /** Longest subject-token lifetime (exp − iat) accepted, seconds; default 86400 (token-lifetime.ts). */
    max_token_lifetime: z.number().int().min(60).max(7 * 86_400).optional(),
    /**
     * What names the workload instance a task belongs to (grants are per task instance): verified
     * claim paths (e.g. GitHub `run_id` + `run_attempt`, Kubernetes `kubernetes.io.pod.uid`, SPIFFE
     * `sub`) and/or `$dpop` for the DPoP key thumbprint. Default: `["$dpop"]`.
     */
    instance_claims: z
      .array(z.string().regex(/^(\$dpop|[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127})$/, 'instance_claims: claim paths or "$dpop"'))
      .min(1)
      .max(8)
      .optional(),
    /**
     * What names a run and its attempt in the verified claims (e.g. GitHub `run_id`, `run_attempt`):
     * an exchange by a later attempt of a run ends the earlier attempts' tasks, and their tokens'
     * later use is contained by detection (a re-run starts only after the previous attempt ended).
     */
    task_attempt: z
      .strictObject({
        run: z.string().regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$/, 'task_attempt.run: a claim path'),
        attempt: z.string().regex(/^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,127}$/, 'task_attempt.attempt: a claim path'),
      })
      .optional(),
    /** JWS algorithm allowlist; asymmetric only. Default: RS256-512, PS256-512, ES256, ES384, EdDSA. */
    algorithms: z.array(z.enum(ASYMMETRIC_JWS_ALGORITHMS)).min(1).optional(),
  })
  .strict()
  .refine((c) => (c.jwks === undefined) !== (c.jwks_uri === undefined), {
    message: 'exactly one of jwks and jwks_uri is required',
    path: ['jwks_uri'],
  });

export type IssuerConfig = z.infer<typeof issuerConfigSchema>;
export type IssuerKind = NonNullable<IssuerConfig['kind']>;

/** Parses one issuer config; refusals are `invalid_request` naming the issuer and each offending field. */
export function parseIssuerConfig(input: unknown): IssuerConfig {
  const result = issuerConfigSchema.safeParse(input);
  if (!result.success) {
    const why = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    const name = (input as { name?: unknown } | null)?.name;
    const which = typeof name === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(name) ? ` "${name}"` : '';
    throw new TetherError('invalid_request', `invalid issuer config${which}: ${why}`);
  }
  return result.data;
}

/**
 * What the broker itself can use: its JWKS cache fetches over https only, so an `http:` jwks_uri
 * (even to loopback) is refused at apply rather than failing every exchange for the issuer.
 */
export function assertUsableByBroker(c: IssuerConfig): void {
  if (c.jwks_uri !== undefined && new URL(c.jwks_uri).protocol !== 'https:') {
    throw new TetherError('invalid_request', `invalid issuer config "${c.name}": jwks_uri: must use https; the broker never fetches issuer keys over http`);
  }
}

/** Parses a list of issuer configs and refuses duplicate names. */
export function parseIssuerConfigs(input: unknown): IssuerConfig[] {
  if (!Array.isArray(input)) throw new TetherError('invalid_request', 'issuer configs must be a list');
  const configs = input.map(parseIssuerConfig);
  const seen = new Set<string>();
  for (const c of configs) {
    if (seen.has(c.name)) throw new TetherError('invalid_request', `duplicate issuer name "${c.name}"`);
    seen.add(c.name);
  }
  return configs;
}
