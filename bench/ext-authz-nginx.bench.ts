/**
 * Gateway enforcement cost: requests per second and latency through a real nginx that asks Tether
 * about every request (`auth_request` → `/ext-authz/orders`, DPoP-bound token, policy, durable audit
 * on PostgreSQL), beside the same nginx proxying to the same upstream without auth, in one run.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ext-authz-nginx.bench.js [seconds=4] [connections=32]
 *
 * Broker and upstream run in child processes; the load generator (this process) pre-signs one DPoP
 * proof per request (they are single-use), so signing is not measured.
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
import { createKeepAliveClient, runHttpLoad } from './lib/load.js';
import { fmtNum, pgAvailable, printTable } from './lib/index.js';

const SECONDS = Number(process.argv[2] ?? 4);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const ROLE = process.env.BENCH_ROLE;

type Msg = { url: string; token?: string; jkt?: string };

async function brokerRole(gatewayUrl: string, issuer: unknown): Promise<void> {
  const b = await startBroker((await pgAvailable()) ? 'pg' : 'pglite', { logLevel: 'warn' });
  const r = await b.admin('POST', '/admin/v1/apply', {
    identities: EXCHANGE_IDENTITIES,
    issuers: [issuer],
    policies: { ...EXCHANGE_POLICIES, ...REQUEST_POLICIES },
    routes: [ordersRoute(gatewayUrl, 'nginx')],
  });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  process.send!({ url: b.url } satisfies Msg);
  process.on('disconnect', () => void b.stop().then(() => process.exit(0)));
}

function upstreamRole(): void {
  const s = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  s.listen(0, '127.0.0.1', () => process.send!({ url: `127.0.0.1:${(s.address() as { port: number }).port}` } satisfies Msg));
  process.on('disconnect', () => process.exit(0));
}

function child(role: string, extra: Record<string, string> = {}): Promise<{ url: string; kill(): void }> {
  const p = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, BENCH_ROLE: role, ...extra }, execArgv: ['--no-turbo-inline-js-wasm-calls', ...(role === 'broker' && process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [])] });
  return new Promise((resolve, reject) => {
    p.once('message', (m: Msg) => resolve({ url: m.url, kill: () => p.disconnect() }));
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
  const gw = `http://127.0.0.1:${authPort}`;
  const gha = await createWorkloadIssuer();
  const upstream = await child('upstream');
  const broker = await child('broker', { BENCH_GATEWAY: gw, BENCH_ISSUER: JSON.stringify(gha.config()) });
  const authNginx = await startNginx({ port: authPort, upstream: upstream.url, tether: new URL(broker.url).host, route: 'orders' });
  const plainNginx = await startPlainNginx(plainPort, upstream.url);

  // A DPoP-bound token for the route, and single-use proofs signed ahead of time.
  const key = await createDpopKey();
  const token = (await exchangeForToken({ endpointBase: broker.url, key, subjectToken: await gha.token(), scope: 'orders:read', audience: ORDERS_AUD })).body.access_token!;
  if (!token) throw new Error('no token');
  const path = (i: number) => `/orders/${i % 10}`;
  const pool: string[] = [];
  const sign = async (n: number) => {
    const start = pool.length;
    for (let i = start; i < start + n; i++) pool.push(await key.proof('GET', `${gw}${path(i)}`, { accessToken: token }));
  };

  const rows: Array<[string, number, number, number, number]> = [];
  for (let round = 1; round <= 2; round++) {
    const plain = createKeepAliveClient(`http://127.0.0.1:${plainPort}`, CONNECTIONS);
    const rp = await runHttpLoad({ client: plain, concurrency: CONNECTIONS, warmupMs: 500, durationMs: SECONDS * 1000, request: (i) => ({ path: path(i) }) });
    plain.close();
    pool.length = 0;
    await sign(Math.ceil(Math.max(2000, rp.opsPerSec * 0.6) * (SECONDS + 1)));
    let next = 0;
    const auth = createKeepAliveClient(gw, CONNECTIONS);
    const ra = await runHttpLoad({
      client: auth,
      concurrency: CONNECTIONS,
      warmupMs: 0,
      durationMs: SECONDS * 1000,
      maxOps: pool.length,
      request: () => {
        const i = next++;
        return { path: path(i), headers: { authorization: `DPoP ${token}`, dpop: pool[i]! } };
      },
    });
    auth.close();
    if (ra.failures) console.log(`round ${round}: ${ra.failures} failures, e.g. ${ra.firstFailure}`);
    console.log(`round ${round}: plain ${fmtNum(rp.opsPerSec)} req/s, with Tether ${fmtNum(ra.okPerSec)} req/s`);
    rows.push(['nginx → upstream (no auth)', rp.opsPerSec, rp.latency.p50, rp.latency.p99, round]);
    rows.push(['nginx auth_request → Tether → upstream', ra.okPerSec, ra.latency.p50, ra.latency.p99, round]);
  }
  const best = (name: string) => rows.filter((r) => r[0] === name).sort((a, b) => b[1] - a[1])[0]!;
  const a = best('nginx auth_request → Tether → upstream');
  const p = best('nginx → upstream (no auth)');
  console.log(`\nGateway enforcement, ${CONNECTIONS} keep-alive connections, ${SECONDS} s (best of 2), durable audit on PostgreSQL:`);
  printTable(['path', 'req/s', 'p50 ms', 'p99 ms'], [p, a].map((r) => [r[0], fmtNum(r[1]), r[2].toFixed(2), r[3].toFixed(2)]));
  console.log(`with Tether / without auth: ${((a[1] / p[1]) * 100).toFixed(1)} % of the rate; added p50 ${(a[2] - p[2]).toFixed(2)} ms`);

  await authNginx.stop();
  await plainNginx.stop();
  broker.kill();
  upstream.kill();
}

if (ROLE === 'broker') await brokerRole(process.env.BENCH_GATEWAY!, JSON.parse(process.env.BENCH_ISSUER!));
else if (ROLE === 'upstream') upstreamRole();
else await main();
