import type { AuditInput, AuditWriter } from '../audit/index.js';
import { TetherError } from '../errors.js';
import { verifySubjectToken, type IssuerConfig, type JwksCache } from '../federation/index.js';
import type { Grants } from '../grants/grants.js';
import type { Inventory } from '../inventory/identities.js';
import type { DecisionPipeline } from '../pdp/index.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../revocation/index.js';
import { mintAccessToken } from './access-token.js';
import type { DpopNonces } from './dpop-nonce.js';
import { singleDpopHeader } from './dpop-header.js';
import { verifyDpopProof } from './dpop-proof.js';
import { required } from './form.js';
import type { KeyStore } from './key-store.js';
import type { ReplayGuard } from './replay-guard.js';
import { ACCESS_TOKEN_TYPE, tokenIssuedRecord, tokenResponse } from './issued-token.js';
import { taskAttempt, taskInstance } from '../grants/task-instance.js';
import { parseTaskDetails, type TaskDetails } from './task-details.js';
import { parseScopes, parseTarget } from './exchange-params.js';
import { createDelegation, DEFAULT_DELEGATION_DEPTH } from './delegation.js';
import type { TokenCheck } from './check-access-token.js';
import type { Clock } from '../clock.js';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPES = new Set(['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token']);
/** Break-glass never outlives this, whatever the policy says: an emergency grant is short by design. */
const BREAK_GLASS_MAX_SECONDS = 900;
/** Without a policy @ttl, tokens never live longer than this. */
const DEFAULT_MAX_TTL = 900;
const DEFAULT_GRANT_TTL = 3600;

export interface ExchangeDeps {
  issuerUrl: () => string;
  tokenTtl: number;
  issuers: { list(): readonly IssuerConfig[] };
  jwks: JwksCache;
  replay: ReplayGuard;
  nonces: DpopNonces | null;
  /** The identity's status, kind and environment: served from the identity cache on the hot path. */
  inventory: {
    get(id: string): Promise<IdentityFacts | null>;
    discover(id: string, issuer: string, kind: Parameters<Inventory['discover']>[2]): Promise<IdentityFacts>;
  };
  /** The authorization kernel: one issue-phase decision per requested action, recorded with the issuance. */
  kernel: Pick<DecisionPipeline, 'decideUnrecorded'>;
  grants: Pick<Grants, 'openOrReuse'>;
  keys: Pick<KeyStore, 'ring'>;
  audit: Pick<AuditWriter, 'append'>;
  /** The issuance counter (server/metrics.ts), passed in: domain code does not import the server. */
  metrics: { issuances: { inc(labels: { outcome: string }): void } };
  clock: Clock;
  /** False while this instance may have missed cluster changes (revocations, suspensions): fail closed. */
  isCurrent?: () => boolean;
  /** Lifecycle hook (reviews): a verified claim set was seen for an identity. */
  onClaims?: (identity: string, issuer: string, claims: Record<string, unknown>) => void;
  /** The access-token check (signature, expiry, revocation) for a Tether token given as subject_token. */
  checkToken: (token: string) => Promise<TokenCheck>;
  /** Most actors a delegated token may carry (README "Delegation"); default 3. */
  delegationMaxDepth?: number;
  /** Detection feed: called once the token.issued record is durable; must not block or throw. */
  onIssued?: (facts: IssuedTokenFacts) => void;
}

/** What detection learns from an issuance (no token: only its id and binding). */
export interface IssuedTokenFacts {
  at: Date;
  identity: string;
  identityKind: string;
  environment: string | null;
  jti: string;
  grant: string;
  audience: string;
  scopes: readonly string[];
  jkt: string | null;
  sourceIp: string;
  /** The run and attempt the subject token names (issuer `task_attempt`), when configured. */
  attempt?: { run: string; attempt: number } | undefined;
}

export interface IdentityFacts {
  status: 'active' | 'suspended' | 'retired' | 'unowned';
  kind: string;
  environment: string | null;
}

export interface ExchangeRequest {
  form: Map<string, string>;
  dpop: string | undefined;
  sourceIp: string;
  /** The operator asking on the workload's behalf (a verified operator token), who may not approve. */
  requestedBy?: string | undefined;
}

/** RFC 8628 §3.5: how long a client waits between polls of a pending grant, seconds. */
export const APPROVAL_POLL_INTERVAL_SECONDS = 5;

