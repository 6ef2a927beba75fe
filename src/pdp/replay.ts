/**
 * A recorded `decision` event → the input and own context that produced it, so a candidate policy set
 * can be asked the same question (policy dry-run), issuance decisions (phase `issue`) as well as
 * request-time ones. Returns null for events this version of the record cannot rebuild (an older
 * shape, a refusal decided before policy by the route rules).
 */
import { dataOf, type AuditRecord } from '../audit/index.js';
import type { DecideInput, DecisionToken } from './decision-types.js';
import type { OwnContext } from './own-context.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function replayInput(e: Pick<AuditRecord, 'type' | 'data'>): { input: DecideInput; own: OwnContext } | null {
  const d = dataOf(e, 'decision');
  if (d === null) return null;
  const phase = d['phase'] === 'issue' ? 'issue' : d['phase'] === 'request' ? 'request' : null;
  if (phase === null || !isObj(d['principal']) || !isObj(d['resource']) || typeof d['action'] !== 'string' || !isObj(d['own'])) return null;
  const entry = d['entry'] === 'ext-authz' ? 'ext-authz' : d['entry'] === 'token' ? 'token' : d['entry'] === 'mcp' ? 'mcp' : d['entry'] === 'credentials' ? 'credentials' : 'authzen';
  const ent = (o: Obj) => ({
    type: String(o['type']),
    id: String(o['id']),
    ...(isObj(o['properties']) ? { properties: o['properties'] } : {}),
    ...(Array.isArray(o['parents']) ? { parents: o['parents'].filter(isObj).map((p) => ({ type: String(p['type']), id: String(p['id']) })) } : {}),
  });
  let token: DecisionToken | undefined;
  if (Array.isArray(d['scopes'])) {
    token = {
      jti: String(d['jti'] ?? ''),
      grant: String(d['grant'] ?? ''),
      jkt: String(d['jkt'] ?? ''),
      scopes: d['scopes'].map(String),
    };
  }
  const input: DecideInput = {
    entry,
    phase,
    principal: ent(d['principal']),
    action: { name: d['action'], ...(isObj(d['action_properties']) ? { properties: d['action_properties'] } : {}) },
    resource: ent(d['resource']),
    ...(isObj(d['context']) ? { context: d['context'] } : {}),
    ...(token ? { token } : {}),
  };
  // Records from before the phase was part of the own context were all request-time decisions.
  return { input, own: { ...(d['own'] as unknown as OwnContext), phase } };
}
