/**
 * The broker's streams, turned into detection events: committed decisions, credentials refused at the
 * gateway, token issuances, and (for learning at start) their audit records. Pure mapping: every
 * lookup it needs (route rules, what this instance knows about a token) is passed in, so it stays
 * cheap enough to run for every decision.
 */
import { dataOf, type AuditRecord } from '../audit/index.js';
import type { DecisionEvent } from '../pdp/index.js';
import type { CredentialRefusal } from '../routes/index.js';
import type { IssuedTokenFacts } from '../tokens/exchange.js';
import type { DetectionEvent, IdentityKind } from './events.js';

const KINDS: ReadonlySet<string> = new Set(['service_account', 'ci_job', 'workload', 'ai_agent', 'api_client']);
const kindOf = (k: string | null | undefined): IdentityKind | undefined => (k && KINDS.has(k) ? (k as IdentityKind) : undefined);

/** What this instance remembers about a token it issued or saw used (keyed by `jti`). */
export interface KnownToken {
  grant: string;
  scopes: readonly string[];
  jkt?: string | undefined;
}

/**
 * Refusals that mean "the task this token belonged to is over": the holder (or someone holding a copy)
 * still uses it. Expiry is left out on purpose: clients racing their token's `exp` are common and benign.
 * A baseline signal (evidence-grade.ts): it alerts, it never contains anything by itself.
 */
const TASK_OVER = /no longer valid: (token|grant) revoked/;
/**
 * Whether a refused credential names its identity as a fact. The resource-server check attaches
 * identity, jti and grant only once the token's signature verified with our own keys
 * (tokens/check-resource-request.ts), so their presence is the proof; `token_invalid` and the
 * malformed/missing cases never carry them. Anything else, a garbage signature with a victim's `sub`
 * included, is anonymous: it feeds nothing identity-scoped (DESIGN.md trust model).
 */
export function refusalVerified(r: Pick<CredentialRefusal, 'identity' | 'code'>): boolean {
  return r.identity !== undefined && r.code !== 'token_invalid' && r.code !== 'authorization_malformed' && r.code !== 'credential_missing';
}

export function resourceKey(type: string, id: string): string {
  return `${type}::${id}`;
}

/**
 * A committed decision; undefined unless the principal is a verified fact. Only a decision made on a
 * verified access token (ext-authz, after signature and DPoP checks) names its identity as a fact: an
 * AuthZEN caller names whatever subject it likes (the PEP authenticated it, not Tether), so its
 * decisions raise no identity's risk and trigger no response (DESIGN.md trust model).
 */
export function fromDecision(e: DecisionEvent): DetectionEvent | undefined {
  const p = e.input.principal;
  const t = e.input.token;
  if (e.input.entry === 'token' && e.input.phase === 'issue' && p.type === 'Identity') return fromIssueDecision(e);
  if (p.type !== 'Identity' || !t) return undefined;
  const ev: DetectionEvent = {
    kind: 'request',
    at: e.at.getTime(),
    identity: p.id,
    allowed: e.output.decision,
    action: e.input.action.name,
    resource: resourceKey(e.input.resource.type, e.input.resource.id),
  };
  const kind = kindOf(e.identity?.kind);
  if (kind) ev.identityKind = kind;
  ev.grantId = t.grant;
  ev.jti = t.jti;
  if (t.jkt) ev.issuedJkt = t.jkt;
  if (t.presented_jkt) ev.presentedJkt = t.presented_jkt;
  ev.taskId = t.task?.id ?? t.grant;
  ev.taskActions = t.scopes;
  if (e.input.request?.source_ip) ev.sourceIp = e.input.request.source_ip;
  if (e.own.environment !== undefined) ev.environment = e.own.environment;
  if (e.output.reasons.reason !== undefined) ev.reason = e.output.reasons.reason;
  return ev;
}

/**
 * A token-endpoint decision. The exchange asks the kernel only after the subject token verified
 * (tokens/exchange.ts), so its principal is a verified fact. Issuances themselves arrive with their
 * token (fromIssuance); what detection would miss otherwise is fed from here: refusals (a policy
 * refusal counts toward enumeration like one at the gateway), approvals requested and break-glass.
 */
function fromIssueDecision(e: DecisionEvent): DetectionEvent | undefined {
  const allowed = e.output.decision;
  const approval = allowed && (e.output.heldForApproval || e.output.obligations.approval);
  const breakGlass = e.input.issuance?.breakGlass === true;
  if (allowed && !approval && !breakGlass) return undefined;
  const ev: DetectionEvent = {
    kind: 'issue',
    at: e.at.getTime(),
    identity: e.input.principal.id,
    allowed,
    action: e.input.action.name,
    resource: e.input.resource.id,
    reason: !allowed ? (e.output.reasons.reason ?? 'refused by policy at the token endpoint') : breakGlass ? 'break-glass requested' : 'approval requested',
  };
  if (!allowed && e.output.stage !== 'policy') ev.credentialStage = true; // an identity gate, not probing
  const kind = kindOf(e.identity?.kind);
  if (kind) ev.identityKind = kind;
  if (e.input.request?.source_ip) ev.sourceIp = e.input.request.source_ip;
  if (e.own.environment !== undefined) ev.environment = e.own.environment;
  return ev;
}

export interface RefusalContext {
  /** The route rule's action and resource for the refused request, when a rule matches. */
  target(route: string, method: string, path: string): { action: string; resource: string } | undefined;
  token(jti: string): KnownToken | undefined;
  kind(identity: string): IdentityKind | undefined;
  environment(identity: string): string | undefined;
  /** True when detection itself revoked this grant or token: its later use says nothing new. */
  revokedByDetection(grant: string | undefined, jti: string | undefined): boolean;
}