export interface TokenResponse {
  access_token: string;
  issued_token_type: string;
  token_type: 'DPoP' | 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * The token endpoint's exchange, as a list of small steps (after node-oidc-provider's actions):
 * parse → DPoP → subject token → identity → kernel (phase issue, per action) → grant → mint → audit.
 * Every refusal is a TetherError with an OAuth code; the caller audits it.
 */
export function createExchange(deps: ExchangeDeps) {
  const delegate = createDelegation({ ...deps, maxDepth: deps.delegationMaxDepth ?? DEFAULT_DELEGATION_DEPTH, checkToken: deps.checkToken });
  /** The decision records of one exchange, written once: with token.issued, or before its refusal. */
  interface Records {
    write?: (issued?: AuditInput) => Promise<void>;
    written: boolean;
  }

  async function exchange(req: ExchangeRequest, note: (facts: Record<string, unknown>) => void): Promise<{ body: TokenResponse; nonce?: string }> {
    const records: Records = { written: false };
    try {
      return await steps(req, note, records);
    } catch (e) {
      // A refusal after the kernel decided: its decisions are recorded before the refusal is given.
      if (records.write && !records.written) await records.write();
      throw e;
    }
  }

  async function steps(req: ExchangeRequest, note: (facts: Record<string, unknown>) => void, records: Records): Promise<{ body: TokenResponse; nonce?: string }> {
    const { form } = req;
    if (deps.isCurrent && !deps.isCurrent()) {
      throw new TetherError('unavailable', 'this broker instance may have missed revocations; refusing to issue until it has caught up');
    }
    // 1. Parameters (RFC 8693 §2.1).
    const grantType = required(form, 'grant_type');
    if (grantType !== GRANT_TYPE_TOKEN_EXCHANGE) throw new TetherError('unsupported_grant_type', `grant_type must be ${GRANT_TYPE_TOKEN_EXCHANGE}`);
    const subjectToken = required(form, 'subject_token');
    const subjectTokenType = required(form, 'subject_token_type');
    const rtt = form.get('requested_token_type');
    if (rtt !== undefined && rtt !== ACCESS_TOKEN_TYPE) throw new TetherError('invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    if (form.has('client_secret') || form.has('client_assertion')) {
      throw new TetherError('invalid_request', 'no client secret exists: the subject token is the client authentication');
    }
    // A Tether access token as the subject: delegation to an actor, or downscoping (delegation.ts).
    if (subjectTokenType === ACCESS_TOKEN_TYPE) {
      const out = await delegate({ form, dpop: req.dpop, sourceIp: req.sourceIp }, note);
      deps.metrics.issuances.inc({ outcome: 'issued' });
      const facts = await deps.inventory.get(out.issued.identity);
      try {
        deps.onIssued?.({ at: deps.clock(), identity: out.issued.identity, identityKind: facts?.kind ?? 'workload', environment: facts?.environment ?? null, jti: out.issued.jti, grant: out.issued.grant, audience: out.issued.audience, scopes: out.issued.scopes, jkt: out.issued.jkt, sourceIp: req.sourceIp });
      } catch {
        /* detection is a bystander: it can never fail an issuance */
      }
      return { body: out.body, ...(deps.nonces ? { nonce: deps.nonces.issue() } : {}) };
    }
    if (!JWT_TYPES.has(subjectTokenType)) throw new TetherError('invalid_request', `subject_token_type must be urn:ietf:params:oauth:token-type:jwt (a platform token) or ${ACCESS_TOKEN_TYPE} (a Tether token to delegate or downscope)`);
    if (form.has('actor_token')) throw new TetherError('invalid_request', `actor_token acts for a Tether access token: give subject_token_type ${ACCESS_TOKEN_TYPE}`);
    const scopes = parseScopes(form.get('scope') ?? '');
    const audience = parseTarget(form);
    const task: TaskDetails = parseTaskDetails(form.get('authorization_details'));
    note({ scope: scopes, aud: audience });

    // 2. DPoP proof (RFC 9449 §4.3, §5): htu is the token endpoint as clients address it.
    const htu = `${deps.issuerUrl()}/oauth/token`;
    let jkt: string | undefined;
    const dpop = singleDpopHeader(req.dpop);
    if (dpop !== undefined) {
      const proof = await verifyDpopProof(dpop, {
        htm: 'POST',
        htu,
        replayGuard: deps.replay,
        clock: deps.clock,
        ...(deps.nonces ? { nonce: deps.nonces } : {}),
      });
      jkt = proof.jkt;
      note({ jkt });
    }

    // 3. The subject token is the client authentication.
    const verified = await verifySubjectToken(subjectToken, deps.issuers.list(), { jwks: deps.jwks, clock: deps.clock, replayGuard: deps.replay });
    const identityId = verified.identityId;
    note({ identity: identityId, issuer: verified.issuer.name });

    // 4. A workload first seen through a trusted issuer is recorded (unowned); whether it may act at
    //    all is the kernel's identity gate below (active and owned), the same as at request time.
    let identity = await deps.inventory.get(identityId);
    if (!identity) identity = await deps.inventory.discover(identityId, verified.issuer.name, 'workload');
    deps.onClaims?.(identityId, verified.issuer.name, verified.claims as Record<string, unknown>);

    // 5. Issuance is a kernel decision, once per requested action (phase `issue`), with the same
    //    identity gate, context builder, entities and obligations as request time. Default deny.
    const t = deps.clock();
    const decided = await Promise.all(
      scopes.map((action) =>
        deps.kernel.decideUnrecorded({
          entry: 'token',
          phase: 'issue',
          principal: { type: 'Identity', id: identityId },
          action: { name: action },
          resource: { type: 'Audience', id: audience },
          issuance: { issuer: verified.issuer.name, breakGlass: task.breakGlass, task: { purpose: task.purpose, ticket: task.ticket } },
          request: { method: 'POST', path: '/oauth/token', source_ip: req.sourceIp },
        }),
      ),
    );
    const decisions = decided.map((d) => d.output);
    // The decision records go to the writer in one tick with token.issued (or before the refusal),
    // so they share its group commit: one commit wait per issuance, not two. All are awaited
    // together: nothing is given out before every record is durable (fail closed, DESIGN.md flow 4).
    records.write = async (issued) => {
      records.written = true;
      const recs = await Promise.all([...decided.map((d) => deps.audit.append(d.record)), ...(issued ? [deps.audit.append(issued)] : [])]);
      note({ decisions: recs.slice(0, decided.length).map((r) => r.seq) });
      decided.forEach((d, i) => d.committed(recs[i]!.seq));
    };
    const gated = decisions.find((d) => d.stage === 'identity');
    if (gated) throw new TetherError('invalid_grant', `${gated.reasons.reason ?? `identity ${identityId} may not act`}: it needs to be active with an owner in the inventory to obtain credentials`);
    const denied = scopes.filter((_, i) => !decisions[i]!.decision);
    const allowed = decisions.filter((d) => d.decision);
    const policies = [...new Set(allowed.flatMap((d) => d.reasons.policies))];
    // A detection response may hold this identity's new grants for approval (policy cannot waive it);
    // a hold also stops reuse of a grant no human approved (grants.ts `held`).
    const held = allowed.some((d) => d.heldForApproval);
    const approval = held || allowed.some((d) => d.obligations.approval);
    const approvals = Math.max(1, ...allowed.map((d) => d.obligations.approvals ?? (d.obligations.approval ? 1 : 0)));
    if (held) note({ approval: 'required by a detection finding' });
    const breakGlassOk = allowed.every((d) => d.obligations.breakGlass);
    const bearerOk = allowed.every((d) => d.obligations.bearer);
    const ttls = allowed.map((d) => d.obligations.ttlSeconds).filter((x): x is number => x !== undefined);
    const ttlCap = ttls.length ? Math.min(...ttls) : undefined;
    note({ policies });
    if (denied.length) throw new TetherError('invalid_scope', `policy does not allow ${identityId} to obtain ${denied.join(', ')} for ${audience} now`);
    if (task.breakGlass && !breakGlassOk) throw new TetherError('access_denied', 'break-glass is not permitted by policy for these actions');
    if (jkt === undefined && !bearerOk) throw new TetherError('invalid_dpop_proof', 'a DPoP proof is required (RFC 9449): bearer tokens are issued only where policy allows them');

    // 6. Lifetimes: the configured default (≤ 15 min) unless a policy @ttl sets it; break-glass
    //    ≤ 15 min; never past the grant's end or the revocation window.
    const ceiling = Math.min(MAX_TOKEN_LIFETIME_SECONDS, task.breakGlass ? BREAK_GLASS_MAX_SECONDS : Infinity);
    const grantTtl = Math.min(task.maxTtlSeconds ?? DEFAULT_GRANT_TTL, ttlCap ?? Infinity, task.breakGlass ? BREAK_GLASS_MAX_SECONDS : Infinity);

    // 7. Grant: opened, reused, or waiting for a human.
    const outcome = await deps.grants.openOrReuse({
      identity: identityId,
      audience,
      actions: scopes,
      task: { purpose: task.purpose, ticket: task.ticket, instance: taskInstance(verified.issuer, verified.claims as Record<string, unknown>, jkt) },
      issuer: verified.issuer.name,
      ttlSeconds: grantTtl,
      approval,
      approvals,
      requestedBy: req.requestedBy,
      held,
      breakGlass: task.breakGlass ? { justification: task.justification! } : null,
    });
    if (outcome.kind === 'pending') {
      note({ grant: outcome.grant.id });
      const g = outcome.grant;
      const waiting = g.approvals_required > 1 ? ` (${g.approvals.length} of ${g.approvals_required} approvals)` : '';
      throw new TetherError('authorization_pending', `an approver must approve grant ${g.id} before a token is issued${waiting}; retry the same exchange after approval`, {
        grant_id: g.id,
        interval: APPROVAL_POLL_INTERVAL_SECONDS,
        ...(g.decide_by ? { expires_at: g.decide_by } : {}),
      });
    }
    if (outcome.kind === 'expired') {
      throw new TetherError('access_denied', `grant ${outcome.grant.id} expired: nobody decided it within its approval window`, { grant_id: outcome.grant.id, grant_state: 'expired' });
    }
    if (outcome.kind === 'denied') {
      throw new TetherError('access_denied', `grant ${outcome.grant.id} was denied by ${outcome.grant.decided_by ?? 'an approver'}: ${outcome.grant.decision_reason ?? ''}`, { grant_id: outcome.grant.id, grant_state: 'denied' });
    }
    const grant = outcome.grant;
    const remaining = Math.floor((Date.parse(grant.not_after!) - t.getTime()) / 1000);
    const ttl = Math.max(1, Math.min(ttlCap ?? Math.min(deps.tokenTtl, DEFAULT_MAX_TTL), ceiling, remaining));

    // 8. Mint, bound to the proof key, and make the record durable before the token leaves.
    const minted = await mintAccessToken(deps.keys.ring(), {
      issuer: deps.issuerUrl(),
      subject: identityId,
      audience,
      scope: scopes,
      ttlSeconds: ttl,
      ...(jkt ? { jkt } : {}),
      grantId: grant.id,
      task: { id: grant.id, ...(task.purpose ? { purpose: task.purpose } : {}), ...(task.ticket ? { ticket: task.ticket } : {}) },
      // Request time re-checks @approval against this (a policy may add it after issuance).
      ...(grant.decided_by !== null ? { approval: 'human' as const, approvals: Math.max(1, grant.approvals.length) } : grant.break_glass ? { approval: 'break_glass' as const } : {}),
      // RFC 9068 §2.2 client_id: the client is the workload the subject token authenticated; a
      // `client_id` form parameter is the caller's unverified say-so and never becomes a signed claim
      // (DESIGN.md trust model: unverified input names no one).
      ...(grant.break_glass ? { breakGlass: true } : {}),
      clock: deps.clock,
    });
    const issued = { minted, grant: grant.id, audience, scopes, jkt, ttl, issuer: verified.issuer.name, sourceIp: req.sourceIp };
    await records.write(tokenIssuedRecord(issued, { actor: identityId, identity: identityId }, { break_glass: grant.break_glass, policies: [...policies], reused_grant: outcome.reused }));
    deps.metrics.issuances.inc({ outcome: 'issued' });
    try {
      deps.onIssued?.({ at: t, identity: identityId, identityKind: identity.kind, environment: identity.environment ?? null, jti: minted.jti, grant: grant.id, audience, scopes, jkt: jkt ?? null, sourceIp: req.sourceIp, attempt: taskAttempt(verified.issuer, verified.claims as Record<string, unknown>) });
    } catch {
      /* detection is a bystander: it can never fail an issuance */
    }
    return {
      body: tokenResponse(issued),
      ...(deps.nonces ? { nonce: deps.nonces.issue() } : {}),
    };
  }

  return exchange;
}

export type Exchange = ReturnType<typeof createExchange>;
