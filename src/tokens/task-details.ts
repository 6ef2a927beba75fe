import { TetherError } from '../errors.js';

/** RFC 9396 authorization_details of type `tether_task`: what the credential is for. */
export interface TaskDetails {
  purpose?: string;
  ticket?: string;
  maxTtlSeconds?: number;
  breakGlass: boolean;
  justification?: string;
}

const DURATION = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?$/;

function seconds(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string') {
    const m = DURATION.exec(v);
    if (m && (m[1] || m[2] || m[3])) return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  }
  throw new TetherError('invalid_request', 'authorization_details: max_ttl must be a positive number of seconds or an ISO 8601 duration like PT10M');
}

const str = (v: unknown, name: string, max: number): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new TetherError('invalid_request', `authorization_details: ${name} must be a string of 1..${max} characters`);
  return v;
};

export function parseTaskDetails(raw: string | undefined): TaskDetails {
  if (raw === undefined) return { breakGlass: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new TetherError('invalid_request', 'authorization_details is not valid JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || parsed.length > 4) throw new TetherError('invalid_request', 'authorization_details must be a JSON array of 1..4 objects (RFC 9396 §2)');
  const tasks = parsed.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d));
  if (tasks.length !== parsed.length) throw new TetherError('invalid_request', 'authorization_details entries must be objects');
  const unknown = tasks.find((d) => d.type !== 'tether_task');
  if (unknown) throw new TetherError('invalid_request', `authorization_details type ${JSON.stringify(String(unknown.type).slice(0, 64))} is not supported (only "tether_task")`);
  if (tasks.length > 1) throw new TetherError('invalid_request', 'only one tether_task may be given');
  const d = tasks[0]!;
  const allowed = new Set(['type', 'purpose', 'ticket', 'max_ttl', 'break_glass', 'justification', 'locations', 'actions']);
  const extra = Object.keys(d).find((k) => !allowed.has(k));
  if (extra) throw new TetherError('invalid_request', `authorization_details: unknown member ${JSON.stringify(extra.slice(0, 64))}`);
  const out: TaskDetails = { breakGlass: false };
  if (d.purpose !== undefined) out.purpose = str(d.purpose, 'purpose', 256);
  if (d.ticket !== undefined) out.ticket = str(d.ticket, 'ticket', 128);
  if (d.max_ttl !== undefined) out.maxTtlSeconds = seconds(d.max_ttl);
  if (d.break_glass !== undefined) {
    if (typeof d.break_glass !== 'boolean') throw new TetherError('invalid_request', 'authorization_details: break_glass must be a boolean');
    out.breakGlass = d.break_glass;
  }
  if (d.justification !== undefined) out.justification = str(d.justification, 'justification', 1024);
  if (out.breakGlass && (!out.justification || out.justification.trim().length < 10)) {
    throw new TetherError('invalid_request', 'break-glass requires a justification of at least 10 characters');
  }
  return out;
}
