/**
 * Gateway enforcement cost, two figures from one run:
 *
 * 1. Added latency: a real nginx asking Tether about every request (`auth_request` → `/ext-authz/orders`,
 *    DPoP-bound token, route, kernel, durable audit on PostgreSQL) beside the same nginx proxying to the
 *    same upstream without auth, both driven OPEN LOOP at the same fixed rate (default 300 req/s):
 *    each request leaves when it is due, whatever earlier answers did, and its latency counts from
 *    then, so p50/p99 are what callers arriving at that rate see (a closed loop measures its own
 *    queue instead). Rounds alternate plain and auth; the median round is kept.
 * 2. CPU: the broker's process CPU per authorized request (all threads, measured over the auth runs)
 *    against the sum of the parts no implementation can skip, measured in the same process on the
 *    same inputs: one ES256 verify (the DPoP proof), one EdDSA verify (the access token), one Cedar
 *    call (the route's request, the kernel's context and entities, on the active policy set) and one
 *    SHA-256 (`ath`). Target ≤ 1.5×.
 * 3. The platform floor, in the same run: the same nginx `auth_request` asking a bare node:http server
 *    that makes one durable PostgreSQL INSERT per request and answers 200, at the same rate. That is
 *    what any Node gateway check with a durable audit pays before doing any check at all (the wake-ups
 *    of an idle process at a moderate rate, HTTP parsing, one database round trip); Tether's own
 *    cost is its CPU above that floor.
 * 4. The same CPU figures under saturation (closed loop, 32 connections through nginx, 3 s each by default): how
 *    much of the moderate-rate figure is the per-wake-up cost of a mostly idle process.
 *
 *   npm run build && node --no-turbo-inline-js-wasm-calls dist/bench/ext-authz-nginx.bench.js [seconds=8] [rate=300] [rounds=3]
 *   env: BENCH_SATURATION_SECONDS (default 3)
 *
 * Broker and upstream run in child processes; the load generator (this process) signs every DPoP
 * proof before the measured runs (they are single use), so signing is not measured.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../test/helpers/broker.js';
import { createDpopKey, exchangeForToken } from '../test/helpers/dpop.js';
import { ordersRoute, REQUEST_POLICIES } from '../test/helpers/gateway-fixture.js';
import { freePort, NGINX, startNginx } from '../test/helpers/nginx.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../test/helpers/workload-issuer.js';
import { createHash, createPublicKey, verify as verifySig } from 'node:crypto';
import { cedarContext, ownContextOf } from '../src/pdp/index.js';
import { evaluate } from '../src/policy/index.js';
import { createKeepAliveClient, runHttpLoad, runOpenLoop, type OpenLoopResult } from './lib/load.js';
import { createPgDatabase, fmtNum, pgAvailable, printTable } from './lib/index.js';
import pg from 'pg';

const SECONDS = Number(process.argv[2] ?? 8);
const RATE = Number(process.argv[3] ?? 300);
const ROUNDS = Number(process.argv[4] ?? 3);
const CPU_TARGET = 1.5;
const ROLE = process.env.BENCH_ROLE;

type Msg = { url: string; token?: string; jkt?: string };
type Ipc = { id: number; cmd: 'mark' | 'since' | 'parts'; arg?: { token: string; proofs: string[] } };

async function brokerRole(gatewayUrl: string, issuer: unknown): Promise<void> {
  const b = await startBroker((await pgAvailable()) ? 'pg' : 'pglite', { logLevel: 'warn' });
  const r = await b.admin('POST', '/admin/v1/apply', {
    identities: EXCHANGE_IDENTITIES,
    issuers: [issuer],
    policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES },
    routes: [ordersRoute(gatewayUrl, 'nginx')],
  });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  let mark = process.cpuUsage();
  process.on('message', (m: Ipc) => {
    void (async () => {
      if (m.cmd === 'mark') mark = process.cpuUsage();
      const c = process.cpuUsage(mark);
      const result = m.cmd === 'parts' ? await unavoidableParts(b.broker, m.arg!.token, m.arg!.proofs) : m.cmd === 'since' ? (c.user + c.system) / 1e6 : null;
      process.send!({ id: m.id, result });
    })();
  });
  process.send!({ url: b.url } satisfies Msg);
  process.on('disconnect', () => void b.stop().then(() => process.exit(0)));
}

/** CPU µs of each part no gateway check can skip, on this request's own inputs, in the broker process. */
async function unavoidableParts(broker: Awaited<ReturnType<typeof startBroker>>['broker'], token: string, proofs: string[]) {
  const N = 3000;
  const cpu = (fn: (i: number) => unknown) => {
    for (let i = 0; i < 200; i++) fn(i);
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) fn(i);
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / N;
  };
  const split = (jws: string) => {
    const [h, p, sig] = jws.split('.') as [string, string, string];
    return { input: Buffer.from(`${h}.${p}`), sig: Buffer.from(sig, 'base64url'), header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const proof = split(proofs[0]!);
  const proofKey = createPublicKey({ key: proof.header.jwk, format: 'jwk' });
  const at = split(token);
  const atJwk = broker.tokens.keys.ring().jwks().keys.find((k) => k.kid === at.header.kid)!;
  const atKey = createPublicKey({ key: atJwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  if (!verifySig('sha256', proof.input, { key: proofKey, dsaEncoding: 'ieee-p1363' }, proof.sig) || !verifySig(null, at.input, atKey, at.sig)) throw new Error('signatures do not verify');
  const id = EXCHANGE_IDENTITIES[0]!.id;
  const principal = (await broker.pdp.identities.get(id))!.entity;
  const set = broker.pdp.policies.current()!.set;
  const input = { entry: 'ext-authz' as const, phase: 'request' as const, principal: { type: 'Identity', id }, action: { name: 'orders:read' }, resource: { type: 'Order', id: '3' }, token: { jti: 'x', grant: 'g', scopes: ['orders:read'], jkt: 'k' }, request: { method: 'GET', path: '/orders/3', source_ip: '127.0.0.1' } };
  const cedarRequest = () => ({
    principal: { type: 'Identity', id },
    action: { type: 'Action', id: 'orders:read' },
    resource: { type: 'Order', id: '3' },
    context: cedarContext(Object.create(null), ownContextOf(input, new Date(), 0, principal.attrs['environment'] as string), Object.create(null)),
    entities: [principal, { uid: { type: 'Order', id: '3' }, attrs: {}, parents: [] }],
  });
  if (evaluate(set, cedarRequest()).decision !== 'allow') throw new Error('the Cedar call does not allow the benchmarked request');
  return {
    es256: cpu(() => verifySig('sha256', proof.input, { key: proofKey, dsaEncoding: 'ieee-p1363' }, proof.sig)),
    eddsa: cpu(() => verifySig(null, at.input, atKey, at.sig)),
    cedar: cpu(() => evaluate(set, cedarRequest())),
    sha256: cpu(() => createHash('sha256').update(token, 'ascii').digest()),
  };
}

/** The floor: answers every auth subrequest 200 after one durable INSERT (synchronous commit). */
async function floorRole(): Promise<void> {
  const db = await createPgDatabase('tether_bench_floor');
  const pool = new pg.Pool({ connectionString: db.url, max: 8 });
  pool.on('error', () => {}); // an idle client's connection ending at teardown
  await pool.query('CREATE TABLE floor_log (seq bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), data jsonb NOT NULL)');
  const s = createServer((req, res) => {
    const row = JSON.stringify({ method: req.method, url: req.url, authorization: String(req.headers.authorization ?? '').length, dpop: String(req.headers.dpop ?? '').length });
    pool.query('INSERT INTO floor_log (data) VALUES ($1)', [row]).then(
      () => res.writeHead(200).end(),
      () => res.writeHead(503).end(),
    );
  });
  let mark = process.cpuUsage();
  process.on('message', (m: Ipc) => {
    if (m.cmd === 'mark') mark = process.cpuUsage();
    const c = process.cpuUsage(mark);
    process.send!({ id: m.id, result: m.cmd === 'since' ? (c.user + c.system) / 1e6 : null });
  });
  s.listen(0, '127.0.0.1', () => process.send!({ url: `http://127.0.0.1:${(s.address() as { port: number }).port}` } satisfies Msg));
  process.on('disconnect', () => void pool.end().then(() => db.drop()).then(() => process.exit(0)));
}

function upstreamRole(): void {
  const s = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  s.listen(0, '127.0.0.1', () => process.send!({ url: `127.0.0.1:${(s.address() as { port: number }).port}` } satisfies Msg));
  process.on('disconnect', () => process.exit(0));
}

function child(role: string, extra: Record<string, string> = {}): Promise<{ url: string; kill(): void; call<T>(cmd: Ipc['cmd'], arg?: Ipc['arg']): Promise<T> }> {
  const p = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_ROLE: role, ...extra }, execArgv: ['--no-turbo-inline-js-wasm-calls', ...(role === 'broker' && process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [])] });
  let next = 0;
  const waiting = new Map<number, (r: unknown) => void>();
  p.on('message', (m: { id?: number; result?: unknown }) => {
    if (m.id !== undefined) waiting.get(m.id)?.(m.result);
  });
  const call = <T>(cmd: Ipc['cmd'], arg?: Ipc['arg']) =>
    new Promise<T>((resolve) => {
      const id = next++;
      waiting.set(id, (r) => resolve(r as T));
      p.send({ id, cmd, ...(arg ? { arg } : {}) } satisfies Ipc);
    });
  return new Promise((resolve, reject) => {
    p.once('message', (m: Msg) => resolve({ url: m.url, kill: () => p.disconnect(), call }));
    p.once('exit', (c) => reject(new Error(`${role} exited ${c}`)));
  });
}

