/**
 * Token exchange with a Tether access token as the subject (RFC 8693 §1.1, §2.1, §4.1; README
 * "Delegation"). Two forms:
 *
 * - **Delegation**: `actor_token` is the acting workload's own federated JWT, verified like any
 *   subject token. Whether that actor may act for the subject is one kernel decision (principal the
 *   actor, `Action::"act_for"`, resource the subject's `Identity`). The new token keeps `sub` = the
 *   subject, and `act` = the actor with the subject token's own `act` nested inside (never from request
 *   input), up to a depth limit.
 * - **Downscoping** (no actor): the holder hands on less than it holds; `act` is kept as it is, so a
 *   re-exchange cannot drop the chain.
 *
 * Either way: scopes ⊆ the subject token's, audience among its audiences, expiry no later than its
 * own, and a child grant linked to the subject token's grant, so ending that grant ends every
 * descendant (revocation/revoke.ts). A DPoP-bound subject token needs proof of its key: the request's
 * own `DPoP` proof when there is no actor (the new token stays bound to that key), or, when an actor
 * makes the request with its own key, a `subject_token_dpop` proof the subject's holder signed for this
 * endpoint (`ath` = the subject token's hash), which says the holder consents to hand it on.
 */
import type { AuditInput, AuditWriter } from '../audit/index.js';
import type { Clock } from '../clock.js';
import { TetherError } from '../errors.js';
import { verifySubjectToken, type IssuerConfig, type JwksCache } from '../federation/index.js';
import type { Grants } from '../grants/grants.js';
import type { DecisionPipeline } from '../pdp/index.js';
import { mintAccessToken, type AccessTokenClaims, type Actor } from './access-token.js';
import type { TokenCheck } from './check-access-token.js';
import type { DpopNonces } from './dpop-nonce.js';
import { singleDpopHeader } from './dpop-header.js';
import { verifyDpopProof } from './dpop-proof.js';
import { parseScopes } from './exchange-params.js';
import { tokenIssuedRecord, tokenResponse } from './issued-token.js';
import type { KeyStore } from './key-store.js';
import type { ReplayGuard } from './replay-guard.js';

const JWT_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);
/** Default limit on nested actors (`act` depth), README "Delegation". */
export const DEFAULT_DELEGATION_DEPTH = 3;

export interface DelegationDeps {
  issuerUrl: () => string;
  tokenTtl: number;
  maxDepth: number;
  checkToken: (token: string) => Promise<TokenCheck>;
  issuers: { list(): readonly IssuerConfig[] };
  jwks: JwksCache;
  replay: ReplayGuard;
  nonces: DpopNonces | null;
  inventory: { get(id: string): Promise<{ status: string; kind: string; environment: string | null } | null> };
  kernel: Pick<DecisionPipeline, 'decideUnrecorded'>;
  grants: Pick<Grants, 'openOrReuse'>;
  keys: Pick<KeyStore, 'ring'>;
  audit: Pick<AuditWriter, 'append'>;
  clock: Clock;
}

export interface DelegationRequest {
  form: Map<string, string>;
  dpop: string | undefined;
  sourceIp: string;
}

export interface DelegatedToken {
  body: { access_token: string; issued_token_type: string; token_type: 'DPoP' | 'Bearer'; expires_in: number; scope: string };
  issued: { identity: string; jti: string; grant: string; audience: string; scopes: readonly string[]; jkt: string | null };
}

const depthOf = (a: Actor | undefined): number => (a === undefined ? 0 : 1 + depthOf(a.act));
const audiencesOf = (c: AccessTokenClaims) => (Array.isArray(c.aud) ? c.aud : [c.aud]);