/**
 * A credential refused at the gateway (ext-authz 401). A token presented with another key than its
 * `cnf.jkt` arrives here with both thumbprints (replay); a revoked token's use marks `taskEnded`.
 */
export function fromRefusal(r: CredentialRefusal, ctx: RefusalContext): DetectionEvent | undefined {
  if (!r.identity || !refusalVerified(r)) return undefined; // anonymous: nobody to attribute it to
  const known = r.jti ? ctx.token(r.jti) : undefined;
  const grant = r.grant ?? known?.grant;
  const target = ctx.target(r.route, r.method, r.path);
  const ev: DetectionEvent = {
    kind: 'request',
    at: r.at.getTime(),
    identity: r.identity,
    allowed: false,
    action: target?.action ?? `${r.method} ${r.path}`.slice(0, 128),
    resource: target?.resource ?? resourceKey('Route', r.route),
    sourceIp: r.sourceIp,
    reason: r.reason,
    credentialStage: true,
  };
  const kind = ctx.kind(r.identity);
  if (kind) ev.identityKind = kind;
  const env = ctx.environment(r.identity);
  if (env !== undefined) ev.environment = env;
  if (grant) {
    ev.grantId = grant;
    ev.taskId = grant;
  }
  if (r.jti) ev.jti = r.jti;
  const jkt = r.jkt ?? known?.jkt;
  if (jkt) ev.issuedJkt = jkt;
  if (r.presentedJkt) ev.presentedJkt = r.presentedJkt;
  if (known) ev.taskActions = known.scopes;
  if (TASK_OVER.test(r.reason) && !ctx.revokedByDetection(grant, r.jti)) ev.taskEnded = true;
  return ev;
}

/**
 * One issuance, as one `issue` event per granted action (the audience is the resource), with the
 * address the token endpoint saw (socket or trusted proxy): the token's first sighting. Workloads
 * may reach the gateway by another path (NAT, mesh); the rules allow for that (rules/replay.ts).
 */
export function fromIssuance(f: Pick<IssuedTokenFacts, 'at' | 'identity' | 'identityKind' | 'environment' | 'jti' | 'grant' | 'audience' | 'scopes' | 'jkt'> & { sourceIp?: string | undefined; attempt?: IssuedTokenFacts['attempt'] }): DetectionEvent[] {
  const kind = kindOf(f.identityKind);
  return f.scopes.map((action) => {
    const ev: DetectionEvent = {
      kind: 'issue',
      at: f.at.getTime(),
      identity: f.identity,
      allowed: true,
      action,
      resource: f.audience,
      grantId: f.grant,
      jti: f.jti,
      taskId: f.grant,
      taskActions: f.scopes,
    };
    if (kind) ev.identityKind = kind;
    if (f.jkt) ev.issuedJkt = f.jkt;
    if (f.environment) ev.environment = f.environment;
    if (f.sourceIp) ev.sourceIp = f.sourceIp;
    if (f.attempt) {
      ev.run = f.attempt.run;
      ev.attempt = f.attempt.attempt;
    }
    return ev;
  });
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const strings = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);

/**
 * An audited `decision` or `token.issued` record, for learning at start (docs/audit-events.md).
 * Credential-stage refusals carry no action and are skipped: a refused credential teaches nothing
 * about how the identity behaves.
 */
export function fromAuditRecord(rec: AuditRecord, info: { kind(id: string): IdentityKind | undefined; environment(id: string): string | undefined }): DetectionEvent[] {
  const at = Date.parse(rec.ts);
  if (!Number.isFinite(at)) return [];
  const issued = dataOf(rec, 'token.issued');
  if (issued) {
    const identity = rec.identity ?? undefined;
    const jti = str(issued.jti);
    const grant = str(issued.grant);
    const aud = str(issued.aud);
    const scopes = strings(issued.scope);
    if (!identity || !jti || !grant || !aud || !scopes) return [];
    return fromIssuance({ at: new Date(at), identity, identityKind: info.kind(identity) ?? '', environment: info.environment(identity) ?? null, jti, grant, audience: aud, scopes, jkt: str(issued.jkt) ?? null, sourceIp: str(issued.source_ip) });
  }
  // Request-time kernel decisions only: issuance is learned from token.issued, and the gateway's own
  // route-stage refusals are not decisions on a resource.
  const d = dataOf(rec, 'decision');
  if (!d || d.phase === 'issue' || d.stage === 'route') return [];
  const { principal, resource } = d;
  const identity = principal?.type === 'Identity' ? str(principal.id) : undefined;
  const action = str(d.action);
  // As for live decisions: only those made on a verified access token (they carry its jti and grant).
  const jti = str(d.jti);
  const grant = str(d.grant);
  if (!jti || !grant) return [];
  if (!identity || !action || typeof resource?.type !== 'string' || typeof resource.id !== 'string') return [];
  const ev: DetectionEvent = { kind: 'request', at, identity, allowed: d.decision === 'allow', action, resource: resourceKey(resource.type, resource.id) };
  const kind = info.kind(identity);
  if (kind) ev.identityKind = kind;
  ev.grantId = grant;
  ev.jti = jti;
  const jkt = str(d.jkt);
  if (jkt) ev.issuedJkt = jkt;
  const pjkt = str(d.presented_jkt);
  if (pjkt) ev.presentedJkt = pjkt;
  const ip = str(d.source_ip);
  if (ip) ev.sourceIp = ip;
  const env = str(d.own?.environment);
  if (env) ev.environment = env;
  ev.taskId = str(d.task?.id) ?? grant;
  const scopes = strings(d.scopes);
  if (scopes) ev.taskActions = scopes;
  return [ev];
}
