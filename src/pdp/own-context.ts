/**
 * Tether's own context members (DESIGN.md "Policy model"): laid over the PEP's context so a PEP cannot
 * forge them. `phase` and `risk` are contract; the rest are the recommended live context. They are
 * recorded in the decision's audit event as they were, so a dry-run replays the same inputs.
 */
import type { CedarRecord, CedarValue } from './cedar-values.js';
import { toCedarValue } from './cedar-values.js';
import type { DecideInput } from './decision-types.js';

export interface OwnContext {
  readonly risk: number;
  readonly now: { readonly epoch: number; readonly hour: number; readonly weekday: number };
  readonly environment?: string | undefined;
  readonly task?: { readonly id: string; readonly purpose?: string | undefined } | undefined;
  readonly token?: { readonly scopes: readonly string[]; readonly act?: Readonly<Record<string, unknown>> | undefined } | undefined;
  readonly request?: { readonly method: string; readonly path: string; readonly source_ip?: string | undefined } | undefined;
}

/** Risk is 0–100 (contract); a provider answering anything else is clamped, NaN counts as the worst. */
export function clampRisk(r: number): number {
  if (!Number.isFinite(r)) return 100;
  return Math.min(100, Math.max(0, Math.round(r)));
}

export function ownContextOf(input: DecideInput, at: Date, risk: number, environment: string | null | undefined): OwnContext {
  const t = input.token;
  return {
    risk: clampRisk(risk),
    // UTC: policies compare hours without guessing each instance's time zone.
    now: { epoch: Math.floor(at.getTime() / 1000), hour: at.getUTCHours(), weekday: at.getUTCDay() },
    environment: environment ?? undefined,
    task: t?.task,
    token: t ? { scopes: [...t.scopes], act: t.act } : undefined,
    request: input.request ? { method: input.request.method, path: input.request.path, source_ip: input.request.source_ip } : undefined,
  };
}

/** The Cedar context: caller members, then ours on top, then `action` = action.properties. */
export function cedarContext(caller: CedarRecord, own: OwnContext, actionProps: CedarRecord): CedarRecord {
  const out = Object.create(null) as CedarRecord;
  for (const [k, v] of Object.entries(caller)) out[k] = v;
  out['phase'] = 'request';
  out['risk'] = own.risk;
  out['now'] = { epoch: own.now.epoch, hour: own.now.hour, weekday: own.now.weekday };
  if (own.environment !== undefined) out['environment'] = own.environment;
  else delete out['environment'];
  if (own.task !== undefined) out['task'] = dropUndefined({ id: own.task.id, purpose: own.task.purpose });
  else delete out['task'];
  if (own.token !== undefined) {
    const tok: Record<string, CedarValue> = { scopes: [...own.token.scopes] };
    if (own.token.act !== undefined) tok['act'] = toCedarValue(own.token.act, 'token.act');
    out['token'] = tok;
  } else delete out['token'];
  if (own.request !== undefined) out['request'] = dropUndefined({ ...own.request });
  else delete out['request'];
  out['action'] = actionProps;
  return out;
}

function dropUndefined(o: Record<string, string | undefined>): CedarRecord {
  const out = Object.create(null) as CedarRecord;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}
