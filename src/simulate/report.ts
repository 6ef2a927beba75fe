/**
 * The simulator's report. Per scenario: whether the expected rule fired, how long after the first
 * malicious act the finding was visible through the admin API, and how long until the token was dead
 * (for responses that revoke). Totals over the scenario set:
 *
 *   recall          = attacks whose expected rule fired / attacks
 *   false_positives = findings raised on benign identities
 *   precision       = detected attacks / (detected attacks + false_positives)
 *
 * Findings on an attack identity under another rule are listed (`unexpected`), not counted as false
 * positives: they are true alerts about hostile traffic, only not the one the scenario is about.
 *
 * Harm, for benign workloads only (what gets a detector switched off): lock-outs (a suspension or
 * identity revocation, or a request or exchange refused that should have passed), holds (approval
 * required for new grants), collateral revocations (a grant revoked by a response).
 */
export interface Harm {
  lockouts: number;
  holds: number;
  collateral_revocations: number;
}

const LOCKOUT = new Set(['suspend', 'revoke_identity']);
const HOLD = new Set(['require_approval', 'narrow']);

export function harmOf(findings: readonly ScenarioFinding[], surprises: readonly string[]): Harm {
  const refused = surprises.filter((x) => /: (401|403|400)\b/.test(x)).length;
  return {
    lockouts: findings.filter((f) => f.response !== null && LOCKOUT.has(f.response)).length + refused,
    holds: findings.filter((f) => f.response !== null && HOLD.has(f.response)).length,
    collateral_revocations: findings.filter((f) => f.response === 'revoke_grant').length,
  };
}
export interface ScenarioFinding {
  id: string;
  rule: string;
  severity: string;
  response: string | null;
}

export interface ScenarioReport {
  name: string;
  kind: 'attack' | 'benign';
  rule: string | null;
  identity: string;
  detected: boolean;
  time_to_finding_ms: number | null;
  time_to_revocation_ms: number | null;
  findings: ScenarioFinding[];
  unexpected: ScenarioFinding[];
  surprises: string[];
  harm: Harm;
  /** Attacks: the attacker got data (a 2xx) with the credential. */
  obtained_data: boolean;
  /** Benign look-alikes: the baseline rules that alert on them by design (counted as false positives). */
  expected_alerts?: string[];
}

/** Data-obtaining attacks and how fast their credential died (the target: all within 1 s). */
export interface Containment {
  data_obtaining_attacks: number;
  contained_within_1s: number;
  /** Names of those whose credential was not dead within 1 s (baseline evidence alerts by design). */
  not_contained: string[];
  max_ms: number | null;
}

export interface SimulationReport {
  scenarios: ScenarioReport[];
  precision: number;
  recall: number;
  false_positives: number;
  /** Summed over benign scenarios; the target is all zeros. */
  harm: Harm;
  containment: Containment;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function totals(scenarios: ScenarioReport[]): SimulationReport {
  const attacks = scenarios.filter((s) => s.kind === 'attack');
  const detected = attacks.filter((s) => s.detected).length;
  const falsePositives = scenarios.filter((s) => s.kind === 'benign').reduce((n, s) => n + s.findings.length, 0);
  return {
    scenarios,
    precision: detected + falsePositives === 0 ? 1 : round(detected / (detected + falsePositives)),
    recall: attacks.length === 0 ? 1 : round(detected / attacks.length),
    false_positives: falsePositives,
    harm: scenarios.reduce<Harm>(
      (h, s) => ({ lockouts: h.lockouts + s.harm.lockouts, holds: h.holds + s.harm.holds, collateral_revocations: h.collateral_revocations + s.harm.collateral_revocations }),
      { lockouts: 0, holds: 0, collateral_revocations: 0 },
    ),
    containment: containmentOf(attacks),
  };
}

function containmentOf(attacks: ScenarioReport[]): Containment {
  const data = attacks.filter((s) => s.obtained_data);
  const fast = data.filter((s) => s.time_to_revocation_ms !== null && s.time_to_revocation_ms < 1000);
  const times = fast.map((s) => s.time_to_revocation_ms!);
  return {
    data_obtaining_attacks: data.length,
    contained_within_1s: fast.length,
    not_contained: data.filter((s) => !fast.includes(s)).map((s) => s.name),
    max_ms: times.length ? Math.max(...times) : null,
  };
}

/** A short human-readable table (the default output; `--json` prints the report itself). */
export function formatReport(r: SimulationReport): string {
  const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(0)} ms`);
  const lines = r.scenarios.map((s) =>
    [
      s.name.padEnd(16),
      s.kind.padEnd(7),
      (s.rule ?? '-').padEnd(12),
      (s.kind === 'attack' ? (s.detected ? 'detected' : 'MISSED') : s.findings.length ? `${s.findings.length} FALSE POSITIVE(S)` : 'quiet').padEnd(20),
      ms(s.time_to_finding_ms).padStart(9),
      ms(s.time_to_revocation_ms).padStart(9),
      s.findings.map((f) => `${f.rule}→${f.response ?? '?'}`).join(', '),
    ].join(' '),
  );
  return [
    `${'scenario'.padEnd(16)} ${'kind'.padEnd(7)} ${'rule'.padEnd(12)} ${'outcome'.padEnd(20)} ${'finding'.padStart(9)} ${'revoked'.padStart(9)} findings`,
    ...lines,
    '',
    `precision ${r.precision}  recall ${r.recall}  false positives ${r.false_positives}  harm: ${r.harm.lockouts} lock-outs, ${r.harm.holds} holds, ${r.harm.collateral_revocations} collateral revocations`,
    `data-obtaining attacks contained within 1 s: ${r.containment.contained_within_1s}/${r.containment.data_obtaining_attacks}${r.containment.not_contained.length ? ` (alerted only: ${r.containment.not_contained.join(', ')})` : ''}`,
  ].join('\n');
}
