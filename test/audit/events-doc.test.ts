/** docs/audit-events.md and src/audit/events.ts name the same event types, no more, no fewer. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { AUDIT_EVENT_TYPES, dataOf, isAuditEventType } from '../../src/audit/index.js';
import { REPO_ROOT } from '../helpers/repo.js';

test('every audit event type is documented, and every documented type exists', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'audit-events.md'), 'utf8');
  const documented = new Set<string>();
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const first = line.split('|')[1]!;
    for (const m of first.matchAll(/`([a-z_.]+)`/g)) documented.add(m[1]!);
  }
  assert.deepEqual([...documented].sort(), [...AUDIT_EVENT_TYPES].sort());
});

test('dataOf narrows a stored record by its type', () => {
  const rec = { type: 'token.issued', data: { jti: 'j', grant: 'g' } as Record<string, unknown> };
  assert.equal(dataOf(rec, 'token.issued')?.jti, 'j');
  assert.equal(dataOf(rec, 'decision'), null);
  assert.ok(isAuditEventType('decision'));
  assert.ok(!isAuditEventType('decisions'));
});

test('OCSF export reads events through the typed union: a raised finding keeps its severity, a deny is a failure', async () => {
  const { toOcsf } = await import('../../src/audit/ocsf.js');
  const base = { seq: 1, ts: '2026-01-01T00:00:00.000Z', actor: 'detector', identity: 'ci/a', prev_hash: 'p', hash: 'h' };
  const finding = toOcsf({ ...base, type: 'finding.raised', data: { finding: { id: 'f1', rule: 'replay', severity: 'high' } } });
  assert.equal(finding.severity_id, 4);
  assert.equal(finding.class_uid, 2004);
  const deny = toOcsf({ ...base, type: 'decision', data: { entry: 'ext-authz', phase: 'request', decision: 'deny' } });
  assert.equal(deny.status, 'Failure');
  const allow = toOcsf({ ...base, type: 'decision', data: { entry: 'ext-authz', phase: 'request', decision: 'allow' } });
  assert.equal(allow.status, 'Success');
});
