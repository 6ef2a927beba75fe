/**
 * AuthZEN decisions per second and latency over HTTP: Tether's `POST /access/v1/evaluation` with
 * durable audit on PostgreSQL (every decision group-committed before it is answered) beside a bare
 * `node:http` server that parses the same body and makes the same preparsed Cedar call with the same
 * entities and context, and answers `{decision}` (no audit, no validation). Each server runs in its
 * own child process; the load generator (64 keep-alive connections, closed loop) runs in this one.
 * Target: Tether ≥ 90 % of the bare server's decisions/s.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/authzen-http.bench.js [seconds=5] [connections=64]
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { fmtNum, openBenchStore, pgAvailable, printTable, runClosedLoop, type ClosedLoopResult } from './lib/index.js';
import { ACTIONS, benchBroker, pipelineWithoutAudit, POLICIES } from './pdp-fixture.js';

const SECONDS = Number(process.argv[2] ?? 5);
const CONNECTIONS = Number(process.argv[3] ?? 64);
const ROLE = process.env.BENCH_ROLE;
type Role = 'tether' | 'bare' | 'tether-noaudit';

const body = (i: number) =>
  JSON.stringify({ subject: { type: 'Identity', id: 'ci/acme-api-deploy' }, action: { name: ACTIONS[i % ACTIONS.length] }, resource: { type: 'Order', id: '42' } });

async function tetherServer(audit: boolean): Promise<string> {
  const bs = await openBenchStore('pg');
  const broker = await benchBroker(bs);
  if (!audit) {
    // Diagnostic only: the same routes and pipeline with a no-op audit writer, to separate the cost of
    // HTTP + validation + pipeline from the cost of the durable commit. Never a configuration.
    const bare = pipelineWithoutAudit(broker);
    broker.pdp.pipeline.decide = bare.decide;
  }
  process.on('disconnect', () => void broker.close().then(() => bs.dispose()).then(() => process.exit(0)));
  return broker.app.listen({ port: 0, host: '127.0.0.1' });
}

/** The baseline: the same Cedar call on the same inputs, nothing else. */
async function bareServer(): Promise<string> {
  const staticPolicies: Record<string, string> = {};
  for (const line of POLICIES['bench.cedar']!.split('\n')) {
    const m = /^@id\("([^"]+)"\)/.exec(line.trim());
    if (m) staticPolicies[m[1]!] = line.trim();
  }
  const pre = cedar.preparsePolicySet('bare', { staticPolicies });
  if (pre.type !== 'success') throw new Error(JSON.stringify(pre));
  const entities = [
    {
      uid: { type: 'Identity', id: 'ci/acme-api-deploy' },
      attrs: { kind: 'ci_job', status: 'active', owner: 'team-a', environment: 'prod', labels: { release: 'yes', team: 'finance' } },
      parents: [{ type: 'Group', id: 'ci' }, { type: 'Group', id: 'deployers' }],
    },
    { uid: { type: 'Order', id: '42' }, attrs: { status: 'open', owner: 'team-a' }, parents: [{ type: 'Account', id: 'acme' }] },
    { uid: { type: 'Group', id: 'ci' }, attrs: {}, parents: [] },
    { uid: { type: 'Group', id: 'deployers' }, attrs: {}, parents: [] },
    { uid: { type: 'Account', id: 'acme' }, attrs: {}, parents: [] },
  ];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { subject: { type: string; id: string }; action: { name: string }; resource: { type: string; id: string } };
      const now = new Date();
      const a = cedar.statefulIsAuthorized({
        principal: b.subject,
        action: { type: 'Action', id: b.action.name },
        resource: b.resource,
        context: { phase: 'request', risk: 0, now: { epoch: Math.floor(now.getTime() / 1000), hour: now.getUTCHours(), weekday: now.getUTCDay() }, environment: 'prod', action: {} },
        entities: entities as cedar.Entities,
        preparsedPolicySetId: 'bare',
      });
      const decision = a.type === 'success' && a.response.decision === 'allow';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ decision }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.on('disconnect', () => process.exit(0));
  const addr = server.address() as { port: number };
  return `http://127.0.0.1:${addr.port}`;
}

async function startChild(role: Role): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_ROLE: role }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve(String(m)));
    child.once('exit', (code) => reject(new Error(`${role} server exited (${code})`)));
  });
  return {
    url,
    stop: () => {
      child.disconnect();
    },
  };
}

async function load(url: string, seconds: number): Promise<ClosedLoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const u = new URL('/access/v1/evaluation', url);
  const once = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const payload = body(i);
      const req = http.request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
            const d = (JSON.parse(Buffer.concat(chunks).toString()) as { decision: unknown }).decision;
            if (typeof d !== 'boolean') return reject(new Error('no decision'));
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  await runClosedLoop({ concurrency: CONNECTIONS, durationMs: 500, op: once }); // warm-up: connections, JIT
  const r = await runClosedLoop({ concurrency: CONNECTIONS, durationMs: seconds * 1000, op: once });
  agent.destroy();
  return r;
}

async function main() {
  if (!(await pgAvailable())) {
    console.log('PostgreSQL is not reachable: this bench needs it for durable audit.');
    return;
  }
  const rows: (string | number)[][] = [];
  const results: Record<string, ClosedLoopResult> = {};
  // Alternate the two servers twice, so background load hits both alike; keep each one's best run.
  for (const round of [1, 2]) {
    for (const role of ['bare', 'tether', 'tether-noaudit'] as const) {
      const s = await startChild(role);
      const r = await load(s.url, SECONDS);
      s.stop();
      if (!results[role] || r.opsPerSec > results[role]!.opsPerSec) results[role] = r;
      console.log(`round ${round} ${role}: ${fmtNum(r.opsPerSec)} decisions/s, p99 ${fmtNum(r.latency.p99, 2)} ms`);
    }
  }
  for (const [name, r] of [
    ['bare node:http + Cedar (no audit)', results['bare']!],
    ['Tether AuthZEN, durable audit on pg', results['tether']!],
    ['Tether AuthZEN, audit stubbed (diagnostic)', results['tether-noaudit']!],
  ] as const) {
    rows.push([name, fmtNum(r.opsPerSec), fmtNum(r.latency.p50, 2), fmtNum(r.latency.p99, 2)]);
  }
  console.log(`\nAuthZEN over HTTP, ${CONNECTIONS} keep-alive connections, ${SECONDS} s (best of 2):`);
  printTable(['server', 'decisions/s', 'p50 ms', 'p99 ms'], rows);
  console.log(`Tether / bare: ${fmtNum((results['tether']!.opsPerSec / results['bare']!.opsPerSec) * 100, 1)} % (target ≥ 90 %)`);
  console.log(`Tether without the audit commit / bare: ${fmtNum((results['tether-noaudit']!.opsPerSec / results['bare']!.opsPerSec) * 100, 1)} %`);
}

if (ROLE === 'tether' || ROLE === 'bare' || ROLE === 'tether-noaudit') {
  (ROLE === 'bare' ? bareServer() : tetherServer(ROLE === 'tether'))
    .then((url) => process.send?.(url))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
