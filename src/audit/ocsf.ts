import type { AuditRecord } from './chain.js';
import { dataOf } from './events.js';

/**
 * Maps audit events onto OCSF 1.3 classes for SIEMs. The chain fields travel in `metadata` so an
 * auditor can still tie every OCSF event back to its hashed record.
 */
const CLASSES: Array<{ match: RegExp; class_uid: number; class_name: string; activity: (t: string) => [number, string] }> = [
  { match: /^finding\./, class_uid: 2004, class_name: 'Detection Finding', activity: (t) => (t.endsWith('resolved') ? [3, 'Close'] : t.endsWith('responded') ? [2, 'Update'] : [1, 'Create']) },
  { match: /^identity\./, class_uid: 3001, class_name: 'Account Change', activity: (t) => (t.endsWith('created') || t.endsWith('discovered') ? [1, 'Create'] : t.endsWith('retired') ? [6, 'Delete'] : [99, 'Other']) },
  { match: /^token\.(issued|refused)/, class_uid: 3002, class_name: 'Authentication', activity: () => [1, 'Logon'] },
  { match: /^(decision$|(grant|revocation|token)\.)/, class_uid: 3003, class_name: 'Authorize Session', activity: (t) => (t.startsWith('decision') ? [1, 'Assign Privileges'] : [99, 'Other']) },
];

export function toOcsf(e: AuditRecord): Record<string, unknown> {
  const c = CLASSES.find((x) => x.match.test(e.type)) ?? { class_uid: 6003, class_name: 'API Activity', activity: () => [99, 'Other'] as [number, string] };
  const [activity_id, activity_name] = c.activity(e.type);
  const denied = dataOf(e, 'decision')?.decision === 'deny' || e.type.endsWith('refused') || e.type.endsWith('denied');
  // A raised finding carries its severity inside the finding (detect/finding.ts).
  const severity = dataOf(e, 'finding.raised')?.finding?.severity ?? null;
  const severity_id = ({ low: 2, medium: 3, high: 4, critical: 5 } as Record<string, number>)[severity ?? ''] ?? 1;
  return {
    class_uid: c.class_uid,
    class_name: c.class_name,
    category_uid: Math.floor(c.class_uid / 1000),
    activity_id,
    activity_name,
    type_uid: c.class_uid * 100 + activity_id,
    time: Date.parse(e.ts),
    severity_id,
    status_id: denied ? 2 : 1,
    status: denied ? 'Failure' : 'Success',
    message: e.type,
    actor: { user: { uid: e.actor ?? 'system', type: 'Service' } },
    ...(e.identity ? { user: { uid: e.identity, type: 'Service' } } : {}),
    metadata: {
      version: '1.3.0',
      product: { name: 'Tether', vendor_name: 'Tether' },
      uid: String(e.seq),
      event_code: e.type,
      extensions: [],
      original_time: e.ts,
      tether_chain: { seq: e.seq, prev_hash: e.prev_hash, hash: e.hash },
    },
    unmapped: e.data,
  };
}
