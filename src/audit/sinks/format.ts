import type { AuditRecord } from '../chain.js';
import { toOcsf } from '../ocsf.js';

export type ExportFormat = 'jsonl' | 'ocsf';

/** One event as one JSON text: the stored record (hash-chained, re-verifiable) or its OCSF mapping. */
export function formatEvent(e: AuditRecord, format: ExportFormat): string {
  return JSON.stringify(format === 'ocsf' ? toOcsf(e) : e);
}
