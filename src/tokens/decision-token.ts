import type { DecisionToken } from '../pdp/index.js';
import type { VerifiedAccess } from './check-resource-request.js';

/**
 * What a verified access token contributes to a request-time decision (pdp/decision-types.ts), the
 * same for every entry point that checked it with the resource-server check (ext-authz, the MCP
 * gateway, the legacy bridge): only claims under our signature, and the key that proved possession.
 */
export function decisionTokenOf(access: Pick<VerifiedAccess, 'claims' | 'binding'>): DecisionToken {
  const { claims, binding } = access;
  return {
    jti: claims.jti,
    grant: claims.grant,
    scopes: claims.scope.split(' '),
    jkt: claims.cnf?.jkt ?? '',
    presented_jkt: binding?.jkt,
    ...(claims.act ? { act: claims.act as unknown as Record<string, unknown> } : {}),
    ...(claims.task ? { task: claims.task } : {}),
    ...(claims.approval ? { approval: claims.approval } : {}),
    ...(claims.approvals ? { approvals: claims.approvals } : {}),
    // A break-glass grant's tokens carry it (access-token.ts); absent means false.
    break_glass: claims.break_glass === true,
  };
}