/** nginx proxying without auth: the baseline. */
async function startPlainNginx(port: number, upstream: string) {
  const prefix = mkdtempSync(join(tmpdir(), 'tether-nginx-plain-'));
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d));
  const conf = `worker_processes 1; daemon off; pid ${prefix}/nginx.pid; error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi; uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  upstream up { server ${upstream}; keepalive 32; }
  server { listen 127.0.0.1:${port}; location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://up; } } }`;
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const p = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { stop: () => new Promise<void>((r) => (p.once('exit', () => r()), p.kill('SIGQUIT'))) };
}

async function main(): Promise<void> {
  if (!NGINX) throw new Error('nginx is not installed (apt-get install nginx-light)');
  const authPort = await freePort();
  const plainPort = await freePort();
  const floorPort = await freePort();
  const gw = `http://127.0.0.1:${authPort}`;
  const gha = await createWorkloadIssuer();
  const upstream = await child('upstream');
  const broker = await child('broker', { BENCH_GATEWAY: gw, BENCH_ISSUER: JSON.stringify(gha.config()) });
  const authNginx = await startNginx({ port: authPort, upstream: upstream.url, tether: new URL(broker.url).host, route: 'orders' });
  const plainNginx = await startPlainNginx(plainPort, upstream.url);
  const floor = await child('floor');
  const floorNginx = await startNginx({ port: floorPort, upstream: upstream.url, tether: new URL(floor.url).host, route: 'orders' });

  // A DPoP-bound token for the route, and single-use proofs signed ahead of time.
  const key = await createDpopKey();
  const token = (await exchangeForToken({ endpointBase: broker.url, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD })).body.access_token!;
  if (!token) throw new Error('no token');
  const path = (i: number) => `/orders/${i % 10}`;
  // Proofs are single use and valid for 60 s after their iat (RFC 9449 §11.1): each run gets its own,
  // signed just before it starts.
  const plain = createKeepAliveClient(`http://127.0.0.1:${plainPort}`, 256);
  const floorClient = createKeepAliveClient(`http://127.0.0.1:${floorPort}`, 256);
  // The floor server sees the same headers (sizes) as Tether, so nginx and HTTP parsing cost alike.
  const floorProof = await key.proof('GET', `${gw}${path(0)}`, { accessToken: token });
  const floorRun = (seconds: number) =>
    runOpenLoop({ client: floorClient, rate: RATE, durationMs: seconds * 1000, request: (i) => ({ path: path(i), headers: { authorization: `DPoP ${token}`, dpop: floorProof } }) });
  const auth = createKeepAliveClient(gw, 256);
  let used = 0;
  const authRun = async (seconds: number) => {
    const base = used;
    const n = Math.floor(RATE * seconds);
    used += n;
    const proofs: string[] = [];
    for (let i = 0; i < n; i++) proofs.push(await key.proof('GET', `${gw}${path(base + i)}`, { accessToken: token }));
    return runOpenLoop({ client: auth, rate: RATE, durationMs: seconds * 1000, request: (i) => ({ path: path(base + i), headers: { authorization: `DPoP ${token}`, dpop: proofs[i]! } }) });
  };
  // Warm-up (JIT, connections, caches), not measured.
  await runOpenLoop({ client: plain, rate: RATE, durationMs: 1000, request: (i) => ({ path: path(i) }) });
  await authRun(SECONDS / 2);
  await floorRun(SECONDS / 2);

  const plains: OpenLoopResult[] = [];
  const auths: OpenLoopResult[] = [];
  const floors: OpenLoopResult[] = [];
  let cpuSeconds = 0;
  let authorized = 0;
  let floorCpuSeconds = 0;
  let floorServed = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    const rp = await runOpenLoop({ client: plain, rate: RATE, durationMs: SECONDS * 1000, request: (i) => ({ path: path(i) }) });
    await broker.call('mark');
    const ra = await authRun(SECONDS);
    cpuSeconds += await broker.call<number>('since');
    authorized += ra.sent - ra.failures;
    await floor.call('mark');
    const rf = await floorRun(SECONDS);
    floorCpuSeconds += await floor.call<number>('since');
    floorServed += rf.sent - rf.failures;
    if (ra.failures || rp.failures || rf.failures) console.log(`round ${round}: ${ra.failures} auth failures (${ra.firstFailure ?? ''}), ${rp.failures} plain failures, ${rf.failures} floor failures`);
    console.log(`round ${round}: p50/p99 plain ${fmtNum(rp.latency.p50, 2)}/${fmtNum(rp.latency.p99, 2)} ms, floor ${fmtNum(rf.latency.p50, 2)}/${fmtNum(rf.latency.p99, 2)} ms, with Tether ${fmtNum(ra.latency.p50, 2)}/${fmtNum(ra.latency.p99, 2)} ms (send lag p99 ${fmtNum(Math.max(rp.sendLagP99, ra.sendLagP99, rf.sendLagP99), 2)} ms)`);
    plains.push(rp);
    auths.push(ra);
    floors.push(rf);
  }
  // Saturation: closed loop, proofs signed beforehand (2,000/s is beyond what this machine serves).
  const SAT_SECONDS = Number(process.env.BENCH_SATURATION_SECONDS ?? 3);
  const saturated = async (target: typeof broker, client: typeof auth, request: (i: number) => { path: string; headers: Record<string, string> }, n: number) => {
    let cpu = 0;
    const r = await runHttpLoad({
      client,
      concurrency: 32,
      warmupMs: 0,
      durationMs: SAT_SECONDS * 1000,
      maxOps: n,
      request,
      onMeasureStart: () => target.call('mark').then(() => undefined),
      onMeasureEnd: async () => void (cpu = await target.call<number>('since')),
    });
    const served = r.ops - r.failures;
    return { served, failures: r.failures, perSecond: r.okPerSec, cpuPerRequest: (1e6 * cpu) / Math.max(1, served) };
  };
  const satN = 2000 * SAT_SECONDS;
  const satBase = used;
  used += satN;
  const satProofs: string[] = [];
  for (let i = 0; i < satN; i++) satProofs.push(await key.proof('GET', `${gw}${path(satBase + i)}`, { accessToken: token }));
  const satFloor = await saturated(floor, floorClient, (i) => ({ path: path(i), headers: { authorization: `DPoP ${token}`, dpop: floorProof } }), satN);
  const satAuth = await saturated(broker, auth, (i) => ({ path: path(satBase + i), headers: { authorization: `DPoP ${token}`, dpop: satProofs[i]! } }), satN);
  plain.close();
  auth.close();
  floorClient.close();
  const median = (rs: OpenLoopResult[]) => [...rs].sort((a, b) => a.latency.p50 - b.latency.p50)[Math.floor(rs.length / 2)]!;
  const p = median(plains);
  const a = median(auths);
  const f = median(floors);
  console.log(`\nGateway enforcement at a fixed ${RATE} req/s (open loop), ${SECONDS} s per run, median of ${ROUNDS} rounds, durable audit on PostgreSQL:`);
  printTable(
    ['path', 'sent', 'failed', 'p50 ms', 'p90 ms', 'p99 ms'],
    [
      ['nginx → upstream (no auth)', p.sent, p.failures, fmtNum(p.latency.p50, 2), fmtNum(p.latency.p90, 2), fmtNum(p.latency.p99, 2)],
      ['nginx auth_request → floor (node:http + 1 INSERT) → upstream', f.sent, f.failures, fmtNum(f.latency.p50, 2), fmtNum(f.latency.p90, 2), fmtNum(f.latency.p99, 2)],
      ['nginx auth_request → Tether → upstream', a.sent, a.failures, fmtNum(a.latency.p50, 2), fmtNum(a.latency.p90, 2), fmtNum(a.latency.p99, 2)],
    ],
  );
  console.log(`added by Tether: p50 +${fmtNum(a.latency.p50 - p.latency.p50, 2)} ms, p99 +${fmtNum(a.latency.p99 - p.latency.p99, 2)} ms (the floor adds p50 +${fmtNum(f.latency.p50 - p.latency.p50, 2)} ms, p99 +${fmtNum(f.latency.p99 - p.latency.p99, 2)} ms)`);

  const parts = await broker.call<{ es256: number; eddsa: number; cedar: number; sha256: number }>('parts', { token, proofs: [await key.proof('GET', `${gw}${path(0)}`, { accessToken: token })] });
  const sum = parts.es256 + parts.eddsa + parts.cedar + parts.sha256;
  const perRequest = (1e6 * cpuSeconds) / Math.max(1, authorized);
  const floorPerRequest = (1e6 * floorCpuSeconds) / Math.max(1, floorServed);
  console.log(`\nbroker CPU per authorized request vs its unavoidable parts (same process, same inputs):`);
  printTable(
    ['part', 'CPU µs'],
    [
      ['ES256 verify (DPoP proof, node:crypto)', fmtNum(parts.es256, 1)],
      ['EdDSA verify (access token, node:crypto)', fmtNum(parts.eddsa, 1)],
      ['Cedar call (route request, kernel context + entities)', fmtNum(parts.cedar, 1)],
      ['SHA-256 (ath)', fmtNum(parts.sha256, 1)],
      ['sum of unavoidable parts', fmtNum(sum, 1)],
      [`broker process CPU per request (all threads, ${authorized} requests at ${RATE} req/s)`, fmtNum(perRequest, 1)],
      [`floor: node:http + 1 durable INSERT per request, same nginx, same rate (${floorServed} requests)`, fmtNum(floorPerRequest, 1)],
      ['broker CPU above the floor', fmtNum(perRequest - floorPerRequest, 1)],
    ],
  );
  const ratio = perRequest / sum;
  console.log(`ext-authz CPU / unavoidable parts: ${ratio.toFixed(2)}× — target ≤ ${CPU_TARGET}×: ${ratio <= CPU_TARGET ? 'met' : 'NOT met'}`);
  console.log(`\nsaturated (closed loop, 32 connections through nginx, ${SAT_SECONDS} s):`);
  printTable(
    ['server', 'served', 'failed', 'req/s', 'CPU µs per request'],
    [
      ['floor: node:http + 1 durable INSERT', satFloor.served, satFloor.failures, fmtNum(satFloor.perSecond), fmtNum(satFloor.cpuPerRequest, 1)],
      ['Tether ext-authz', satAuth.served, satAuth.failures, fmtNum(satAuth.perSecond), fmtNum(satAuth.cpuPerRequest, 1)],
    ],
  );
  console.log(`saturated: Tether / unavoidable parts ${(satAuth.cpuPerRequest / sum).toFixed(2)}×, floor / parts ${(satFloor.cpuPerRequest / sum).toFixed(2)}×, Tether above the floor / parts ${((satAuth.cpuPerRequest - satFloor.cpuPerRequest) / sum).toFixed(2)}×`);
  console.log(`\nat ${RATE} req/s:`);
  console.log(`floor / unavoidable parts: ${(floorPerRequest / sum).toFixed(2)}×; (floor + parts) / parts: ${((floorPerRequest + sum) / sum).toFixed(2)}×; broker above the floor / parts: ${((perRequest - floorPerRequest) / sum).toFixed(2)}×`);

  await authNginx.stop();
  await plainNginx.stop();
  await floorNginx.stop();
  floor.kill();
  broker.kill();
  upstream.kill();
}

if (ROLE === 'broker') await brokerRole(process.env.BENCH_GATEWAY!, JSON.parse(process.env.BENCH_ISSUER!));
else if (ROLE === 'upstream') upstreamRole();
else if (ROLE === 'floor') await floorRole();
else await main();
