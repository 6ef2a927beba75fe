import type { DecideInput, DecideOutput, DecisionPipeline, DecisionToken } from '../pdp/index.js';
import { deferredClaimRefusal, type VerifiedAccess } from './check-resource-request.js';
import type { TokenRefusal } from './token-refusal.js';

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

/**
 * The kernel's request-time decision on a request whose credential the resource-server check
 * verified: the token's facts as {@link decisionTokenOf} gives them, and the proof's single-use claim
 * the check deferred made with the decision record (RFC 9449 §11.1, audit/claims.ts). A claim found
 * taken there is the replay refusal the check itself would have given, for the caller's one refusal
 * path; anything else the kernel throws is rethrown.
 */
export async function decideForAccess(
  pipeline: Pick<DecisionPipeline, 'decide'>,
  input: Omit<DecideInput, 'token'>,
  access: VerifiedAccess,
): Promise<{ ok: true; out: DecideOutput } | { ok: false; refusal: TokenRefusal }> {
  try {
    const out = await pipeline.decide({ ...input, token: decisionTokenOf(access) }, access.pendingClaim ? { claims: [access.pendingClaim] } : undefined);
    return { ok: true, out };
  } catch (e) {
    const refusal = deferredClaimRefusal(e, access);
    if (refusal) return { ok: false, refusal };
    throw e;
  }
}
