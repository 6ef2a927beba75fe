import type { AuditInput, TokenIssuedData } from '../audit/index.js';
import type { MintedAccessToken } from './access-token.js';

/** RFC 8693 §3: the token type of everything the token endpoint issues. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/** What both issuance paths (exchange, delegation) know about a token they minted. */
export interface IssuedToken {
  minted: MintedAccessToken;
  grant: string;
  audience: string;
  scopes: readonly string[];
  /** RFC 7638 thumbprint of the DPoP key the token is bound to; absent for a bearer token. */
  jkt: string | undefined;
  ttl: number;
  /** Who vouched for the caller: the trusted issuer's name, or `delegation`. */
  issuer: string;
  sourceIp: string;
}

/**
 * The one `token.issued` record (docs/audit-events.md): the facts every issuance records, plus what
 * only its path knows (`extra`: reused grant and policies for an exchange; the source token and
 * actor chain for a delegation).
 */
type PathFacts = Pick<TokenIssuedData, 'break_glass' | 'policies' | 'reused_grant' | 'act' | 'delegated_from'>;

export function tokenIssuedRecord(t: IssuedToken, who: { actor: string; identity: string }, extra: PathFacts): AuditInput {
  return {
    type: 'token.issued',
    actor: who.actor,
    identity: who.identity,
    data: {
      jti: t.minted.jti,
      grant: t.grant,
      aud: t.audience,
      scope: t.scopes,
      jkt: t.jkt ?? null,
      iat: t.minted.claims.iat,
      exp: t.minted.exp,
      ttl: t.ttl,
      issuer: t.issuer,
      client_id: t.minted.claims.client_id,
      bearer: t.jkt === undefined,
      ...extra,
      source_ip: t.sourceIp,
    },
  };
}

/** RFC 8693 §2.2.1 response body; `token_type` says how the token must be presented (RFC 9449 §5). */
export function tokenResponse(t: Pick<IssuedToken, 'minted' | 'jkt' | 'ttl' | 'scopes'>) {
  return { access_token: t.minted.token, issued_token_type: ACCESS_TOKEN_TYPE, token_type: t.jkt ? ('DPoP' as const) : ('Bearer' as const), expires_in: t.ttl, scope: t.scopes.join(' ') };
}