export function createDelegation(deps: DelegationDeps) {
  return async function delegate(req: DelegationRequest, note: (facts: Record<string, unknown>) => void): Promise<DelegatedToken> {
    const { form } = req;
    const htu = `${deps.issuerUrl()}/oauth/token`;
    if (form.has('authorization_details')) throw new TetherError('invalid_request', 'a delegated token keeps its subject token\'s task: authorization_details is not accepted here');

    // The subject: one of our access tokens, live (signature, expiry, revocation: check-access-token.ts).
    const checked = await deps.checkToken(form.get('subject_token')!);
    if (!checked.ok) {
      if (checked.refusal.failClosed) throw checked.refusal;
      throw new TetherError('invalid_grant', `subject_token: ${checked.refusal.message}`);
    }
    const s = checked.claims;
    note({ identity: s.sub, subject_jti: s.jti, subject_grant: s.grant });

    // The key the new token is bound to: the request's own proof (RFC 9449 §5).
    const dpop = singleDpopHeader(req.dpop);
    const proof = dpop === undefined ? undefined : await verifyDpopProof(dpop, { htm: 'POST', htu, replayGuard: deps.replay, clock: deps.clock, ...(deps.nonces ? { nonce: deps.nonces } : {}) });
    const jkt = proof?.jkt;

    // The actor, if any: a workload authenticated by its own platform token.
    const actorToken = form.get('actor_token');
    let actor: { id: string; issuer: IssuerConfig } | undefined;
    if (actorToken !== undefined) {
      const att = form.get('actor_token_type');
      if (att === undefined || !JWT_TYPES.has(att)) throw new TetherError('invalid_request', 'actor_token_type must be urn:ietf:params:oauth:token-type:jwt (the actor\'s own platform token)');
      const v = await verifySubjectToken(actorToken, deps.issuers.list(), { jwks: deps.jwks, clock: deps.clock, replayGuard: deps.replay });
      actor = { id: v.identityId, issuer: v.issuer };
      if (actor.id === s.sub) throw new TetherError('invalid_request', 'an identity does not act for itself: exchange without actor_token to downscope');
      note({ actor: actor.id });
    } else if (form.has('actor_token_type')) {
      throw new TetherError('invalid_request', 'actor_token_type without actor_token');
    }

    // Possession of a DPoP-bound subject token (RFC 9449 §7: a copy of the string proves nothing).
    if (s.cnf) {
      if (actor === undefined) {
        if (jkt !== s.cnf.jkt) throw new TetherError('invalid_dpop_proof', 'downscoping a DPoP-bound token needs a DPoP proof by its key');
      } else {
        const consent = form.get('subject_token_dpop');
        if (consent === undefined) throw new TetherError('invalid_dpop_proof', 'a DPoP-bound subject_token needs subject_token_dpop: a proof by its key for this endpoint, with ath');
        await verifyDpopProof(consent, { htm: 'POST', htu, accessToken: form.get('subject_token')!, expectedJkt: s.cnf.jkt, replayGuard: deps.replay, clock: deps.clock });
      }
    }
    // Same binding rules: only an unbound (bearer) subject may yield an unbound token.
    if (jkt === undefined && s.cnf) throw new TetherError('invalid_dpop_proof', 'a DPoP proof is required (RFC 9449): the subject token is DPoP-bound');

    // Less, never more: scopes, audience, lifetime.
    const held = s.scope.split(' ');
    const scopes = form.has('scope') ? parseScopes(form.get('scope')!) : held;
    const extra = scopes.filter((x) => !held.includes(x));
    if (extra.length) throw new TetherError('invalid_scope', `the subject token does not hold ${extra.join(', ')}: a delegated token holds at most what its subject holds`);
    const auds = audiencesOf(s);
    const audience = form.get('audience') ?? form.get('resource') ?? auds[0]!;
    if (!auds.includes(audience)) throw new TetherError('invalid_target', `the subject token is not for ${JSON.stringify(audience.slice(0, 128))}`);

    const act: Actor | undefined = actor ? { sub: actor.id, ...(s.act ? { act: s.act } : {}) } : s.act;
    const depth = depthOf(act);
    // Levels: the original token is the first, each actor adds one (README "Delegation").
    if (depth + 1 > deps.maxDepth) throw new TetherError('invalid_request', `delegation depth limit reached (${deps.maxDepth} levels): this token cannot be delegated further`);

    // Whether the actor may act for the subject is policy: one issue-phase kernel decision.
    let record: { record: AuditInput; committed: (seq: number) => void } | undefined;
    const writeRecords = async (issued?: AuditInput) => {
      const recs = await Promise.all([...(record ? [deps.audit.append(record.record)] : []), ...(issued ? [deps.audit.append(issued)] : [])]);
      if (record) record.committed(recs[0]!.seq);
      record = undefined;
    };
    try {
      if (actor) {
        const d = await deps.kernel.decideUnrecorded({
          entry: 'token',
          phase: 'issue',
          principal: { type: 'Identity', id: actor.id },
          action: { name: 'act_for' },
          resource: { type: 'Identity', id: s.sub },
          issuance: { issuer: actor.issuer.name, breakGlass: false, task: { purpose: s.task?.purpose, ticket: s.task?.ticket } },
          request: { method: 'POST', path: '/oauth/token', source_ip: req.sourceIp },
        });
        record = d;
        if (!d.output.decision) throw new TetherError('access_denied', `policy does not allow ${actor.id} to act for ${s.sub}${d.output.reasons.reason ? `: ${d.output.reasons.reason}` : ''}`);
      }

      const now = deps.clock().getTime();
      const remaining = s.exp - Math.floor(now / 1000);
      if (remaining < 1) throw new TetherError('invalid_grant', 'the subject token has expired');
      const grantOut = await deps.grants.openOrReuse({
        identity: s.sub,
        audience,
        actions: scopes,
        // One child grant per parent, actor and key: siblings never share (README "Grants per task instance").
        // The subject's jti is part of it, so revoking that one token (kind `jti`) also ends what was
        // derived from it (revocation/revoke.ts reads it back: `delegation:<grant>:<jti>:…`).
        task: { purpose: s.task?.purpose, ticket: s.task?.ticket, instance: `delegation:${s.grant}:${s.jti}:${actor?.id ?? '-'}:${jkt ?? 'bearer'}` },
        issuer: actor?.issuer.name ?? 'delegation',
        ttlSeconds: remaining,
        approval: false,
        breakGlass: null,
        parent: s.grant,
        ...(actor ? { actor: actor.id } : {}),
      });
      if (grantOut.kind !== 'active') throw new TetherError('access_denied', `the delegated grant is ${grantOut.kind}`);
      const grant = grantOut.grant;
      const grantLeft = Math.floor((Date.parse(grant.not_after!) - now) / 1000);
      const ttl = Math.max(1, Math.min(deps.tokenTtl, remaining, grantLeft));

      const minted = await mintAccessToken(deps.keys.ring(), {
        issuer: deps.issuerUrl(),
        subject: s.sub,
        audience,
        scope: scopes,
        ttlSeconds: ttl,
        ...(jkt ? { jkt } : {}),
        grantId: grant.id,
        task: { id: grant.id, ...(s.task?.purpose ? { purpose: s.task.purpose } : {}), ...(s.task?.ticket ? { ticket: s.task.ticket } : {}) },
        ...(act ? { act } : {}),
        // The approval that let the subject's grant exist covers what is handed on from it.
        ...(s.approval ? { approval: s.approval, ...(s.approvals ? { approvals: s.approvals } : {}) } : {}),
        ...(s.break_glass ? { breakGlass: true } : {}),
        clientId: actor?.id ?? s.client_id,
        clock: deps.clock,
      });
      const issued = { minted, grant: grant.id, audience, scopes, jkt, ttl, issuer: actor?.issuer.name ?? 'delegation', sourceIp: req.sourceIp };
      await writeRecords(
        tokenIssuedRecord(issued, { actor: actor?.id ?? s.sub, identity: s.sub }, { delegated_from: { jti: s.jti, grant: s.grant }, ...(act ? { act: act as unknown as Record<string, unknown> } : {}) }),
      );
      return {
        body: tokenResponse(issued),
        issued: { identity: s.sub, jti: minted.jti, grant: grant.id, audience, scopes, jkt: jkt ?? null },
      };
    } finally {
      // A refusal after the kernel decided: its record is written before the refusal is given.
      if (record) await writeRecords();
    }
  };
}

