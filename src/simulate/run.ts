/**
 * `tether simulate`: against a broker at `url` (a fresh one is enough), over HTTP only —
 *   1. set up its own issuer keys, identities, one route and policies (admin API, one apply);
 *   2. give the broker's detector ten days of benign history (learning endpoint; see history.ts);
 *   3. drive benign traffic and the labelled attacks through real exchanges and gateway checks;
 *   4. report per scenario and in total (report.ts).
 * Policies are added beside the broker's active ones (same file set plus one of ours).
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { TetherError } from '../errors.js';
import { createBrokerClient, type BrokerTarget } from './broker-client.js';
import { IDENTITIES, policyText, RULES } from './catalog.js';
import { buildHistory } from './history.js';
import { harmOf, totals, type ScenarioFinding, type ScenarioReport, type SimulationReport } from './report.js';
import { SCENARIOS, type LiveOutcome } from './scenarios.js';
import { createDpopKey, createSimIssuer, createWorkload, SIMULATED_CLIENT_ADDRESS_HEADER, type Workload } from './workload.js';

export interface SimulateOptions extends BrokerTarget {
  /** A second instance of the same cluster (same database): cluster scenarios use both. */
  peerUrl?: string | undefined;
  /** How long to wait for an attack's finding (and for its token to die) before calling it missed. */
  timeoutMs?: number;
  /** Progress lines (stderr in the CLI); silent by default. */
  log?: (line: string) => void;
}

// Small requests: a loaded broker answers each well within its request timeout.
const LEARN_CHUNK = 5_000;
const REVOKING = new Set(['revoke_grant', 'narrow', 'suspend', 'revoke_identity']);

