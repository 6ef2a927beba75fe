/**
 * The scenario simulator end to end: a real broker (in this process, PGlite) and the real CLI
 * (`tether simulate --json`, a child process, over HTTP only). Every rule fires on its attack, none
 * on the benign traffic; the replay's grant dies within a second.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RULE_IDS } from '../../src/detect/index.js';
import type { SimulationReport } from '../../src/simulate/index.js';
import { ADMIN_TOKEN, startBroker, type RunningBroker } from '../helpers/broker.js';
import { runCliAsync } from '../helpers/process.js';
import { optInConfig } from '../detect/fixture.js';

describe('tether simulate --json against a fresh broker', () => {
  let b: RunningBroker;
  let report: SimulationReport;

  before(async () => {
    // The escalation scenario's identity is an AI agent, opted in to identity-wide responses.
    b = await startBroker('pglite', { detectionConfig: optInConfig(['ai_agent']) });
  });
  after(async () => {
    await b?.stop();
  });

  test('prints one JSON object with scenarios and totals', async () => {
    // Fifteen scenarios with replicas and shards: over a minute on a loaded CI machine.
    const r = await runCliAsync(['simulate', '--url', b.url, '--json'], { TETHER_ADMIN_TOKEN: ADMIN_TOKEN }, 240_000);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'exactly one line of JSON on stdout');
    report = JSON.parse(lines[0]!) as SimulationReport;
    assert.deepEqual(Object.keys(report).sort(), ['containment', 'false_positives', 'harm', 'precision', 'recall', 'scenarios']);
    for (const s of report.scenarios) {
      process.stdout.write(
        `# ${s.name.padEnd(15)} ${s.kind.padEnd(6)} ${String(s.rule ?? '-').padEnd(11)} detected=${s.detected} finding=${s.time_to_finding_ms ?? '-'}ms revoked=${s.time_to_revocation_ms ?? '-'}ms findings=${s.findings.map((f) => f.rule).join(',')}\n`,
      );
    }
    process.stdout.write(`# precision ${report.precision} recall ${report.recall} false_positives ${report.false_positives} harm ${JSON.stringify(report.harm)}\n`);
  });

  test('each rule fires on its attack; benign traffic raises nothing', () => {
    const attacks = report.scenarios.filter((s) => s.kind === 'attack');
    assert.deepEqual([...new Set(attacks.map((s) => s.rule))].sort(), [...RULE_IDS].sort(), 'every rule has an attack');
    for (const s of attacks) {
      assert.equal(s.detected, true, `${s.name}: ${JSON.stringify(s)}`);
      assert.ok(s.time_to_finding_ms !== null && s.time_to_finding_ms < 5000, s.name);
      assert.deepEqual(s.unexpected, [], `${s.name} raised only its own rule`);
      assert.deepEqual(s.surprises, [], `${s.name}: ${s.surprises.join('; ')}`);
    }
    const benign = report.scenarios.filter((s) => s.kind === 'benign');
    // The four steady workloads, plus a 6-replica Deployment on 6 networks rolling over with RFC 7009
    // revocations, a CI matrix of 8 shards of which an operator revokes one token, a CI job behind a
    // NAT with two addresses, and replicas refreshing together after expiry and retrying; then the
    // benign look-alikes of the contained attacks and a long-running service renewing its token.
    assert.deepEqual(benign.map((s) => s.name), [
      'ci-deploy', 'batch-export', 'orders-service', 'support-agent', 'deployment-rollout', 'ci-matrix-revoke', 'nat-ci-cluster', 'expiry-retry',
      'rescheduled-job', 'new-node-replica', 'nightly-batch-more', 'monthly-reporter', 'renewing-service',
    ]);
    for (const s of benign) {
      // Only a look-alike's designed alert (one weak signal: off_hours for a job moved to a new hour on
      // its own network), as an alert; everything else raises nothing.
      const alerts = s.expected_alerts ?? [];
      assert.deepEqual(s.findings.filter((f) => !alerts.includes(f.rule) || f.response !== 'alert'), [], `${s.name} is benign`);
      assert.deepEqual(s.surprises, [], `${s.name}: ${s.surprises.join('; ')}`);
      assert.deepEqual(s.harm, { lockouts: 0, holds: 0, collateral_revocations: 0 }, `${s.name} is not harmed`);
    }
    assert.deepEqual(report.harm, { lockouts: 0, holds: 0, collateral_revocations: 0 });
    assert.equal(report.recall, 1);
    // Precision was 1 before the look-alikes existed: the rescheduled job's off_hours alert is the one
    // designed false positive (an alert, bounded risk, no response).
    assert.equal(report.false_positives, 1);
    assert.deepEqual(report.scenarios.find((s) => s.name === 'rescheduled-job')!.findings.map((f) => [f.rule, f.response]), [['off_hours', 'alert']]);
    assert.ok(report.precision >= 0.9, `precision ${report.precision}`);
    // Every data-obtaining attack's credential dies (the one-second bound is held on the cluster,
    // simulate-cluster.test.ts; this in-process broker shares its CPU with the simulator).
    for (const s of report.scenarios.filter((x) => x.obtained_data)) assert.ok(s.time_to_revocation_ms !== null, `${s.name} contained`);
  });

  test('responses: the replay revokes its grant within a second; escalation suspends', async () => {
    const replay = report.scenarios.find((s) => s.rule === 'replay')!;
    assert.equal(replay.findings[0]!.response, 'revoke_grant');
    assert.ok(replay.time_to_revocation_ms !== null && replay.time_to_revocation_ms < 1000, `replay → revoked in ${replay.time_to_revocation_ms} ms`);
    const esc = report.scenarios.find((s) => s.rule === 'escalation')!;
    assert.equal(esc.findings[0]!.response, 'suspend');
    assert.ok(esc.time_to_revocation_ms !== null);
    const who = await b.admin('GET', `/admin/v1/identities/${encodeURIComponent(esc.identity)}`);
    assert.equal(who.body.status, 'suspended');
    assert.ok(who.body.risk >= 80, 'escalation is critical: risk floor');
  });
});
