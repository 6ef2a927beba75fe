import type { DecisionToken } from '../pdp/index.js';
import type { VerifiedAccess } from './check-resource-request.js';

/**
 * What a verified access token contributes to a request-time decision: its scopes (an upper bound),
 * grant, key binding, delegation chain, task, approval and break-glass facts — all from the verified
 * token, never from the request.
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
    // From the verified token: a break-glass grant's tokens carry it (access-token.ts).
    break_glass: claims.break_glass === true,
  };
}