interface FindingRow {
  id: string;
  rule: string;
  severity: string;
  response: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSimulation(o: SimulateOptions): Promise<SimulationReport> {
  const log = o.log ?? (() => {});
  const timeoutMs = o.timeoutMs ?? 5000;
  const broker = createBrokerClient(o);
  const brokers = [broker, ...(o.peerUrl ? [createBrokerClient({ ...o, url: o.peerUrl })] : [])];

  const status = await broker.admin<{ enabled?: boolean }>('GET', '/admin/v1/detection');
  if (!status.enabled) throw new TetherError('conflict', 'detection is switched off on this broker (TETHER_DETECTION=false)');
  const meta = await broker.adminRaw<{ token_endpoint?: string; revocation_endpoint?: string }>('GET', '/.well-known/oauth-authorization-server');
  if (!meta.body.token_endpoint || !meta.body.revocation_endpoint) throw new TetherError('invalid_request', 'the broker publishes no token_endpoint or revocation_endpoint');

  // 1. Setup. A run id keeps two runs against one broker apart (identities, route, issuer, tasks).
  const run = randomBytes(3).toString('hex');
  const prefix = `sim-${run}`;
  const id = (name: string) => `${prefix}/${name}`;
  const issuer = await createSimIssuer(prefix);
  const ep = { tokenEndpoint: meta.body.token_endpoint, revocationEndpoint: meta.body.revocation_endpoint, route: prefix, publicUrl: `http://gateway.${prefix}.invalid`, audience: `https://api.${prefix}.invalid` };
  const active = await broker.adminRaw<{ files?: Record<string, string>; schema?: string | null }>('GET', '/admin/v1/policies');
  const files = { ...(active.body.files ?? {}), [`simulate-${prefix}.cedar`]: policyText(id) };
  await broker.admin('POST', '/admin/v1/apply', {
    identities: IDENTITIES.map((s) => ({ id: id(s.name), kind: s.kind, owner: 'tether-simulator', purpose: s.purpose, environment: 'prod' })),
    issuers: [issuer.config],
    routes: [{ name: ep.route, gateway: 'envoy', client_address_header: SIMULATED_CLIENT_ADDRESS_HEADER, audience: ep.audience, public_url: ep.publicUrl, rules: RULES }],
    policies: files,
    ...(active.body.schema ? { schema: active.body.schema } : {}),
  });
  log(`simulate: run ${run}: ${IDENTITIES.length} identities, route ${ep.route}, policies applied`);

  // 2. History.
  const history = buildHistory({ now: Date.now(), id, audience: ep.audience, seed: parseInt(run, 16) });
  // Baselines live in each instance's memory: every instance learns the history.
  for (const b of brokers) for (let i = 0; i < history.length; i += LEARN_CHUNK) await b.admin('POST', '/admin/v1/detection/learn', { events: history.slice(i, i + LEARN_CHUNK) });
  log(`simulate: learned ${history.length} history events`);

  // 3. Live traffic. The broker learns identities by notification: the first exchange may race it.
  const workloads = new Map<string, Workload>();
  const workload = async (name: string): Promise<Workload> => {
    let w = workloads.get(name);
    if (!w) workloads.set(name, (w = createWorkload(brokers, issuer, ep, id(name), await createDpopKey())));
    return w;
  };
  const replica = async (name: string): Promise<Workload> => createWorkload(brokers, issuer, ep, id(name), await createDpopKey());
  const revokeToken = async (token: string, reason: string): Promise<void> => {
    await broker.admin('POST', '/admin/v1/revocations', { kind: 'jti', value: decodeJwt(token).jti, reason });
  };
  const findingsOf = async (identity: string): Promise<FindingRow[]> =>
    (await broker.admin<{ findings: FindingRow[] }>('GET', `/admin/v1/findings?identity=${encodeURIComponent(identity)}&limit=1000`)).findings;

  const outcomes: Array<{ s: (typeof SCENARIOS)[number]; out: LiveOutcome; found?: FindingRow; tFinding: number | null; tRevoked: number | null }> = [];
  for (const s of SCENARIOS) {
    const out = await s.drive({ workload, replica, revokeToken, run, instances: brokers.length });
    let found: FindingRow | undefined;
    let tFinding: number | null = null;
    let tRevoked: number | null = null;
    if (s.kind === 'attack' && out.t0 !== undefined) {
      const end = out.t0 + timeoutMs;
      // The finding, and the credential's death whichever finding's response killed it (an alert on
      // the first act may be followed by the containment once a second signal corroborates it).
      let revoking = false;
      while (performance.now() < end && (!found || (out.token && tRevoked === null && (revoking || out.obtainedData === true)))) {
        const all = await findingsOf(id(s.identity));
        if (!found) {
          found = all.find((f) => f.rule === s.rule);
          if (found) tFinding = performance.now() - out.t0;
        }
        revoking = all.some((f) => f.response !== null && REVOKING.has(f.response));
        if (out.token && tRevoked === null && (revoking || out.obtainedData === true) && !(await broker.active(out.token))) tRevoked = performance.now() - out.t0;
        else await sleep(5);
      }
    }
    if (out.after) out.surprises.push(...(await out.after()));
    log(`simulate: ${s.name} (${s.kind}) ${s.kind === 'attack' ? (found ? `detected in ${tFinding!.toFixed(0)} ms` : 'not detected') : 'done'}`);
    outcomes.push({ s, out, ...(found ? { found } : {}), tFinding, tRevoked });
  }

  // 4. Let the detector finish what is queued, then collect every finding of every scenario identity.
  for (let i = 0; i < 200; i++) {
    const st = await broker.admin<{ queued?: number }>('GET', '/admin/v1/detection');
    if (!st.queued) break;
    await sleep(10);
  }
  await sleep(300);
  const scenarios: ScenarioReport[] = [];
  for (const { s, out, found, tFinding, tRevoked } of outcomes) {
    const all: ScenarioFinding[] = (await findingsOf(id(s.identity))).map((f) => ({ id: f.id, rule: f.rule, severity: f.severity, response: f.response }));
    scenarios.push({
      name: s.name,
      kind: s.kind,
      rule: s.rule,
      identity: id(s.identity),
      detected: s.kind === 'attack' && found !== undefined,
      time_to_finding_ms: tFinding === null ? null : Math.round(tFinding * 10) / 10,
      time_to_revocation_ms: tRevoked === null ? null : Math.round(tRevoked * 10) / 10,
      findings: all,
      unexpected: s.kind === 'attack' ? all.filter((f) => f.rule !== s.rule) : [],
      surprises: out.surprises,
      harm: s.kind === 'benign' ? harmOf(all, out.surprises) : { lockouts: 0, holds: 0, collateral_revocations: 0 },
      ...(s.alerts ? { expected_alerts: [...s.alerts] } : {}),
      obtained_data: s.kind === 'attack' && out.obtainedData === true,
    });
  }
  return totals(scenarios);
}
