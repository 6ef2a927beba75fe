/**
 * Tether's own context members (DESIGN.md "Policy model"): the one context builder of the kernel, for
 * both phases. Every member is always set by Tether, with a fixed value when it does not apply (empty
 * string, false, empty set), so a PEP can never supply one and a policy never needs `has` to read one.
 * `phase` and `risk` are contract; the rest are the recommended live context. They are recorded in the
 * decision's audit event as they were, so a dry-run replays the same inputs.
 */
import type { CedarRecord, CedarValue } from './cedar-values.js';
import { toCedarValue } from './cedar-values.js';
import type { DecideInput, DecisionPhase } from './decision-types.js';

export interface OwnTask {
  readonly id: string;
  readonly purpose?: string | undefined;
  readonly ticket?: string | undefined;
}

export interface OwnContext {
  /** Absent in records written before issuance went through the kernel: read as `request`. */
  readonly phase?: DecisionPhase | undefined;
  readonly risk: number;
  readonly now: { readonly epoch: number; readonly hour: number; readonly weekday: number };
  readonly environment?: string | undefined;
  readonly task?: OwnTask | undefined;
  readonly break_glass?: boolean | undefined;
  /** Name of the trusted issuer that vouched for the workload (federation). */
  readonly issuer?: string | undefined;
  readonly token?: { readonly scopes: readonly string[]; readonly act?: Readonly<Record<string, unknown>> | undefined } | undefined;
  readonly request?: { readonly method: string; readonly path: string; readonly source_ip?: string | undefined } | undefined;
}

/** Risk is 0–100 (contract); a provider answering anything else is clamped, NaN counts as the worst. */
export function clampRisk(r: number): number {
  if (!Number.isFinite(r)) return 100;
  return Math.min(100, Math.max(0, Math.round(r)));
}

export function nowOf(at: Date): OwnContext['now'] {
  // UTC: policies compare hours without guessing each instance's time zone.
  return { epoch: Math.floor(at.getTime() / 1000), hour: at.getUTCHours(), weekday: at.getUTCDay() };
}

/**
 * The own context of a live decision. Issuance facts (task, break-glass, issuer) come from the
 * verified token-exchange request; at request time from the verified access token; never from the
 * PEP's `context`.
 */
export function ownContextOf(input: DecideInput, at: Date, risk: number, environment: string | null | undefined): OwnContext {
  const t = input.token;
  const iss = input.issuance;
  return {
    phase: input.phase ?? 'request',
    risk: clampRisk(risk),
    now: nowOf(at),
    environment: environment ?? undefined,
    task: iss ? { id: '', purpose: iss.task.purpose, ticket: iss.task.ticket } : t?.task,
    break_glass: iss ? iss.breakGlass : (t?.break_glass ?? false),
    issuer: iss ? iss.issuer : t?.issuer,
    token: t ? { scopes: [...t.scopes], act: t.act } : undefined,
    request: input.request ? { method: input.request.method, path: input.request.path, source_ip: input.request.source_ip } : undefined,
  };
}

/**
 * The neutral own context for analysis (posture's blast radius): risk 0, the given time, the
 * identity's environment, no task, no break-glass, no request. What an identity reaches on an
 * ordinary day, not on its worst one.
 */
export function neutralOwnContext(phase: DecisionPhase, at: Date, environment: string | null | undefined): OwnContext {
  return { phase, risk: 0, now: nowOf(at), environment: environment ?? undefined, break_glass: false };
}

/** The Cedar context: caller members, then every one of ours on top, then `action` = action.properties. */
export function cedarContext(caller: CedarRecord, own: OwnContext, actionProps: CedarRecord): CedarRecord {
  const out = Object.create(null) as CedarRecord;
  for (const [k, v] of Object.entries(caller)) out[k] = v;
  out['phase'] = own.phase ?? 'request';
  out['risk'] = clampRisk(own.risk);
  out['now'] = { epoch: own.now.epoch, hour: own.now.hour, weekday: own.now.weekday };
  out['environment'] = own.environment ?? '';
  out['task'] = { id: own.task?.id ?? '', purpose: own.task?.purpose ?? '', ticket: own.task?.ticket ?? '' };
  out['break_glass'] = own.break_glass === true;
  out['issuer'] = own.issuer ?? '';
  const tok: Record<string, CedarValue> = { scopes: [...(own.token?.scopes ?? [])] };
  if (own.token?.act !== undefined) tok['act'] = toCedarValue(own.token.act, 'token.act');
  // The delegation chain as a list, nearest actor first (RFC 8693 §4.1: the outermost `act` is the
  // current actor): `context.token.actors.contains("agent/researcher")`.
  const actors: string[] = [];
  for (let a: unknown = own.token?.act; actors.length < 16 && a !== null && typeof a === 'object'; a = (a as { act?: unknown }).act) {
    const sub = (a as { sub?: unknown }).sub;
    if (typeof sub === 'string') actors.push(sub);
  }
  tok['actors'] = actors;
  out['token'] = tok;
  out['request'] = { method: own.request?.method ?? '', path: own.request?.path ?? '', source_ip: own.request?.source_ip ?? '' };
  out['action'] = actionProps;
  return out;
}
