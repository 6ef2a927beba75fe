/**
 * MCP tool calls per second through Tether's gateway (`/mcp/files`) beside the same calls made
 * directly to the same official-SDK Streamable HTTP server, in one run, with the same client code:
 * N official-SDK clients (`Client` + `StreamableHTTPClientTransport`), each connected once and then
 * calling `read_file {path: "/public/readme.txt"}` in a closed loop for a fixed time. Through Tether
 * every call is a bearer-token check, one kernel decision on `Tool::"files/read_file"` with the
 * arguments as context (durable audit of the decision with the argument digest), then the upstream
 * call and the streamed answer. The added p50/p99 is Tether's column minus the direct one.
 *
 * Layout: the SDK server and the broker each run in a child process; the clients (load) run here.
 * The broker child runs with --no-turbo-inline-js-wasm-calls (the V8 deoptimizer crash under load
 * that bench/token-exchange.bench.ts describes). Direct and gateway rounds alternate, so other work
 * on the shared machine hits both alike; each target's figures pool its rounds.
 *
 *   npm run bench -- mcp-gateway
 *   node --no-turbo-inline-js-wasm-calls dist/bench/mcp-gateway.bench.js [seconds=5] [clients=16]
 *   env: BENCH_STORE=pglite|pg|both (default pglite), BENCH_ROUNDS (default 2),
 *        BENCH_PROFILE=1 (CPU profile of the broker during its last round, top frames printed),
 *        TETHER_BENCH_PG_URL (admin connection, bench/lib/stores.ts)
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../src/config/index.js';
import { buildApp } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import type { StoreKind } from '../src/store/index.js';
import { mcpPolicies, startFilesServer } from '../test/helpers/mcp-files.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES } from '../test/helpers/workload-issuer.js';
import { fmtNum, openBenchStore, pgAvailable, printTable, summarize, nowMs } from './lib/index.js';

const SECONDS = Number(process.argv[2] ?? 5);
const CLIENTS = Number(process.argv[3] ?? 16);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const STORES: StoreKind[] = process.env.BENCH_STORE === 'pg' ? ['pg'] : process.env.BENCH_STORE === 'both' ? ['pglite', 'pg'] : ['pglite'];
const PROFILE = process.env.BENCH_PROFILE === '1';
const ADMIN = 'bench-admin-token-0123456789abcdef';
const ROLE = process.env.BENCH_ROLE;
const SELF = fileURLToPath(import.meta.url);

type Msg = { id: number; cmd: string; arg?: unknown };

// ───────────────────────────────────────── children ─────────────────────────────────────────

async function childUpstream(): Promise<void> {
  const files = await startFilesServer();
  process.on('disconnect', () => void files.close().then(() => process.exit(0)));
  process.send!({ ready: true, url: files.url });
}

async function childTether(kind: StoreKind): Promise<void> {
  const bs = await openBenchStore(kind);
  const config = loadConfig(
    { port: 0, logLevel: 'info', dataDir: kind === 'pglite' ? bs.where : tmpdir(), ...(kind === 'pg' ? { databaseUrl: 'postgres://unused/x' } : {}), masterKey: randomBytes(32).toString('base64url') },
    {},
  );
  const sink = new Writable({ write: (_c, _e, cb) => cb() }); // info level as in production; lines dropped
  const broker = await buildApp({ config, store: bs.store, logger: createLogger('info', sink), adminToken: ADMIN });
  const url = await broker.app.listen({ port: 0, host: '127.0.0.1' });
  broker.setListenUrl(url);
  let session: Session | null = null;
  process.on('message', (m: Msg) => {
    const reply = (result: unknown) => process.send!({ id: m.id, result });
    if (m.cmd === 'profileStart') {
      session = new Session();
      session.connect();
      void session
        .post('Profiler.enable')
        .then(() => session!.post('Profiler.setSamplingInterval', { interval: 1000 }))
        .then(() => session!.post('Profiler.start'))
        .then(() => reply(null));
    } else if (m.cmd === 'profileStop') {
      void session!.post('Profiler.stop').then(({ profile }) => {
        session!.disconnect();
        reply(topFrames(profile as unknown as CpuProfile));
      });
    }
  });
  process.on('disconnect', () => void broker.close().then(() => bs.dispose()).then(() => process.exit(0)));
  process.send!({ ready: true, url });
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
}

/** Self time by frame and by where the code lives (Tether, a package, Node), as shares of all samples. */
function topFrames(p: CpuProfile): { frames: [string, number][]; areas: [string, number][] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const id of p.samples) {
    const f = byId.get(id)!;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url)?.[1];
    const area =
      pkg ??
      (f.url.includes('/dist/src/')
        ? `tether ${f.url.split('/dist/src/')[1]!.split('/')[0]}`
        : f.url.startsWith('wasm://')
          ? 'wasm (Cedar, PGlite)'
          : f.url.includes('undici')
            ? 'node: undici (fetch, web streams)'
            : /node:internal\/webstreams|node:stream|streams/.test(f.url)
              ? 'node: streams'
              : f.url.startsWith('node:')
                ? `node: ${f.url.slice(5).split('/').slice(0, 2).join('/')}`
                : f.url === ''
                  ? `(${f.functionName || 'native'})`
                  : f.url);
    const where = f.url.includes('/dist/') ? f.url.split('/dist/')[1] : pkg ?? f.url;
    const key = `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
    frames.set(key, (frames.get(key) ?? 0) + 1);
    areas.set(area, (areas.get(area) ?? 0) + 1);
  }
  const share = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => [k, v / p.samples.length] as [string, number]);
  return { frames: share(frames, 20), areas: share(areas, 14) };
}

// ───────────────────────────────────────── parent ─────────────────────────────────────────

interface Child {
  url: string;
  call<T>(cmd: string, arg?: unknown): Promise<T>;
  stop(): void;
}

async function startChild(role: string, extra: Record<string, string> = {}, execArgv: string[] = []): Promise<Child> {
  const child: ChildProcess = fork(SELF, [], { env: { ...process.env, BENCH_ROLE: role, ...extra }, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { url: string }).url));
    child.once('exit', (code) => reject(new Error(`${role} child exited (${code})`)));
  });
  let next = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  child.on('message', (m) => {
    const r = m as { id?: number; result?: unknown };
    if (r.id !== undefined) waiting.get(r.id)?.(r.result);
  });
  return {
    url,
    call: <T>(cmd: string, arg?: unknown) =>
      new Promise<T>((resolve) => {
        const id = next++;
        waiting.set(id, resolve as (v: unknown) => void);
        child.send({ id, cmd, arg });
      }),
    stop: () => child.disconnect(),
  };
}

/** N SDK clients, connected once (initialize + initialized), calling one tool in a closed loop. */
async function measure(url: string, bearer: string | null, seconds: number): Promise<{ ops: number; seconds: number; lat: number[] }> {
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = new Client({ name: 'bench-agent', version: '1.0.0' });
      await c.connect(new StreamableHTTPClientTransport(new URL(url), bearer ? { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } } : {}));
      return c;
    }),
  );
  const call = async (c: Client) => {
    const r = await c.callTool({ name: 'read_file', arguments: { path: '/public/readme.txt' } });
    if (r.isError || !Array.isArray(r.content) || r.content.length !== 1) throw new Error(`unexpected answer: ${JSON.stringify(r)}`);
  };
  const loop = async (ms: number, lat: number[] | null) => {
    const deadline = nowMs() + ms;
    await Promise.all(
      clients.map(async (c) => {
        while (nowMs() < deadline) {
          const s = nowMs();
          await call(c);
          lat?.push(nowMs() - s);
        }
      }),
    );
  };
  await loop(500, null); // warm-up: connections, JIT
  const lat: number[] = [];
  const t0 = nowMs();
  await loop(seconds * 1000, lat);
  const elapsed = (nowMs() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return { ops: lat.length, seconds: elapsed, lat };
}

/** A difference with its sign; noise on a shared machine can make an added percentile negative. */
const signed = (x: number) => `${x >= 0 ? '+' : ''}${fmtNum(x, 2)}`;

async function runStore(kind: StoreKind, upstreamUrl: string): Promise<(string | number)[][]> {
  const tether = await startChild('tether', { BENCH_KIND: kind }, ['--no-turbo-inline-js-wasm-calls']);
  try {
    const gha = await createWorkloadIssuer();
    const aud = `${tether.url}/mcp/files`;
    const applied = await fetch(`${tether.url}/admin/v1/apply`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], mcp_servers: [{ name: 'files', upstream: upstreamUrl }], policies: mcpPolicies(aud) }),
    });
    if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${await applied.text()}`);
    // On PostgreSQL an apply reaches the instance's caches through its change feed, a moment later.
    let token: string | undefined;
    let last = '';
    for (let i = 0; i < 50 && !token; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 200));
      const ex = await fetch(`${tether.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: await gha.token(), subject_token_type: 'urn:ietf:params:oauth:token-type:jwt', scope: 'tools/call', audience: aud }),
      });
      const body = (await ex.json()) as { access_token?: string };
      token = body.access_token;
      last = `${ex.status} ${JSON.stringify(body)}`;
    }
    if (!token) throw new Error(`token exchange: ${last}`);

    const pooled = { direct: { ops: 0, seconds: 0, lat: [] as number[] }, tether: { ops: 0, seconds: 0, lat: [] as number[] } };
    let profile: ReturnType<typeof topFrames> | null = null;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of ['direct', 'tether'] as const) {
        const profiling = PROFILE && target === 'tether' && round === ROUNDS;
        if (profiling) await tether.call('profileStart');
        const r = target === 'direct' ? await measure(upstreamUrl, null, SECONDS) : await measure(aud, token, SECONDS);
        if (profiling) profile = await tether.call('profileStop');
        const p = pooled[target];
        p.ops += r.ops;
        p.seconds += r.seconds;
        for (const x of r.lat) p.lat.push(x);
        console.log(`${kind} round ${round} ${target}: ${fmtNum(r.ops / r.seconds)} calls/s (load avg ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
      }
    }
    if (profile) {
      console.log(`\nBroker CPU profile (${kind}, last gateway round), self time by area:`);
      printTable(['area', 'share'], profile.areas.map(([k, v]) => [k, `${fmtNum(v * 100, 1)} %`]));
      console.log('Top frames by self time:');
      printTable(['frame', 'share'], profile.frames.map(([k, v]) => [k, `${fmtNum(v * 100, 1)} %`]));
    }
    const d = summarize(pooled.direct.lat);
    const t = summarize(pooled.tether.lat);
    const dRate = pooled.direct.ops / pooled.direct.seconds;
    const tRate = pooled.tether.ops / pooled.tether.seconds;
    return [
      [`direct to the SDK server`, '-', fmtNum(dRate), fmtNum(d.p50, 2), fmtNum(d.p99, 2), '', ''],
      [`through Tether /mcp/files`, kind, fmtNum(tRate), fmtNum(t.p50, 2), fmtNum(t.p99, 2), signed(t.p50 - d.p50), signed(t.p99 - d.p99)],
    ];
  } finally {
    tether.stop();
  }
}

async function main() {
  const upstream = await startChild('upstream');
  const rows: (string | number)[][] = [];
  try {
    for (const kind of STORES) {
      if (kind === 'pg' && !(await pgAvailable())) {
        console.log('PostgreSQL is not reachable: skipping the pg broker.');
        continue;
      }
      rows.push(...(await runStore(kind, upstream.url)));
    }
  } finally {
    upstream.stop();
  }
  console.log(`\nMCP tools/call (read_file), ${CLIENTS} official-SDK clients, ${SECONDS} s × ${ROUNDS} rounds per target, rounds alternating:`);
  printTable(['target', 'store', 'calls/s', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms'], rows);
}

if (ROLE === 'upstream') {
  childUpstream().catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else if (ROLE === 'tether') {
  childTether(process.env.BENCH_KIND as StoreKind).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
