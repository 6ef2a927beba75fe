/**
 * `tether simulate --json --peer-url`: the scenario simulator on a two-instance cluster (two real
 * `tether serve` processes on one PostgreSQL database). Cluster scenarios spread their calls over
 * both instances: a NAT-ed CI job with two addresses (benign), replicas refreshing together after
 * expiry and retrying (benign), a leaked token string presented with another key, and a token and
 * key copied off a pod and used on the other instance from the pod's own /24 (attacks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SimulationReport } from '../../src/simulate/index.js';
import { CLUSTER_ADMIN_TOKEN, startCluster } from '../helpers/cluster.js';
import { runCliAsync } from '../helpers/process.js';
import { optInConfig } from '../detect/fixture.js';

describe('tether simulate --json on a two-instance cluster (PostgreSQL)', () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let report: SimulationReport;

  before(async () => {
    // The escalation scenario's identity is an AI agent, opted in to identity-wide responses.
    cluster = await startCluster(2, { TETHER_DETECTION_CONFIG: optInConfig(['ai_agent']) });
  });
  after(async () => {
    await cluster?.stop();
  });

  test('runs every scenario over both instances', async () => {
    const r = await runCliAsync(['simulate', '--url', cluster.nodes[0]!.url, '--peer-url', cluster.nodes[1]!.url, '--json'], { TETHER_ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN }, 300_000);
    assert.equal(r.code, 0, r.stderr);
    report = JSON.parse(r.stdout.trim()) as SimulationReport;
    for (const s of report.scenarios) {
      process.stdout.write(`# ${s.name.padEnd(18)} ${s.kind.padEnd(6)} detected=${s.detected} finding=${s.time_to_finding_ms ?? '-'}ms revoked=${s.time_to_revocation_ms ?? '-'}ms findings=${s.findings.map((f) => `${f.rule}:${f.response}`).join(',')} surprises=${s.surprises.join('; ')}\n`);
    }
    process.stdout.write(`# cluster: precision ${report.precision} recall ${report.recall} harm ${JSON.stringify(report.harm)} containment ${JSON.stringify(report.containment)}\n`);
  });

  test('precision and recall at least 0.9; no benign workload harmed', () => {
    assert.ok(report.precision >= 0.9, `precision ${report.precision}`);
    assert.ok(report.recall >= 0.9, `recall ${report.recall}`);
    assert.deepEqual(report.harm, { lockouts: 0, holds: 0, collateral_revocations: 0 });
    for (const s of report.scenarios.filter((x) => x.kind === 'benign')) {
      // A benign look-alike of a contained attack may alert on its one weak signal, never more.
      const alerts = s.expected_alerts ?? [];
      assert.deepEqual(s.findings.filter((f) => !alerts.includes(f.rule) || f.response !== 'alert'), [], `${s.name} is benign`);
      assert.deepEqual(s.surprises, [], `${s.name}: ${s.surprises.join('; ')}`);
      assert.deepEqual(s.harm, { lockouts: 0, holds: 0, collateral_revocations: 0 }, `${s.name} is not harmed`);
    }
    assert.equal(report.false_positives, report.scenarios.reduce((n, s) => n + (s.expected_alerts?.length ?? 0), 0), 'only the designed alerts');
  });

  test('every data-obtaining attack is contained (its credential dead) within a second', () => {
    const data = report.scenarios.filter((s) => s.obtained_data);
    assert.deepEqual(data.map((s) => s.name).sort(), ['after-rerun', 'copied-key', 'dormant', 'drift', 'escalation', 'off-hours', 'rate-spike']);
    for (const s of data) {
      assert.ok(s.time_to_revocation_ms !== null && s.time_to_revocation_ms < 1000, `${s.name}: dead after ${s.time_to_revocation_ms} ms`);
      assert.deepEqual(s.surprises, [], `${s.name}: ${s.surprises.join('; ')}`);
    }
    assert.deepEqual(report.containment.not_contained, []);
    assert.equal(report.containment.contained_within_1s, data.length);
  });

  test('benign look-alikes of the contained attacks: alerted at most, never contained', () => {
    const by = (n: string) => report.scenarios.find((x) => x.name === n)!;
    assert.deepEqual(by('rescheduled-job').findings.map((f) => [f.rule, f.response]), [['off_hours', 'alert']], 'a new hour from its own network: one weak signal');
    for (const n of ['new-node-replica', 'nightly-batch-more', 'monthly-reporter', 'renewing-service']) assert.deepEqual(by(n).findings, [], `${n} raises nothing`);
  });

  test('a leaked token string dies within a second and does not lock its identity out', () => {
    const s = report.scenarios.find((x) => x.name === 'leaked-token')!;
    assert.equal(s.detected, true);
    assert.ok(s.time_to_revocation_ms !== null && s.time_to_revocation_ms < 1000, `${s.time_to_revocation_ms} ms`);
    assert.deepEqual(s.surprises, [], 'the victim exchanges and works again at once');
  });

  test('a token and key copied and used on the other instance from the same /24 are caught; the credential dies within a second', () => {
    const s = report.scenarios.find((x) => x.name === 'copied-key')!;
    assert.equal(s.detected, true, JSON.stringify(s));
    assert.equal(s.obtained_data, true);
    assert.ok(s.time_to_revocation_ms !== null && s.time_to_revocation_ms < 1000, `${s.time_to_revocation_ms} ms`);
    assert.deepEqual(s.surprises, []);
  });
});
