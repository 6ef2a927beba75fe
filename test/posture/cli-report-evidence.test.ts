import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { canonicalJson, chainHash, GENESIS_HASH, type AuditRecord } from '../../src/audit/index.js';
import type { PostureReport } from '../../src/posture/report-types.js';
import { ADMIN_TOKEN } from '../helpers/broker.js';
import { CLI } from '../helpers/repo.js';
import { seededBroker, type SeededBroker } from './seed.js';

const run = promisify(execFile);

/** The CLI as a real process; async, so the in-process broker keeps serving meanwhile. */
async function tether(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, TETHER_ADMIN_TOKEN: ADMIN_TOKEN, TETHER_DATABASE_URL: '' }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/** What an auditor does with the bundle: recompute the chain from audit.jsonl alone. */
function reverify(lines: AuditRecord[]): string {
  let prev = GENESIS_HASH;
  for (const e of lines) {
    assert.equal(e.prev_hash, prev, `seq ${e.seq} links`);
    const body = { seq: e.seq, ts: e.ts, type: e.type, actor: e.actor, identity: e.identity, data: e.data };
    assert.equal(chainHash(prev, canonicalJson(body)), e.hash, `seq ${e.seq} hash`);
    prev = e.hash;
  }
  return prev;
}

describe('tether report and tether evidence as processes (pg)', { timeout: 60_000 }, () => {
  let s: SeededBroker;
  let dir: string;
  before(async () => {
    s = await seededBroker('pg');
    dir = await mkdtemp(join(tmpdir(), 'tether-evidence-'));
  });
  after(async () => {
    await s?.b.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('tether report --json prints the contract', async () => {
    const r = await tether(['report', '--url', s.b.url, '--json', '--window', 'P30D', '--dormant-after', 'P30D']);
    assert.equal(r.code, 0, r.stderr);
    const rep = JSON.parse(r.stdout) as PostureReport;
    assert.ok(rep.generated_at && Array.isArray(rep.identities) && Array.isArray(rep.findings) && rep.metrics);
    assert.ok(rep.findings.some((f) => f.kind === 'unused_permission' && f.identity === 'svc/wide'));
  });

  it('tether report --format html --out FILE writes the page; bad values exit 2 with the reason', async () => {
    const out = join(dir, 'r.html');
    const r = await tether(['report', '--url', s.b.url, '--format', 'html', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await readFile(out, 'utf8'), /^<!doctype html>/);
    const bad = await tether(['report', '--url', s.b.url, '--window', 'P1Y']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /400 invalid_request: .*window/);
  });

  it('tether evidence writes report, audit export (JSON Lines + OCSF) and a chain head an auditor can re-verify', async () => {
    const out = join(dir, 'bundle');
    const r = await tether(['evidence', '--url', s.b.url, '--out', out]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const head = JSON.parse(await readFile(join(out, 'chain-head.json'), 'utf8'));
    assert.equal(head.verification.ok, true);
    assert.equal(head.export.matches_head, true);
    const events = (await readFile(join(out, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    assert.equal(events.length, head.verification.head.seq);
    assert.equal(reverify(events), head.verification.head.hash);
    const ocsf = (await readFile(join(out, 'audit.ocsf.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(ocsf.length, events.length);
    assert.ok(ocsf.some((e) => e.class_uid === 3001 && e.metadata.event_code === 'identity.created'));
    assert.ok(ocsf.some((e) => e.metadata.event_code === 'decision' && e.metadata.tether_chain.hash));
    const report = JSON.parse(await readFile(join(out, 'posture.json'), 'utf8')) as PostureReport;
    assert.ok(report.findings.length > 0);
    assert.match(await readFile(join(out, 'posture.html'), 'utf8'), /<svg/);
  });

  it('tether evidence --database-url reads and verifies the store itself', async () => {
    const out = join(dir, 'direct');
    const r = await tether(['evidence', '--database-url', s.b.db.databaseUrl!, '--out', out]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const head = JSON.parse(await readFile(join(out, 'chain-head.json'), 'utf8'));
    assert.equal(head.verification.ok, true);
    assert.equal(head.export.matches_head, true);
    assert.match(head.source, /store \(pg\)/);
  });
});
