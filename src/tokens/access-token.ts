import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TetherError } from '../errors.js';
import { epochSeconds, type Clock } from '../clock.js';
import type { KeyRing } from './key-ring.js';
import { deepFreeze } from './verified-jwt-cache.js';

/** RFC 8693 §4.1 `act`: the acting party, nesting the earlier actors of a delegation chain. */
export interface Actor {
  sub: string;
  iss?: string;
  act?: Actor;
}

export interface TaskClaim {
  id: string;
  purpose?: string;
  ticket?: string;
}

/** The claims of a Tether access token (RFC 9068 §2.2 plus `cnf`, `grant`, `task`, `act`). */
export interface AccessTokenClaims {
  iss: string;
  /** The identity id the token was issued to. */
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  /** Space-separated actions (RFC 9068 §2.2.3, RFC 6749 §3.3). An upper bound, never a guarantee. */
  scope: string;
  client_id: string;
  /** RFC 9449 §6.1: the DPoP key this token is bound to. */
  cnf?: { jkt: string };
  /** The grant the token was issued against; revocation by grant matches on it. */
  grant: string;
  task?: TaskClaim;
  act?: Actor;
  /**
   * How the grant got past an `@approval` obligation: a human approved it, or break-glass waived it.
   * Absent when no approval was asked; request time then refuses actions a policy has since put
   * under approval (DESIGN.md "Policy model": obligations hold at request time too).
   */
  approval?: GrantApproval;
  /** With `approval: "human"`: how many distinct operators approved (`@approval("N")` is re-checked against it). */
  approvals?: number;
  /**
   * Present (true) only when the grant was opened as break-glass: request-time policies read it as
   * `context.break_glass` (DESIGN.md "Policy model"). A private claim (RFC 9068 §2.2, RFC 7519 §4.3)
   * under the token's signature, so it is as verified as `sub`; absent means false.
   */
  break_glass?: true;
}

/** See AccessTokenClaims.approval. */
export type GrantApproval = 'human' | 'break_glass';

export interface MintAccessTokenOptions {
  issuer: string;
  subject: string;
  audience: string | string[];
  scope: readonly string[];
  ttlSeconds: number;
  /** DPoP key thumbprint; omit only for a deliberately unbound (Bearer) token. */
  jkt?: string;
  grantId: string;
  task?: TaskClaim;
  act?: Actor;
  approval?: GrantApproval;
  approvals?: number;
  /** RFC 9068 §2.2 requires client_id; a federated workload is its own client, so it defaults to subject. */
  clientId?: string;
  /** The grant is break-glass: the token says so (`break_glass: true`). */
  breakGlass?: boolean;
  clock: Clock;
}

export interface MintedAccessToken {
  token: string;
  jti: string;
  exp: number;
  claims: AccessTokenClaims;
}

/** RFC 9068 §4: the `typ` header that keeps access tokens from being confused with ID tokens. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Mints a DPoP-bound JWT access token (RFC 9068) signed by the ring's active key. */
export async function mintAccessToken(keyRing: KeyRing, options: MintAccessTokenOptions): Promise<MintedAccessToken> {
  const { issuer, subject, audience, scope, ttlSeconds, jkt, grantId, task, act, approval, approvals, clientId, breakGlass, clock } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > keyRing.maxTokenLifetimeSeconds) {
    throw new TypeError(`mintAccessToken: ttlSeconds must be an integer in 1..${keyRing.maxTokenLifetimeSeconds}`);
  }
  if (scope.length === 0) throw new TetherError('invalid_scope', 'an access token needs at least one scope');
  for (const s of scope) {
    if (!SCOPE_TOKEN.test(s)) throw new TetherError('invalid_scope', 'a scope contains characters RFC 6749 §3.3 does not allow');
  }
  const iat = epochSeconds(clock);
  const jti = randomBytes(16).toString('base64url'); // 128 bits: unguessable and collision-free for revocation by jti
  const claims: AccessTokenClaims = {
    iss: issuer,
    sub: subject,
    aud: Array.isArray(audience) ? [...audience] : audience,
    exp: iat + ttlSeconds,
    iat,
    jti,
    scope: scope.join(' '),
    client_id: clientId ?? subject,
    ...(jkt !== undefined ? { cnf: { jkt } } : {}),
    grant: grantId,
    ...(task !== undefined ? { task: { ...task } } : {}),
    ...(act !== undefined ? { act } : {}),
    ...(approval !== undefined ? { approval } : {}),
    ...(approvals !== undefined ? { approvals } : {}),
    ...(breakGlass === true ? { break_glass: true as const } : {}),
  };
  const token = await keyRing.sign({ ...claims }, { typ: ACCESS_TOKEN_TYP });
  return { token, jti, exp: claims.exp, claims };
}

const actorSchema: z.ZodType<Actor> = z.lazy(() =>
  z.object({ sub: z.string(), iss: z.string().optional(), act: actorSchema.optional() }).loose(),
);

const claimsSchema = z
  .object({
    iss: z.string(),
    sub: z.string().min(1),
    aud: z.union([z.string(), z.array(z.string()).min(1)]),
    exp: z.number(),
    iat: z.number(),
    jti: z.string().min(1),
    scope: z.string(),
    client_id: z.string(),
    cnf: z.object({ jkt: z.string().min(1) }).loose().optional(),
    grant: z.string().min(1),
    task: z.object({ id: z.string(), purpose: z.string().optional(), ticket: z.string().optional() }).loose().optional(),
    act: actorSchema.optional(),
    approval: z.enum(['human', 'break_glass']).optional(),
    approvals: z.number().int().min(1).max(5).optional(),
    break_glass: z.literal(true).optional(),
  })
  .loose();

/** Claims already checked against claimsSchema, by the (frozen, shared) payload the key ring verified. */
const shapeChecked = new WeakMap<object, AccessTokenClaims>();

export interface VerifyAccessTokenOptions {
  issuer: string;
  /** The resource's audience; when set, `aud` must include it. */
  audience?: string | string[];
  clock: Clock;
  skewSeconds?: number;
}

/**
 * Verifies a Tether access token: signature by a published local key, `typ` `at+jwt` (RFC 9068 §4),
 * `iss`, `aud`, `exp`/`iat` with skew, and the claim shapes above. Every refusal is `invalid_token`.
 *
 * Does not check: revocation, the DPoP proof (pass `claims.cnf.jkt` and the token to verifyDpopProof),
 * or whether the scope allows the request (policy decides that at request time).
 */
export async function verifyAccessToken(
  keyRing: KeyRing,
  token: string,
  options: VerifyAccessTokenOptions,
): Promise<AccessTokenClaims> {
  const { payload } = await keyRing.verifyJwt(token, { ...options, typ: ACCESS_TOKEN_TYP });
  // The ring hands back the same (frozen) payload for a token it verified before: its shape is checked once.
  const known = shapeChecked.get(payload);
  if (known !== undefined) return known;
  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) {
    const path = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new TetherError('invalid_token', `access token claim "${path}" is missing or malformed`);
  }
  const claims = deepFreeze(parsed.data as AccessTokenClaims);
  shapeChecked.set(payload, claims);
  return claims;
}

