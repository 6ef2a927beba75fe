/**
 * Token exchanges per second (RFC 8693 + DPoP) against oidc-provider's client_credentials
 * grant, over HTTP, in one run on one machine, then where the time of an exchange goes.
 *
 * Every Tether request is what a workload sends: a fresh DPoP proof (ES256, new jti) + a platform
 * subject token (GitHub-Actions-shaped, ES256; a pool of 64 pre-minted ones, each serving several
 * exchanges as platform tokens do) + `scope=orders:read` for an audience the policy allows. Tether
 * then does subject-token verify + DPoP verify and cluster-wide jti claim + identity + Cedar + grant
 * reuse + mint (EdDSA JWT) + a durable audit record (group commit; PostgreSQL with fsync on).
 * The baseline is oidc-provider v9, client_credentials with client_secret_basic, in-memory adapter:
 * opaque tokens (the default), JWT tokens (resource indicator → `accessTokenFormat: 'jwt'`, EdDSA),
 * and JWT + DPoP (the closest thing it has to a bound token).
 *
 * Layout (2 cores): each server runs in a child process pinned to CPU 1 (`taskset -c 1`, whose
 * libuv threadpool — WebCrypto sign/verify/digest — shares that core); this process is the load
 * generator, pinned to CPU 0: closed loop, C keep-alive connections (bench/lib/load.ts). DPoP proofs
 * are signed by the generator: on the fly during warm-up, then a pool sized from the warm-up rate is
 * signed before the measured phase, so the measured phase only looks proofs up. PostgreSQL (the
 * machine's server) is not pinned. BENCH_PIN=0 turns pinning off. All servers run side by side
 * (idle unless measured); after one warm-up each, every case is measured in rounds interleaved with
 * the others and the median round is kept, so that other work on the machine (a shared 2-core box)
 * hits each system alike; the `other` column says how many cores that work took meanwhile. The
 * server's CPU per request (all its threads) is printed too: it moves much less with that noise.
 *
 * Then, on the PostgreSQL broker: (1) an instrumented copy of the token route (the same
 * createExchange, its dependencies wrapped with timers) under the same load and at concurrency 1,
 * giving each step's wall time; (2) a CPU profile of the real route under load (node:inspector in
 * the server, 1 ms sampling), grouped by component and by the nearest Tether frame; (3) each step
 * alone in the server, sequentially, with the alternatives an optimization would use; (4) what-if:
 * a local copy of the exchange with those optimizations (whatIfRoute), interleaved with the real
 * route, to measure their gain.
 *
 * Known: Node 20.20.2 aborts a Tether server under sustained load ("Fatal error ... unreachable
 * code" in V8's Deoptimizer::DoComputeBuiltinContinuation) unless TurboFan's inlining of JS→Wasm
 * calls is off, so the server children run with --no-turbo-inline-js-wasm-calls (see
 * SERVER_NODE_FLAGS; BENCH_SERVER_NODE_FLAGS= reproduces the crash). If a child still dies, its
 * stderr is printed, its cases are dropped, the others go on, and the run exits 1.
 *
 *   npm run bench -- token-exchange
 *   node dist/bench/token-exchange.bench.js
 *   env: BENCH_SECONDS (measured per case, default 6), BENCH_ROUNDS (default 3), BENCH_WARMUP_SECONDS
 *        (default 2), BENCH_CONCURRENCY (default 64), BENCH_PIN (default 1), BENCH_PROFILE_DIR (keeps
 *        the .cpuprofile for Chrome DevTools), BENCH_DIAGNOSE (default 1; 0 runs the comparison only),
 *        BENCH_DIAGNOSE_STORE (pg, the default, or pglite: which broker the diagnostics look into), BENCH_SERVER_NODE_FLAGS (default --no-turbo-inline-js-wasm-calls);
 *        TETHER_BENCH_PG_URL (admin connection, bench/lib/stores.ts)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { TetherError } from '../src/errors.js';
import { checkClaimConstraints, createJwksCache, renderIdentity, verifySubjectToken } from '../src/federation/index.js';
import type { Grant } from '../src/grants/grants.js';
import { evaluate } from '../src/policy/index.js';
import { loadConfig } from '../src/config/index.js';
import { buildApp, type Broker } from '../src/server/app.js';
import { createLogger } from '../src/server/logger.js';
import { openStore } from '../src/store/index.js';
import { mintAccessToken } from '../src/tokens/access-token.js';
import { verifyDpopProof } from '../src/tokens/dpop-proof.js';
import { createExchange } from '../src/tokens/exchange.js';
import { parseForm } from '../src/tokens/form.js';
import { DEFAULT_JWS_ALGORITHMS, hasPrivateMembers } from '../src/tokens/algorithms.js';
import { normalizeHtu } from '../src/tokens/htu.js';
import type { KeyRing } from '../src/tokens/key-ring.js';
import { createMemoryReplayGuard } from '../src/tokens/replay-guard.js';
import { createWorkloadIssuer, EXCHANGE_IDENTITIES, EXCHANGE_POLICIES, ORDERS_AUD } from '../test/helpers/workload-issuer.js';
import { createKeepAliveClient, runHttpLoad, type HttpLoadResult, type HttpReply, type HttpRequestSpec, type KeepAliveClient } from './lib/load.js';
import { createPgDatabase, fmtNum, pgAvailable, pgSettings, printTable, summarize } from './lib/index.js';

/** Measured seconds per case, split into BENCH_ROUNDS rounds interleaved with the other cases. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const ROUND_SECONDS = SECONDS / ROUNDS;
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const PIN = process.env.BENCH_PIN !== '0';
/**
 * Node flags of the server children. Without this one, Node 20.20.2 aborts a Tether server under
 * this load within ~5–25 s (4 of 5 soak runs): "Fatal error ... unreachable code" in V8's
 * Deoptimizer::DoComputeBuiltinContinuation, i.e. a deopt inside a TurboFan-inlined JS→Wasm call
 * (cedar-wasm; PGlite is wasm too). With it, 3 of 3 soaks of 45 s passed at the same rate.
 */
const SERVER_NODE_FLAGS = (process.env.BENCH_SERVER_NODE_FLAGS ?? '--no-turbo-inline-js-wasm-calls').split(' ').filter(Boolean);
/** The target: at least oidc-provider's rate for its closest grant, a DPoP-bound JWT (client_credentials). */
const TARGET = 1.0;
/** BENCH_DIAGNOSE=0: only the comparison, without the where-the-time-goes diagnostics and what-ifs. */
const DIAGNOSE = process.env.BENCH_DIAGNOSE !== '0';
/** Proof pools never exceed this (64 µs per ES256 signature here: ~6 s). */
const MAX_POOL = 100_000;

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const TE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const OIDC_CLIENT = { id: 'bench-client', secret: 'bench-client-secret-0123456789abcdef' };
const SELF = fileURLToPath(import.meta.url);
const hr = () => performance.now() * 1000; // µs
const b64u = (s: string | Buffer) => Buffer.from(s).toString('base64url');

// ───────────────────────────────────────── children ─────────────────────────────────────────

type Msg = { id: number; cmd: string; arg?: unknown };
type Handler = (arg: unknown) => Promise<unknown> | unknown;

/** Child side of the IPC protocol: `ready` once listening, then request/response by id. */
function serveIpc(url: string, handlers: Record<string, Handler>, close: () => Promise<void>) {
  let mark = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), t: hr() };
  const all: Record<string, Handler> = {
    ...handlers,
    // Server-side resource use between two points (the measured phase): CPU of every thread, event-loop utilisation.
    mark: () => {
      mark = { cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), t: hr() };
      return null;
    },
    sinceMark: () => {
      const c = process.cpuUsage(mark.cpu);
      return { cpuSeconds: (c.user + c.system) / 1e6, elu: performance.eventLoopUtilization(mark.elu).utilization, seconds: (hr() - mark.t) / 1e6 };
    },
  };
  process.on('message', (m: Msg) => {
    if (m.cmd === 'close') {
      void close().finally(() => {
        process.send!({ id: m.id, result: null }, () => process.exit(0));
      });
      return;
    }
    Promise.resolve()
      .then(() => all[m.cmd]!(m.arg))
      .then(
        (result) => process.send!({ id: m.id, result }),
        (e: Error) => process.send!({ id: m.id, error: e.stack ?? String(e) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, url });
}

/** Step labels: the wall time ending at each mark (the marks of one exchange arrive in this order). */
const STEP = {
  preHandler: 'fastify: read body, form parser, hooks',
  handler: 'fastify: read body, form parser, hooks',
  parse: 'parse form + parameters',
  'replay>': 'DPoP proof verify (jose parse, OpenSSL ES256) + jkt',
  replay: 'DPoP jti replay claim (LRU + batched INSERT)',
  dpop: 'DPoP proof verify (jose parse, OpenSSL ES256) + jkt',
  subject: 'subject token verify (jose ES256)',
  'inventory>': 'glue',
  inventory: 'inventory.get (SELECT identities, uncached)',
  'principal>': 'glue',
  principal: 'Cedar principal (identity cache)',
  policy: 'Cedar evaluate (per scope)',
  'grant>': 'glue',
  grant: 'grant openOrReuse (SELECT grants)',
  'sign>': 'glue',
  sign: 'mint: sign access token (jose EdDSA)',
  'audit>': 'glue',
  audit: 'audit append: wait for group commit',
  end: 'glue',
  response: 'fastify: serialize + write reply',
} as const satisfies Record<string, string>;

interface StepStats {
  label: string;
  mean: number;
  p50: number;
  p99: number;
}

/** The Tether server: a real broker (buildApp) plus an instrumented copy of the token route. */
async function childTether(kind: 'pg' | 'pglite', where: string): Promise<void> {
  const store = await openStore(kind === 'pg' ? { databaseUrl: where } : { dataDir: where });
  const config = loadConfig(
    {
      port: 0,
      logLevel: 'info',
      dataDir: kind === 'pglite' ? where : tmpdir(),
      ...(kind === 'pg' ? { databaseUrl: where } : {}),
      masterKey: randomBytes(32).toString('base64url'),
    },
    {},
  );
  const sink = new Writable({ write: (_c, _e, cb) => cb() }); // info level, as in production; lines dropped
  const broker = await buildApp({ config, store, logger: createLogger('info', sink), adminToken: ADMIN_TOKEN });
  const steps = instrumentedRoute(broker);
  whatIfRoute(broker);
  const address = await broker.app.listen({ port: 0, host: '127.0.0.1' });
  broker.setListenUrl(address);

  let session: Session | null = null;
  serveIpc(
    address,
    {
      stepsReset: () => steps.reset(),
      steps: () => steps.report(),
      profileStart: async () => {
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 1000 });
        await session.post('Profiler.start');
        return null;
      },
      profileStop: async (arg) => {
        const { profile } = await session!.post('Profiler.stop');
        session!.disconnect();
        session = null;
        const { ops, keepDir } = arg as { ops: number; keepDir?: string };
        let saved: string | undefined;
        if (keepDir) {
          mkdirSync(keepDir, { recursive: true });
          saved = join(keepDir, `token-exchange-${kind}-${Date.now()}.cpuprofile`);
          writeFileSync(saved, JSON.stringify(profile));
        }
        return { ...analyzeProfile(profile as unknown as CpuProfile, ops), saved };
      },
      stats: async () => {
        const issued = (await broker.metrics.issuances.get()).values.find((v) => v.labels.outcome === 'issued')?.value ?? 0;
        const audited = await broker.store.query<{ n: number }>("SELECT count(*)::int AS n FROM audit_events WHERE type = 'token.issued'");
        const batch = await broker.metrics.auditBatchSize.get();
        const secs = await broker.metrics.auditCommitSeconds.get();
        const val = (m: typeof batch, suffix: string) => m.values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
        return {
          issued,
          auditedIssued: audited.rows[0]!.n,
          commits: val(batch, '_count'),
          meanBatch: val(batch, '_sum') / Math.max(1, val(batch, '_count')),
          meanCommitMs: (1000 * val(secs, '_sum')) / Math.max(1, val(secs, '_count')),
        };
      },
      micro: (arg) => microSteps(broker, arg as MicroInput),
    },
    () => broker.close(),
  );
}

/**
 * POST /bench/token: the token route with the real exchange steps (createExchange), whose
 * dependencies are wrapped with timers; the steps between them are timed by the exchange's own
 * `note` calls, which come right after parsing, DPoP, the subject token and the policy decision.
 */
function instrumentedRoute(broker: Broker) {
  type Marks = { n: string[]; t: number[] };
  const mark = (m: Marks | undefined, name: string) => {
    if (m) {
      m.n.push(name);
      m.t.push(hr());
    }
  };
  const t = broker.tokens;
  const jwks = createJwksCache({ clock: () => new Date() });
  // One exchange per request, its dependencies bound to that request's marks (createExchange only
  // builds a closure). AsyncLocalStorage would do it without, but enabling async hooks here ran into
  // a V8 deoptimizer crash (Node 20.20, "unreachable code" in DoComputeBuiltinContinuation).
  const exchangeFor = (m: Marks) => {
    const timed =
      <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        mark(m, `${name}>`);
        try {
          return await fn(...a);
        } finally {
          mark(m, name);
        }
      };
    const ring = (r: KeyRing): KeyRing => ({ maxTokenLifetimeSeconds: r.maxTokenLifetimeSeconds, activeKey: r.activeKey, jwks: r.jwks, verifyJwt: r.verifyJwt, sign: timed('sign', (c, h) => r.sign(c, h)) });
    return createExchange({
      checkToken: (tok: string) => t.check(tok),
      issuerUrl: broker.issuerUrl,
      tokenTtl: broker.config.tokenTtl,
      issuers: t.issuers,
      jwks,
      replay: { claim: timed('replay', (k: string, e: number) => t.replay.claim(k, e)) },
      nonces: null,
      inventory: { get: timed('inventory', (id: string) => broker.inventory.get(id)), discover: broker.inventory.discover },
      kernel: { decideUnrecorded: timed('policy', (i: Parameters<typeof broker.pdp.pipeline.decideUnrecorded>[0]) => broker.pdp.pipeline.decideUnrecorded(i)) },
      grants: { openOrReuse: timed('grant', (r: Parameters<typeof t.grants.openOrReuse>[0]) => t.grants.openOrReuse(r)) },
      keys: { ring: () => ring(t.keys.ring()) },
      audit: { append: timed('audit', (e: Parameters<typeof broker.audit.append>[0]) => broker.audit.append(e)) },
      metrics: broker.metrics,
      clock: broker.clock,
    });
  };
  const noteFor = (m: Marks) => (f: Record<string, unknown>) => {
    if ('scope' in f) mark(m, 'parse');
    else if ('jkt' in f) mark(m, 'dpop');
    else if ('identity' in f) mark(m, 'subject');
    else if ('policies' in f) mark(m, 'policy');
  };

  let samples = new Map<string, number[]>();
  let totals: number[] = [];
  const byReq = new WeakMap<object, Marks>();
  const fold = (m: Marks) => {
    const sums = new Map<string, number>();
    for (let i = 1; i < m.n.length; i++) {
      const label = STEP[m.n[i] as keyof typeof STEP] ?? m.n[i]!;
      sums.set(label, (sums.get(label) ?? 0) + (m.t[i]! - m.t[i - 1]!));
    }
    for (const [label, v] of sums) {
      let a = samples.get(label);
      if (!a) samples.set(label, (a = []));
      a.push(v);
    }
    totals.push(m.t[m.t.length - 1]! - m.t[0]!);
  };

  broker.app.post(
    '/bench/token',
    {
      onRequest: async (req) => {
        byReq.set(req.raw, { n: ['onRequest'], t: [hr()] });
      },
      preHandler: async (req) => mark(byReq.get(req.raw), 'preHandler'),
      onResponse: async (req, reply) => {
        const m = byReq.get(req.raw);
        if (m && reply.statusCode === 200) {
          mark(m, 'response');
          fold(m);
        }
      },
    },
    async (req, reply) => {
      const m = byReq.get(req.raw)!;
      mark(m, 'handler');
      const form = parseForm(req.body);
      const dpop = req.headers.dpop;
      const out = await exchangeFor(m)({ form, dpop: Array.isArray(dpop) ? dpop.join(', ') : dpop, sourceIp: req.ip }, noteFor(m));
      mark(m, 'end');
      reply.header('Cache-Control', 'no-store');
      return out.body;
    },
  );

  return {
    reset: () => {
      samples = new Map();
      totals = [];
      return null;
    },
    report: (): { count: number; total: StepStats; steps: StepStats[] } => {
      const st = (label: string, a: number[]): StepStats => {
        const s = summarize(a);
        // A step some requests skip (none here) still averages over every request.
        return { label, mean: a.reduce((x, y) => x + y, 0) / Math.max(1, totals.length), p50: s.p50, p99: s.p99 };
      };
      return { count: totals.length, total: st('total (onRequest → onResponse)', totals), steps: [...samples].map(([l, a]) => st(l, a)) };
    },
  };
}

/**
 * POST /bench/token-whatif: a local copy of the exchange with the optimizations this bench
 * suggests, switched on by the `x-bench-opt` header, to measure their gain rather than guess it:
 *
 * - `crypto`: JWS verify and sign with node:crypto, synchronously, with imported keys cached (DPoP
 *   keys by their JWK, issuer keys by issuer and kid) instead of jose over WebCrypto (a threadpool
 *   job per verify, sign and digest, and a JWK import per proof). The minted token is signed with a
 *   local Ed25519 key under the ring's kid (the ring keeps its private key to itself): same cost,
 *   but it does not verify against the JWKS. Every check of the real flow is still made.
 * - `cache`: no query per exchange for what memory already knows: the identity from the identity
 *   cache (which has status and environment) instead of inventory.get; a live grant from a local
 *   map (dropped on any revocation notice) instead of the SELECT in grants.findActive.
 * - `claim`: the DPoP jti claim batch as one autocommit INSERT (dpop_jti is UNLOGGED: its commit
 *   does not wait for a WAL flush) instead of BEGIN; SET LOCAL; INSERT; COMMIT.
 *
 * Cedar, the policy loop, the grant on a miss and the durable group-commit audit are the real ones.
 * Left out of both copies (this one and /bench/token): the lifecycle hooks the composition root
 * passes to the real exchange (reviews' onClaims, detection's), a few µs per exchange.
 */
function whatIfRoute(broker: Broker) {
  const t = broker.tokens;
  const now = () => Math.floor(Date.now() / 1000);
  const issuerKeys = new Map<string, KeyObject>();
  const proofKeys = new Map<string, { key: KeyObject; jkt: string }>();
  const grants = new Map<string, Grant>();
  broker.changes.on('revocation', () => grants.clear());
  const ed = generateKeyPairSync('ed25519').privateKey;
  const b64json = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;
  const es256 = (input: string, sig: string, key: KeyObject) => cryptoVerify('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'));

  // Replay: the local LRU first, then one autocommit INSERT per tick for the cluster (pg only).
  const local = createMemoryReplayGuard({ max: 200_000 });
  let pending: Array<{ key: string; exp: number; resolve(ok: boolean): void; reject(e: unknown): void }> = [];
  const flush = async () => {
    const batch = pending;
    pending = [];
    try {
      const r = await broker.store.query<{ key: string }>(
        `INSERT INTO dpop_jti AS t (key, expires_at)
         SELECT k, to_timestamp(e) FROM unnest($1::text[], $2::float8[]) AS x(k, e)
         ON CONFLICT (key) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE t.expires_at <= now()
         RETURNING key`,
        [batch.map((x) => x.key), batch.map((x) => x.exp)],
      );
      const won = new Set(r.rows.map((x) => x.key));
      for (const x of batch) x.resolve(won.has(x.key));
    } catch (e) {
      for (const x of batch) x.reject(e);
    }
  };
  const oneStatementClaim = async (key: string, exp: number): Promise<boolean> => {
    if (!(await local.claim(key, exp))) return false;
    if (broker.store.kind !== 'pg') return true;
    return new Promise<boolean>((resolve, reject) => {
      if (pending.push({ key, exp, resolve, reject }) === 1) setImmediate(() => void flush());
    });
  };

  const fastDpop = async (proof: string, htu: string, claim: (k: string, e: number) => Promise<boolean>) => {
    const refuse = (why: string) => new TetherError('invalid_dpop_proof', why);
    if (proof.length > 8192) throw refuse('DPoP proof is too large');
    const parts = proof.split('.');
    if (parts.length !== 3) throw refuse('DPoP proof must be a compact JWS');
    const [h, p, sig] = parts as [string, string, string];
    const header = b64json(h) as { typ?: unknown; alg?: unknown; jwk?: Record<string, unknown> };
    if (header.typ !== 'dpop+jwt') throw refuse('DPoP proof typ header must be "dpop+jwt"');
    if (header.alg !== 'ES256') throw refuse('what-if: ES256 proofs only');
    const jwk = header.jwk;
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw refuse('DPoP proof has no jwk header');
    if (hasPrivateMembers(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw refuse('DPoP proof jwk header must be a public P-256 key');
    const canonical = `{"crv":"P-256","kty":"EC","x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`; // RFC 7638 member order
    let k = proofKeys.get(canonical);
    if (!k) {
      k = { key: createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, format: 'jwk' }), jkt: createHash('sha256').update(canonical).digest('base64url') };
      if (proofKeys.size >= 10_000) proofKeys.delete(proofKeys.keys().next().value!);
      proofKeys.set(canonical, k);
    }
    if (!es256(`${h}.${p}`, sig, k.key)) throw refuse('DPoP proof signature verification failed');
    const payload = b64json(p);
    const { jti, iat } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw refuse('DPoP proof jti must be a string of 1 to 256 characters');
    if (payload.htm !== 'POST') throw refuse('DPoP proof htm does not match the request method');
    if (typeof payload.htu !== 'string' || normalizeHtu(payload.htu) !== normalizeHtu(htu)) throw refuse('DPoP proof htu does not match the request URI');
    const n = now();
    if (typeof iat !== 'number' || iat > n + 5 || iat < n - 60) throw refuse('DPoP proof iat is outside the window');
    const replayKey = createHash('sha256').update(`dpop\0${k.jkt}\0${jti}`).digest('base64url');
    if (!(await claim(replayKey, iat + 65))) throw refuse('DPoP proof has already been used (jti replay)');
    return k.jkt;
  };

  const fastSubject = (token: string) => {
    const refuse = (why: string) => new TetherError('invalid_grant', why);
    if (token.length > 16384) throw refuse('subject token is too large');
    const parts = token.split('.');
    if (parts.length !== 3) throw refuse('subject token must be a compact JWS');
    const [h, p, sig] = parts as [string, string, string];
    const header = b64json(h) as { alg?: unknown; kid?: unknown };
    const claims = b64json(p);
    const issuer = t.issuers.list().find((c) => (c.kind ?? 'oidc') === 'oidc' && c.issuer === claims.iss && c.jwks !== undefined);
    if (!issuer) throw refuse('what-if: inline-JWKS OIDC issuers only');
    if (header.alg !== 'ES256' || !(issuer.algorithms ?? DEFAULT_JWS_ALGORITHMS).includes('ES256')) throw refuse('what-if: ES256 subject tokens only');
    const jwk = issuer.jwks!.keys.find((x) => x.kid === header.kid);
    if (!jwk) throw refuse('unknown kid');
    const cacheKey = `${issuer.name}\0${String(header.kid)}`;
    let key = issuerKeys.get(cacheKey);
    if (!key) issuerKeys.set(cacheKey, (key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })));
    if (!es256(`${h}.${p}`, sig, key)) throw refuse('subject token signature verification failed');
    const n = now();
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(issuer.audience)) throw refuse('subject token aud is not this broker');
    if (typeof claims.exp !== 'number' || claims.exp <= n - 30) throw refuse('subject token has expired');
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > n + 30)) throw refuse('subject token is not yet valid');
    checkClaimConstraints(issuer.claims, claims);
    return { issuer, identityId: renderIdentity(issuer.identity, claims) };
  };

  broker.app.post('/bench/token-whatif', async (req, reply) => {
    const opt = new Set(String(req.headers['x-bench-opt'] ?? '').split(','));
    const crypto = opt.has('crypto');
    const cache = opt.has('cache');
    const claim = opt.has('claim') ? oneStatementClaim : (k: string, e: number) => t.replay.claim(k, e);
    const form = parseForm(req.body);
    if (form.get('grant_type') !== TE || form.get('subject_token_type') !== JWT_TYPE) throw new TetherError('invalid_request', 'what-if: token exchange only');
    const subjectToken = form.get('subject_token') ?? '';
    const scopes = [...new Set((form.get('scope') ?? '').split(' ').filter(Boolean))];
    const audience = form.get('audience') ?? '';
    const htu = `${broker.issuerUrl()}/oauth/token`;
    const dpop = req.headers.dpop;
    if (typeof dpop !== 'string') throw new TetherError('invalid_dpop_proof', 'a DPoP proof is required');
    const jkt = crypto ? await fastDpop(dpop, htu, claim) : (await verifyDpopProof(dpop, { htm: 'POST', htu, replayGuard: { claim }, clock: () => new Date() })).jkt;
    const verified = crypto ? fastSubject(subjectToken) : await verifySubjectToken(subjectToken, t.issuers.list(), { jwks: whatIfJwks, clock: () => new Date(), replayGuard: t.replay });
    const identityId = verified.identityId;
    const ident = cache ? await broker.pdp.identities.get(identityId) : await broker.inventory.get(identityId);
    if (!ident || ident.status !== 'active') throw new TetherError('invalid_grant', `identity ${identityId} is not active`);
    const set = broker.pdp.policies.current()!.set;
    const time = new Date();
    const context = {
      phase: 'issue',
      risk: 0,
      now: { epoch: Math.floor(time.getTime() / 1000), hour: time.getUTCHours(), weekday: time.getUTCDay() },
      environment: ident.environment ?? '',
      task: { purpose: '', ticket: '' },
      break_glass: false,
      issuer: verified.issuer.name,
      request: { source_ip: req.ip },
    };
    const principal = (await broker.pdp.identities.get(identityId))!.entity;
    const policies = new Set<string>();
    for (const action of scopes) {
      const d = evaluate(set, { principal: { type: 'Identity', id: identityId }, action: { type: 'Action', id: action }, resource: { type: 'Audience', id: audience }, context, entities: [principal] });
      if (d.decision !== 'allow' || d.obligations.approval) throw new TetherError('invalid_scope', `what-if: ${action} is not plainly allowed`);
      d.policies.forEach((x) => policies.add(x));
    }
    const gkey = `${identityId}\0${audience}\0\0\0plain`;
    let grant = cache ? grants.get(gkey) : undefined;
    let reused = true;
    if (!grant || Date.parse(grant.not_after!) <= Date.now() + 5000 || !scopes.every((x) => grant!.actions.includes(x))) {
      const out = await t.grants.openOrReuse({ identity: identityId, audience, actions: scopes, task: {}, issuer: verified.issuer.name, ttlSeconds: 3600, approval: false, breakGlass: null });
      if (out.kind !== 'active') throw new TetherError('invalid_grant', 'what-if: grant is not active');
      grant = out.grant;
      reused = out.reused;
      if (cache) grants.set(gkey, grant);
    }
    const ttl = Math.max(1, Math.min(broker.config.tokenTtl, Math.floor((Date.parse(grant.not_after!) - Date.now()) / 1000)));
    let token: string;
    let jti: string;
    let iat: number;
    if (crypto) {
      iat = now();
      jti = randomBytes(16).toString('base64url');
      const claims = { iss: broker.issuerUrl(), sub: identityId, aud: audience, exp: iat + ttl, iat, jti, scope: scopes.join(' '), client_id: identityId, cnf: { jkt }, grant: grant.id, task: { id: grant.id } };
      const input = `${b64u(JSON.stringify({ typ: 'at+jwt', alg: 'EdDSA', kid: t.keys.ring().activeKey().kid }))}.${b64u(JSON.stringify(claims))}`;
      token = `${input}.${cryptoSign(null, Buffer.from(input), ed).toString('base64url')}`;
    } else {
      const m = await mintAccessToken(t.keys.ring(), { issuer: broker.issuerUrl(), subject: identityId, audience, scope: scopes, ttlSeconds: ttl, jkt, grantId: grant.id, task: { id: grant.id }, clock: () => new Date() });
      ({ token, jti } = m);
      iat = m.claims.iat;
    }
    await broker.audit.append({
      type: 'token.issued',
      actor: identityId,
      identity: identityId,
      data: { jti, grant: grant.id, aud: audience, scope: scopes, jkt, iat, exp: iat + ttl, ttl, issuer: verified.issuer.name, client_id: identityId, bearer: false, break_glass: false, policies: [...policies], reused_grant: reused, source_ip: req.ip, whatif: [...opt].join(',') },
    });
    broker.metrics.issuances.inc({ outcome: 'issued' });
    reply.header('Cache-Control', 'no-store');
    return { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'DPoP', expires_in: ttl, scope: scopes.join(' ') };
  });
}
const whatIfJwks = createJwksCache({ clock: () => new Date() });

interface MicroInput {
  subjects: string[];
  proofs: string[];
  htu: string;
}

/** Each step alone, sequentially, in the server process (pinned as under load): wall and CPU per call. */
async function microSteps(broker: Broker, input: MicroInput) {
  const t = broker.tokens;
  const now = () => Math.floor(Date.now() / 1000);
  const jwks = createJwksCache({ clock: () => new Date() });
  const issuers = t.issuers.list();
  const set = broker.pdp.policies.current()!.set;
  const identity = EXCHANGE_IDENTITIES[0]!.id;
  const principal = (await broker.pdp.identities.get(identity))!.entity;
  const ring = t.keys.ring();
  const rows: Array<{ step: string; wallUs: number; cpuUs: number; n: number }> = [];
  const run = async (step: string, n: number, fn: (i: number) => unknown) => {
    for (let i = 0; i < 50; i++) await fn(i); // warm (inputs 0..49; single-use inputs need n + 50)
    const c0 = process.cpuUsage();
    const t0 = hr();
    for (let i = 50; i < n + 50; i++) await fn(i);
    const wall = (hr() - t0) / n;
    const c = process.cpuUsage(c0);
    rows.push({ step, wallUs: wall, cpuUs: (c.user + c.system) / n, n });
  };

  // Subject token: the real function, then jose's work done synchronously with node:crypto.
  await run('subject token: verifySubjectToken (jose, WebCrypto)', 2000, (i) => verifySubjectToken(input.subjects[i % input.subjects.length]!, issuers, { jwks, clock: () => new Date() }));
  const issuerKey = createPublicKey({ key: issuers[0]!.jwks!.keys[0] as JWK as import('node:crypto').JsonWebKey, format: 'jwk' });
  await run('  alt: ES256 verify, node:crypto sync, cached KeyObject + JSON.parse', 2000, (i) => {
    const tok = input.subjects[i % input.subjects.length]!;
    const [h, p, s] = tok.split('.') as [string, string, string];
    JSON.parse(Buffer.from(h, 'base64url').toString());
    const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key: issuerKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok) throw new Error('bad signature');
    return JSON.parse(Buffer.from(p, 'base64url').toString());
  });

  // DPoP proof: the real function with an in-memory replay guard (the DB claim is measured below).
  const mem = createMemoryReplayGuard({ max: 1_000_000 });
  const half = Math.floor(input.proofs.length / 2);
  await run('DPoP: verifyDpopProof (jose, WebCrypto) incl. jkt, memory replay', half - 50, (i) => verifyDpopProof(input.proofs[i]!, { htm: 'POST', htu: input.htu, replayGuard: mem, clock: () => new Date() }));
  await run('  alt: ES256 verify, node:crypto sync, createPublicKey(jwk) per proof + jkt', half - 50, (i) => {
    const proof = input.proofs[half + i]!;
    const [h, p, s] = proof.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { jwk: { kty: string; crv: string; x: string; y: string } };
    const key = createPublicKey({ key: header.jwk, format: 'jwk' });
    if (!cryptoVerify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) throw new Error('bad proof');
    const { crv, kty, x, y } = header.jwk;
    createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
    return JSON.parse(Buffer.from(p, 'base64url').toString());
  });
  const someJwk = (JSON.parse(Buffer.from(input.proofs[0]!.split('.')[0]!, 'base64url').toString()) as { jwk: JWK }).jwk;
  await run('  part: jose calculateJwkThumbprint (WebCrypto digest)', 2000, () => calculateJwkThumbprint(someJwk, 'sha256'));
  await run('  part: node:crypto createHash thumbprint', 2000, () => createHash('sha256').update(JSON.stringify({ crv: someJwk.crv, kty: someJwk.kty, x: someJwk.x, y: someJwk.y })).digest('base64url'));

  // Store round trips, one at a time (no batching partner).
  let k = 0;
  await run('DPoP jti claim alone (cluster guard: LRU + tx INSERT)', 300, () => t.replay.claim(`bench-micro-${process.pid}-${k++}`, now() + 65));
  await run('inventory.get (SELECT identities)', 500, () => broker.inventory.get(identity));
  await run('identity cache get (Cedar principal)', 2000, () => broker.pdp.identities.get(identity));
  const grantReq = { identity, audience: ORDERS_AUD, actions: ['orders:read'], task: {}, issuer: 'github', ttlSeconds: 3600, approval: false, breakGlass: null };
  await run('grant openOrReuse (reuse: SELECT ≤50 grants)', 500, () => t.grants.openOrReuse(grantReq));
  await run('audit append alone (1 event per commit, fsync)', 200, (i) => broker.audit.append({ type: 'config.applied', actor: 'bench', identity, data: { changes: i } }));

  // Policy.
  const context = { phase: 'issue', risk: 0, now: { epoch: now(), hour: 12, weekday: 3 }, environment: 'prod', task: { purpose: '', ticket: '' }, break_glass: false, issuer: 'github', request: { source_ip: '127.0.0.1' } };
  const decide = (ctx: Record<string, unknown>, entities: typeof principal[]) => () =>
    evaluate(set, { principal: { type: 'Identity', id: identity }, action: { type: 'Action', id: 'orders:read' }, resource: { type: 'Audience', id: ORDERS_AUD }, context: ctx as typeof context, entities });
  await run('Cedar evaluate (1 scope, 1 entity, the exchange context)', 3000, decide(context, [principal]));
  await run('  part: same, context { phase, risk } only', 3000, decide({ phase: 'issue', risk: 0 }, [principal]));
  await run('  part: same, no entity', 3000, decide(context, []));

  // Minting: the real function (jose SignJWT, EdDSA, WebCrypto), then the same JWS with node:crypto.
  const mintOpts = { issuer: broker.issuerUrl(), subject: identity, audience: ORDERS_AUD, scope: ['orders:read'], ttlSeconds: 300, jkt: 'x'.repeat(43), grantId: 'g', task: { id: 'g' }, clock: () => new Date() };
  await run('mint: mintAccessToken (jose SignJWT EdDSA, WebCrypto)', 2000, () => mintAccessToken(ring, mintOpts));
  const ed = generateKeyPairSync('ed25519').privateKey;
  const hdr = b64u(JSON.stringify({ typ: 'at+jwt', alg: 'EdDSA', kid: ring.activeKey().kid }));
  await run('  alt: EdDSA sign, node:crypto sync (same claims)', 2000, () => {
    const iat = now();
    const body = b64u(JSON.stringify({ iss: mintOpts.issuer, sub: identity, aud: ORDERS_AUD, exp: iat + 300, iat, jti: randomBytes(16).toString('base64url'), scope: 'orders:read', client_id: identity, cnf: { jkt: mintOpts.jkt }, grant: 'g', task: { id: 'g' } }));
    const input2 = `${hdr}.${body}`;
    return `${input2}.${cryptoSign(null, Buffer.from(input2), ed).toString('base64url')}`;
  });
  await run('form: parseForm (URLSearchParams)', 5000, () => parseForm(`grant_type=${encodeURIComponent(TE)}&subject_token=${input.subjects[0]}&subject_token_type=${encodeURIComponent(JWT_TYPE)}&scope=orders%3Aread&audience=${encodeURIComponent(ORDERS_AUD)}`));
  return rows;
}

/** The baseline: oidc-provider v9, client_credentials, in-memory adapter. */
async function childOidc(variant: 'opaque' | 'jwt' | 'jwt+dpop'): Promise<void> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (issuer: string, config: unknown) => { callback(): http.RequestListener } };
  const signing = { ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }), alg: 'EdDSA', use: 'sig', kid: 'bench-1' };
  const jwt = variant !== 'opaque';
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: OIDC_CLIENT.id,
        client_secret: OIDC_CLIENT.secret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'orders:read',
        id_token_signed_response_alg: 'EdDSA',
      },
    ],
    scopes: ['orders:read'],
    jwks: { keys: [signing] },
    ttl: { ClientCredentials: 300 },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      dPoP: { enabled: variant === 'jwt+dpop' },
      resourceIndicators: {
        enabled: true,
        // opaque: no resource → the default opaque format; jwt: every request names the resource.
        defaultResource: () => (jwt ? ORDERS_AUD : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({ scope: 'orders:read', audience: resource, accessTokenTTL: 300, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } }),
      },
    },
  });
  server.on('request', provider.callback());
  serveIpc(issuer, {}, () => new Promise<void>((r) => server.close(() => r())));
}

// ───────────────────────────────────────── CPU profile ─────────────────────────────────────────

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const PKG_GROUP: Array<[RegExp, string]> = [
  [/^jose$/, 'jose (JWS/JWT)'],
  [/^@cedar-policy\//, 'Cedar (cedar-wasm)'],
  [/^pg(-.*)?$|^postgres-/, 'pg driver'],
  [/^@electric-sql\/pglite/, 'PGlite (wasm)'],
  [/^(fastify|@fastify\/.*|find-my-way|avvio|light-my-request|fast-json-stringify|fast-querystring|secure-json-parse|toad-cache|rfdc|abstract-logging|process-warning|fast-uri|ajv|fast-decode-uri-component|ret|safe-regex2|json-schema-ref-resolver)$/, 'fastify'],
  [/^(pino|sonic-boom|pino-std-serializers|thread-stream|on-exit-leak-free|fast-redact|@pinojs\/.*)$/, 'pino'],
  [/^(prom-client|tdigest|bintrees)$/, 'prom-client'],
  [/^zod$/, 'zod'],
];

/** file:// URL of the build root (dist/ or another --outDir): its src/ is Tether, its bench/ is this file. */
const BUILD_URL = pathToFileURL(dirname(dirname(SELF))).href + '/';

function componentOf(url: string): string {
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) {
    const pkg = nm[1]!;
    return PKG_GROUP.find(([re]) => re.test(pkg))?.[1] ?? pkg;
  }
  if (url.startsWith(`${BUILD_URL}src/`)) {
    const dir = url.slice(BUILD_URL.length).split('/').slice(0, 2).join('/');
    return dir === 'src/audit' ? 'tether src/audit (hash chain)' : `tether ${dir}`;
  }
  if (url.startsWith(`${BUILD_URL}bench/`)) return 'bench (IPC, instrumentation)';
  const n = url.replace(/^node:/, '');
  if (/crypto/.test(n)) return 'crypto';
  if (/_http_|(^|\/)http|llhttp/.test(n)) return 'node http';
  if (/(^|\/)(net|stream|streams|dgram|tcp|socket)/.test(n)) return 'node net/streams (socket writes: pg queries, replies)';
  if (/url|querystring/.test(n)) return 'node URL / URLSearchParams';
  if (/async_hooks|task_queues|timers|promise|process\//.test(n)) return 'node event loop, promises';
  if (/buffer|encoding|util/.test(n)) return 'node buffer/util';
  if (/events/.test(n)) return 'node events';
  if (/inspector/.test(n)) return 'profiler overhead (inspector)';
  return `node other (${n.split('/').slice(-1)[0]})`;
}

/** Crypto samples by operation: the WebCrypto op on the stack, else the node:crypto call. */
const CRYPTO_OPS: Array<[RegExp, string]> = [
  [/^ecdsaSignVerify$/, 'crypto: ECDSA P-256 verify (WebCrypto job)'],
  [/^eddsaSignVerify$/, 'crypto: EdDSA sign (WebCrypto job)'],
  [/^asyncDigest$/, 'crypto: SHA-256 digest (WebCrypto job; jwk thumbprint)'],
  [/^(ecImportKey|importKey|createPublicKey|initJwk|checkEcKeyData)$/, 'crypto: JWK → key import (EC point check)'],
  [/^(randomBytes|randomUUID|randomFillSync|getBufferedUUID)$/, 'crypto: random (jti, request id)'],
  [/^(createHash|Hash|digest|update)$/, 'crypto: node:crypto hash (replay key)'],
];

/**
 * Main-thread CPU by component (the frame nearest the sample with a URL, skipping wasm frames so
 * wasm counts for the package that called it) and by nearest Tether frame (src/ on the stack;
 * an async continuation has only the frames since its last await).
 */
function analyzeProfile(p: CpuProfile, ops: number) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const comp = new Map<string, number>();
  const tether = new Map<string, number>();
  const fns = new Map<string, number>();
  let active = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const leaf = byId.get(id)!;
    const fn = leaf.callFrame.functionName;
    if (fn === '(idle)') {
      idle += us;
      continue;
    }
    active += us;
    let c: string | undefined;
    if (fn === '(garbage collector)') c = 'V8 garbage collector';
    else if (fn === '(program)') c = '(program): native, not attributed (HTTP parser, syscalls, libuv)';
    let tf: string | undefined;
    let op: string | undefined;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (c === undefined && f.url && !f.url.startsWith('wasm://')) c = componentOf(f.url);
      if (op === undefined) op = CRYPTO_OPS.find(([re]) => re.test(f.functionName))?.[1];
      if (tf === undefined && f.url.startsWith(`${BUILD_URL}src/`)) tf = `${f.url.slice(BUILD_URL.length).replace(/\.js$/, '')} ${f.functionName || '(anonymous)'}`;
      if (c !== undefined && tf !== undefined && op !== undefined) break;
    }
    // A WebCrypto job's `run` on a one-core server: the main thread is preempted while the threadpool
    // thread it woke does the signature on the same core, so the sample lands on `run`.
    if (c === 'crypto') c = op ?? 'crypto: WebCrypto glue (webidl, algorithm checks, key objects)';
    c ??= fn.startsWith('(') ? fn : 'native/builtin';
    comp.set(c, (comp.get(c) ?? 0) + us);
    const tk = tf ?? '(no Tether frame on the stack: after an await, in HTTP, pg, timers)';
    tether.set(tk, (tether.get(tk) ?? 0) + us);
    const where = leaf.callFrame.url ? `${leaf.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '').replace(/^file:\/\//, '')}:${leaf.callFrame.lineNumber + 1}` : '';
    const fk = `${fn || '(anonymous)'} ${where}`.trim();
    fns.set(fk, (fns.get(fk) ?? 0) + us);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, usPerOp: us / Math.max(1, ops), share: us / Math.max(1, active) }));
  return {
    wallSeconds: (p.endTime - p.startTime) / 1e6,
    activeSeconds: active / 1e6,
    idleSeconds: idle / 1e6,
    ops,
    mainThreadUsPerOp: active / Math.max(1, ops),
    components: top(comp, 16),
    tether: top(tether, 14),
    functions: top(fns, 15),
  };
}

// ───────────────────────────────────────── parent ─────────────────────────────────────────

const rows: Row[] = [];
/** Cases or steps that failed (a server that crashed, a request refused): the run exits 1. */
const failures: string[] = [];

class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<string>;
  private seq = 0;
  private pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private stderr = '';
  private stopping = false;

  constructor(args: string[], cpu: number | null) {
    const node = [process.execPath, ...SERVER_NODE_FLAGS, SELF, ...args];
    this.proc = cpu === null ? spawn(node[0]!, node.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }) : spawn('taskset', ['-c', String(cpu), ...node], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const keep = (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
    };
    this.proc.on('error', () => {}); // a failed send is reported by call()
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    live.add(this.proc);
    this.ready = new Promise((resolve, reject) => {
      this.proc.on('message', (m: { ready?: boolean; url?: string; id?: number; result?: unknown; error?: string }) => {
        if (m.ready) return resolve(m.url!);
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        if (m.error !== undefined) p.reject(new Error(`child: ${m.error}`));
        else p.resolve(m.result);
      });
      this.proc.on('exit', (code, sig) => {
        live.delete(this.proc);
        if (code !== 0) console.error(`server child ${args.join(' ')} exited (${sig ?? code})${this.stopping ? ' while stopping' : ''}:\n${this.stderr}`);
        const e = new Error(`server child exited (${sig ?? code}): ${this.stderr}`);
        reject(e);
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
    });
  }

  call<T>(cmd: string, arg?: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.proc.connected) return reject(new Error(`server child is gone: ${this.stderr}`));
      const id = ++this.seq;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, arg }, (e) => {
        if (e) {
          this.pending.delete(id);
          reject(e);
        }
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.call('close').catch(() => {});
    await exited;
    clearTimeout(timer);
  }
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * CPU ticks so far of the PostgreSQL processes serving `db` (backends whose title names it) and the
 * shared WAL writer, checkpointer and background writer, by pid (backends come and go).
 */
function postgresCpu(db: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      if (s.slice(s.indexOf('(') + 1, close) !== 'postgres') continue;
      const title = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!title.includes(` ${db} `) && !/walwriter|checkpointer|background writer/.test(title)) continue;
      const f = s.slice(close + 2).split(' ');
      out.set(d, Number(f[11]) + Number(f[12])); // utime, stime (fields 14, 15)
    } catch {
      /* gone */
    }
  }
  return out;
}

/** CPU seconds between two snapshots (a process absent from the first started in between). */
const cpuDelta = (a: Map<string, number>, b: Map<string, number>): number => [...b].reduce((t, [pid, v]) => t + v - (a.get(pid) ?? 0), 0) / 100; // CLK_TCK

interface DpopKey {
  header: string;
  priv: KeyObject;
}

/** DPoP proofs as a client library makes them: ES256, the public key in the header, a new jti each. */
function proofMaker(keys: readonly DpopKey[], htu: string) {
  const prefix = randomBytes(6).toString('base64url');
  let n = 0;
  return (): string => {
    const k = keys[n % keys.length]!;
    const input = `${k.header}.${b64u(JSON.stringify({ jti: `${prefix}.${n++}`, htm: 'POST', htu, iat: Math.floor(Date.now() / 1000) }))}`;
    return `${input}.${cryptoSign('sha256', Buffer.from(input), { key: k.priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  };
}

interface Row {
  system: string;
  variant: string;
  store: string;
  r: HttpLoadResult;
  server: { cpuSeconds: number; elu: number; seconds: number };
  pgCpuSeconds: number;
  /** Cores busy with anything but this server, the generator and (for PostgreSQL cases) PostgreSQL: other work on the machine. */
  otherCores: number;
  /** req/s of every round of the case (the row shown is the median round). */
  roundRates: number[];
}

interface CaseSpec {
  system: string;
  variant: string;
  store: string;
  path: string;
  headers: Record<string, string>;
  bodies: readonly string[];
  /** With both: every request carries a fresh DPoP proof for this htu. */
  htu?: string;
  dpopKeys?: readonly DpopKey[];
  concurrency?: number;
  /** PostgreSQL database the server uses: the CPU of its backends is sampled. */
  pgDb?: string;
  ok?: (r: HttpReply) => boolean;
}

/** Busy CPU seconds of the whole machine so far (user, nice, system, irq, softirq; /proc/stat). */
function machineBusySeconds(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) / 100;
}

/**
 * One system under load: a keep-alive client, warmed once, then measured in rounds. Rounds of all
 * cases are interleaved (see roundRobin) so that other work on the machine hits every case alike.
 * DPoP proofs: signed on the fly in the warm-up; before each round a pool sized from the last rate
 * (× 1.5) is signed, and the round only looks proofs up (it ends early if the pool runs out).
 */
class Case {
  readonly client: KeepAliveClient;
  readonly rounds: Row[] = [];
  private readonly fresh: (() => string) | null;
  private readonly concurrency: number;
  private lastRate = 100;
  private b = 0;

  constructor(
    readonly child: Child,
    base: string,
    readonly spec: CaseSpec,
  ) {
    this.concurrency = spec.concurrency ?? CONCURRENCY;
    this.client = createKeepAliveClient(base, this.concurrency);
    this.fresh = spec.htu && spec.dpopKeys ? proofMaker(spec.dpopKeys, spec.htu) : null;
  }

  get label(): string {
    return `${this.spec.system} ${this.spec.variant} on ${this.spec.store}`;
  }

  private request(proof: string | undefined): HttpRequestSpec {
    return { path: this.spec.path, headers: proof ? { ...this.spec.headers, dpop: proof } : this.spec.headers, body: this.spec.bodies[this.b++ % this.spec.bodies.length]! };
  }

  async warm(ms: number): Promise<void> {
    const r = await runHttpLoad({ client: this.client, concurrency: this.concurrency, warmupMs: ms, durationMs: 0, request: () => this.request(this.fresh?.()), ...(this.spec.ok ? { ok: this.spec.ok } : {}) });
    this.lastRate = Math.max(10, r.warmup.opsPerSec);
    if (r.firstFailure) console.log(`    ${this.label}: failed during warm-up: ${r.firstFailure}`);
  }

  async round(seconds: number): Promise<Row> {
    const n = this.fresh ? Math.min(MAX_POOL, Math.ceil(this.lastRate * seconds * 1.5) + 500) : 0;
    const pool = this.fresh ? Array.from({ length: n }, this.fresh) : [];
    let k = 0;
    let pg0 = new Map<string, number>();
    let busy0 = 0;
    let server = { cpuSeconds: 0, elu: 0, seconds: 0 };
    let pgCpuSeconds = 0;
    let busy = 0;
    const r = await runHttpLoad({
      client: this.client,
      concurrency: this.concurrency,
      warmupMs: 0,
      durationMs: seconds * 1000,
      ...(this.fresh ? { maxOps: n } : {}),
      request: () => this.request(this.fresh ? pool[k++] : undefined),
      ...(this.spec.ok ? { ok: this.spec.ok } : {}),
      onMeasureStart: async () => {
        await this.child.call('mark');
        pg0 = this.spec.pgDb ? postgresCpu(this.spec.pgDb) : pg0;
        busy0 = machineBusySeconds();
      },
      onMeasureEnd: async () => {
        busy = machineBusySeconds() - busy0;
        pgCpuSeconds = this.spec.pgDb ? cpuDelta(pg0, postgresCpu(this.spec.pgDb)) : 0;
        server = await this.child.call('sinceMark');
      },
    });
    this.lastRate = Math.max(10, r.okPerSec);
    if (r.failures) console.log(`    ${this.label}: ${r.failures} FAILED requests; statuses ${JSON.stringify(r.statuses)}; first: ${r.firstFailure}`);
    if (r.stoppedAtMaxOps) console.log(`    ${this.label}: round stopped early, proof pool (${n}) used up`);
    const row: Row = { ...this.spec, r, server, pgCpuSeconds, otherCores: Math.max(0, busy - server.cpuSeconds - r.cpuSeconds - pgCpuSeconds) / r.seconds, roundRates: [] };
    this.rounds.push(row);
    return row;
  }

  /** The median round by rate (lower middle for an even count), with every round's rate. */
  median(): Row {
    const sorted = [...this.rounds].sort((a, b) => a.r.okPerSec - b.r.okPerSec);
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, roundRates: this.rounds.map((x) => x.r.okPerSec) };
  }
}

/** Warms every case, then runs `rounds` rounds, each measuring every case in turn for `seconds`. */
async function roundRobin(cases: Case[], rounds: number, seconds: number, warmMs: number): Promise<Row[]> {
  // A case whose server fails (see crashes in the report) drops out; the others go on.
  const dead = new Set<Case>();
  const attempt = async (c: Case, fn: () => Promise<unknown>) => {
    if (dead.has(c)) return;
    try {
      await fn();
    } catch (e) {
      dead.add(c);
      failures.push(`${c.label}: ${(e as Error).message.split('\n')[0]}`);
      console.log(`    ${c.label}: FAILED, dropped: ${(e as Error).message.split('\n')[0]}`);
    }
  };
  for (const c of cases) await attempt(c, () => c.warm(warmMs));
  for (let i = 0; i < rounds; i++) for (const c of cases) await attempt(c, () => c.round(seconds));
  return cases.filter((c) => c.rounds.length > 0).map((c) => {
    const m = c.median();
    console.log(
      `  ${c.label}: ${fmtNum(m.r.okPerSec)} req/s (rounds: ${m.roundRates.map((x) => fmtNum(x)).join(', ')}), p50 ${fmtNum(m.r.latency.p50, 1)} ms, ` +
        `p99 ${fmtNum(m.r.latency.p99, 1)} ms, server ${fmtNum((1000 * m.server.cpuSeconds) / Math.max(1, m.r.ops), 2)} ms CPU/req, other load ${fmtNum(m.otherCores, 2)} cores`,
    );
    return m;
  });
}

async function post(base: string, path: string, headers: Record<string, string>, body: string): Promise<HttpReply> {
  const c = createKeepAliveClient(base, 1);
  try {
    return await c.send({ path, headers, body });
  } finally {
    c.close();
  }
}

function pinSelf(): boolean {
  if (!PIN || availableParallelism() < 2 || !existsSync('/usr/bin/taskset')) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

interface TetherServer {
  kind: 'pg' | 'pglite';
  child: Child;
  base: string;
  common: Omit<CaseSpec, 'variant' | 'path'>;
  cleanup: () => Promise<void>;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const pinned = pinSelf();
  const pgOk = await pgAvailable();
  console.log(
    `token exchange vs oidc-provider client_credentials: ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}; ` +
      `concurrency ${CONCURRENCY}; per case: warm-up ${WARMUP_SECONDS} s, then ${ROUNDS} rounds of ${ROUND_SECONDS} s interleaved with the other cases, median round shown; ` +
      (pinned ? 'servers pinned to CPU 1, load generator to CPU 0, PostgreSQL unpinned' : 'no CPU pinning'),
  );
  console.log(`server children: node ${SERVER_NODE_FLAGS.join(' ') || '(no flags)'}`);
  console.log(`machine load average before the run: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other work on these ${cpus().length} cores skews every rate: see "other load")`);
  if (pgOk) {
    const st = await pgSettings(['fsync', 'synchronous_commit', 'wal_sync_method', 'server_version']);
    console.log(`PostgreSQL ${st.server_version}: fsync=${st.fsync}, synchronous_commit=${st.synchronous_commit}, wal_sync_method=${st.wal_sync_method} (audit commits are durable)`);
  } else console.log('PostgreSQL not reachable: its cases are skipped');

  // The platform: one GitHub-Actions-like issuer, 64 subject tokens (15 min), 8 workload DPoP keys.
  const gha = await createWorkloadIssuer();
  const subjects = await Promise.all(Array.from({ length: 64 }, () => gha.token({}, { ttl: 900 })));
  const dpopKeys: DpopKey[] = Array.from({ length: 8 }, () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
    return { priv: privateKey, header: b64u(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })) };
  });
  const enc = encodeURIComponent;
  const teBodies = subjects.map((s) => `grant_type=${enc(TE)}&subject_token=${s}&subject_token_type=${enc(JWT_TYPE)}&scope=orders%3Aread&audience=${enc(ORDERS_AUD)}`);
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const tokenOk = (r: HttpReply) => r.status === 200 && r.body.includes('"token_type":"DPoP"');

  const tethers: TetherServer[] = [];
  const oidcs: Array<{ child: Child; spec: CaseSpec; base: string }> = [];
  let diag: Diagnostics | null = null;
  const whatIfs: Row[] = [];
  try {
    // ── servers ──
    for (const kind of pgOk ? (['pg', 'pglite'] as const) : (['pglite'] as const)) {
      let where: string;
      let cleanup: () => Promise<void>;
      if (kind === 'pg') {
        const db = await createPgDatabase('tether_bench_tx');
        where = db.url;
        cleanup = db.drop;
      } else {
        where = mkdtempSync(join(tmpdir(), 'tether-bench-tx-'));
        cleanup = async () => rmSync(where, { recursive: true, force: true });
      }
      const child = new Child(['--child-tether', kind, where], pinned ? 1 : null);
      const srv: TetherServer = { kind, child, base: '', common: { system: 'Tether', store: '', headers: form, bodies: teBodies }, cleanup };
      tethers.push(srv);
      srv.base = await child.ready;
      const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
      const applied = await post(srv.base, '/admin/v1/apply', adminHeaders, JSON.stringify({ identities: EXCHANGE_IDENTITIES, issuers: [gha.config()], policies: EXCHANGE_POLICIES }));
      if (applied.status !== 200) throw new Error(`apply: ${applied.status} ${applied.body}`);
      const htu = `${srv.base}/oauth/token`;
      const first = await post(srv.base, '/oauth/token', { ...form, dpop: proofMaker(dpopKeys, htu)() }, teBodies[0]!);
      if (!tokenOk(first)) throw new Error(`sanity exchange failed: ${first.status} ${first.body}`);
      srv.common = { system: 'Tether', store: kind === 'pg' ? 'PostgreSQL' : 'PGlite', headers: form, bodies: teBodies, htu, dpopKeys, ...(kind === 'pg' ? { pgDb: new URL(where).pathname.slice(1) } : {}), ok: tokenOk };
    }
    for (const variant of ['opaque', 'jwt', 'jwt+dpop'] as const) {
      const child = new Child(['--child-oidc', variant], pinned ? 1 : null);
      const base = await child.ready;
      const headers = { ...form, authorization: `Basic ${Buffer.from(`${OIDC_CLIENT.id}:${OIDC_CLIENT.secret}`).toString('base64')}` };
      const body = `grant_type=client_credentials&scope=orders%3Aread${variant === 'opaque' ? '' : `&resource=${enc(ORDERS_AUD)}`}`;
      const htu = `${base}/token`;
      const dpop = variant === 'jwt+dpop';
      const ok = (r: HttpReply) =>
        r.status === 200 && (JSON.parse(r.body) as { access_token: string }).access_token.split('.').length === (variant === 'opaque' ? 1 : 3) && (!dpop || r.body.includes('"token_type":"DPoP"'));
      const first = await post(base, '/token', { ...headers, ...(dpop ? { dpop: proofMaker(dpopKeys, htu)() } : {}) }, body);
      if (!ok(first)) throw new Error(`oidc-provider sanity request failed: ${first.status} ${first.body}`);
      const label = { opaque: 'client_credentials, opaque', jwt: 'client_credentials, JWT (EdDSA)', 'jwt+dpop': 'client_credentials, JWT + DPoP' }[variant];
      oidcs.push({ child, base, spec: { system: 'oidc-provider', variant: label, store: 'memory', path: '/token', headers, bodies: [body], ok, ...(dpop ? { htu, dpopKeys } : {}) } });
    }

    // ── (a) + (b): every system, interleaved rounds ──
    console.log('\nmeasuring (interleaved rounds):');
    const main = [
      ...tethers.map((t) => new Case(t.child, t.base, { ...t.common, variant: 'token exchange + DPoP', path: '/oauth/token' })),
      ...oidcs.map((o) => new Case(o.child, o.base, o.spec)),
    ];
    rows.push(...(await roundRobin(main, ROUNDS, ROUND_SECONDS, WARMUP_SECONDS * 1000)));
    printResults();

    // ── where the time goes ──
    const pgServer = tethers.find((t) => t.kind === (process.env.BENCH_DIAGNOSE_STORE === 'pglite' ? 'pglite' : 'pg')) ?? tethers[0]!;
    if (DIAGNOSE) console.log(`\nwhere the time goes (Tether on ${pgServer.common.store}):`);
    try {
      if (DIAGNOSE) diag = await diagnose(pgServer);
    } catch (e) {
      failures.push(`diagnostics: ${(e as Error).message.split('\n')[0]}`);
      console.log(`  diagnostics FAILED: ${(e as Error).message.split('\n')[0]}`);
    }
    if (DIAGNOSE) console.log('  what-if (interleaved rounds):');
    const wi = tethers.flatMap((t) =>
      (t.kind === 'pg' ? ['', 'crypto', 'crypto,cache', 'crypto,cache,claim'] : ['', 'crypto,cache']).map((opts) =>
        opts === ''
          ? new Case(t.child, t.base, { ...t.common, variant: '[real route]', path: '/oauth/token' })
          : new Case(t.child, t.base, { ...t.common, headers: { ...t.common.headers, 'x-bench-opt': opts }, variant: `[what-if: ${opts}]`, path: '/bench/token-whatif' }),
      ),
    );
    if (DIAGNOSE) whatIfs.push(...(await roundRobin(wi, 2, 1.5, 750)));

    for (const t of tethers) {
      if (!t.child.proc.connected) continue;
      const st = await t.child.call<ChildStats>('stats');
      console.log(
        `  audit on ${t.common.store}: ${st.auditedIssued} token.issued events for ${st.issued} tokens issued; ${fmtNum(st.commits)} group commits, ` +
          `mean ${fmtNum(st.meanBatch, 1)} events and ${fmtNum(st.meanCommitMs, 2)} ms per commit`,
      );
      if (st.auditedIssued !== st.issued) throw new Error('the audit log does not hold one token.issued event per issued token');
    }

    // Each step alone, last: thousands of identical calls retune V8's feedback for the hot functions,
    // which would bias the what-if runs if they came after.
    if (diag) {
      for (const t of [pgServer, ...tethers.filter((x) => x !== pgServer)]) {
        try {
          const mk = proofMaker(dpopKeys, t.common.htu!);
          const micro = await t.child.call<Diagnostics['micro']>('micro', { subjects, proofs: Array.from({ length: 4100 }, mk), htu: t.common.htu! });
          if (t === pgServer) diag.micro = micro;
          else diag.microOther = { store: t.common.store, rows: micro };
        } catch (e) {
          failures.push(`steps alone on ${t.common.store}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    for (const c of [...tethers.map((t) => t.child), ...oidcs.map((o) => o.child)]) await c.stop();
    for (const t of tethers) await t.cleanup();
  }

  printResults();
  if (diag) printDiagnostics(diag);
  printWhatIfs(whatIfs);
  console.log(`\n(total ${((performance.now() - t0) / 1000).toFixed(0)} s; load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
  for (const x of [...rows, ...whatIfs]) if (x.r.failures > 0) failures.push(`${x.system} ${x.variant} on ${x.store}: ${x.r.failures} failed requests`);
  if (failures.length) {
    console.error(`\nFAILED:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

function printResults(): void {
  const baseline = rows.find((r) => r.system === 'oidc-provider' && r.variant.endsWith('opaque'));
  const cpuPerReq = (x: Row) => (1000 * x.server.cpuSeconds) / Math.max(1, x.r.ops);
  console.log(
    `\nresults: concurrency ${CONCURRENCY}, median of ${ROUNDS} rounds of ${ROUND_SECONDS} s; srv CPU: server process CPU per request, all threads; ` +
      `ELU: server event-loop utilisation; other: cores busy with other work on the machine meanwhile`,
  );
  printTable(
    ['system', 'grant', 'store', 'req/s', 'p50 ms', 'p99 ms', 'srv CPU ms/req', 'srv ELU', 'PG CPU ms/req', 'gen CPU', 'other', 'rate ÷ oidc opaque', 'CPU/req ÷ oidc opaque'],
    rows.map((x) => [
      x.system,
      x.variant,
      x.store,
      Math.round(x.r.okPerSec),
      fmtNum(x.r.latency.p50, 1),
      fmtNum(x.r.latency.p99, 1),
      fmtNum(cpuPerReq(x), 3),
      `${fmtNum(100 * x.server.elu)}%`,
      x.store === 'PostgreSQL' ? fmtNum((1000 * x.pgCpuSeconds) / Math.max(1, x.r.ops), 3) : '-',
      `${fmtNum((100 * x.r.cpuSeconds) / x.r.seconds)}%`,
      fmtNum(x.otherCores, 2),
      baseline ? `${fmtNum(x.r.okPerSec / baseline.r.okPerSec, 2)}×` : '-',
      baseline ? `${fmtNum(cpuPerReq(x) / cpuPerReq(baseline), 1)}×` : '-',
    ]),
  );
  if (!baseline) return;
  const bound = rows.find((r) => r.system === 'oidc-provider' && r.variant.endsWith('JWT + DPoP'));
  for (const t of rows.filter((x) => x.system === 'Tether')) {
    const ratio = t.r.okPerSec / baseline.r.okPerSec;
    console.log(`Tether (${t.store}) / oidc-provider (opaque): ${ratio.toFixed(2)}× the rate, ${fmtNum(cpuPerReq(baseline) / cpuPerReq(t), 2)}× by server CPU per request`);
    if (!bound) continue;
    const r = t.r.okPerSec / bound.r.okPerSec;
    const c = cpuPerReq(bound) / cpuPerReq(t);
    console.log(`Tether (${t.store}) / oidc-provider (JWT + DPoP): ${r.toFixed(2)}× the rate, ${c.toFixed(2)}× by server CPU per request — target ≥ ${TARGET}×: ${r >= TARGET ? 'met' : 'NOT met'}`);
  }
}

interface ChildStats {
  issued: number;
  auditedIssued: number;
  commits: number;
  meanBatch: number;
  meanCommitMs: number;
}

type ProfileSummary = ReturnType<typeof analyzeProfile> & { saved?: string };
type StepReport = ReturnType<ReturnType<typeof instrumentedRoute>['report']>;
interface Diagnostics {
  store: string;
  loaded: { steps: StepReport; rate: number };
  serial: { steps: StepReport; rate: number };
  profile: ProfileSummary;
  profileRate: number;
  serverCpuUsPerOp: number;
  micro: Array<{ step: string; wallUs: number; cpuUs: number; n: number }>;
  /** The same on the other store (its store rows differ). */
  microOther?: { store: string; rows: Diagnostics['micro'] };
}

/** Where the time goes: instrumented route (loaded, then one at a time), CPU profile, each step alone. */
async function diagnose(srv: TetherServer): Promise<Diagnostics> {
  const { child, base, common } = srv;
  const one = async (variant: string, path: string, seconds: number, concurrency = CONCURRENCY, around?: { before(): Promise<unknown>; after(row: Row): Promise<void> }) => {
    const c = new Case(child, base, { ...common, variant, path, concurrency });
    await c.warm(1000);
    await around?.before();
    const row = await c.round(seconds);
    await around?.after(row);
    c.client.close();
    console.log(`  ${c.label}: ${fmtNum(row.r.okPerSec)} req/s, p50 ${fmtNum(row.r.latency.p50, 1)} ms, p99 ${fmtNum(row.r.latency.p99, 1)} ms`);
    return row;
  };
  let loadedSteps: StepReport | null = null;
  let serialSteps: StepReport | null = null;
  let profile: ProfileSummary | null = null;
  const loaded = await one(`[instrumented route, c=${CONCURRENCY}]`, '/bench/token', 2, CONCURRENCY, { before: () => child.call('stepsReset'), after: async () => void (loadedSteps = await child.call<StepReport>('steps')) });
  const serial = await one('[instrumented route, c=1]', '/bench/token', 1.5, 1, { before: () => child.call('stepsReset'), after: async () => void (serialSteps = await child.call<StepReport>('steps')) });
  const profiled = await one('[real route, CPU profiler on]', '/oauth/token', 2.5, CONCURRENCY, {
    before: () => child.call('profileStart'),
    after: async (row) => void (profile = await child.call<ProfileSummary>('profileStop', { ops: row.r.ops, ...(process.env.BENCH_PROFILE_DIR ? { keepDir: process.env.BENCH_PROFILE_DIR } : {}) })),
  });
  const main = rows.find((r) => r.system === 'Tether' && r.store === common.store)!;
  return {
    store: common.store,
    loaded: { steps: loadedSteps!, rate: loaded.r.okPerSec },
    serial: { steps: serialSteps!, rate: serial.r.okPerSec },
    profile: profile!,
    profileRate: profiled.r.okPerSec,
    serverCpuUsPerOp: (1e6 * main.server.cpuSeconds) / main.r.ops,
    micro: [],
  };
}

function printWhatIfs(w: Row[]): void {
  if (w.length === 0) return;
  const baseline = rows.find((r) => r.system === 'oidc-provider' && r.variant.endsWith('opaque'));
  console.log(`\n4. what-if: a local copy of the exchange with the suggested changes (whatIfRoute in this file), same load, interleaved with the real route:`);
  const opt = (v: string) => {
    const o = /what-if: (.*)\]/.exec(v)?.[1];
    if (!o) return 'none: the real route (/oauth/token)';
    return o
      .split(',')
      .map((x) => ({ crypto: 'sync crypto + key caches', cache: 'identity + grant in memory', claim: 'jti claim 1 statement' })[x] ?? x)
      .join(' + ');
  };
  printTable(
    ['store', 'changes', 'req/s', 'p50 ms', 'p99 ms', 'srv CPU ms/req', 'srv ELU', 'PG CPU ms/req', 'other', 'rate ÷ oidc opaque'],
    w.map((row) => [
      row.store,
      opt(row.variant),
      Math.round(row.r.okPerSec),
      fmtNum(row.r.latency.p50, 1),
      fmtNum(row.r.latency.p99, 1),
      fmtNum((1000 * row.server.cpuSeconds) / Math.max(1, row.r.ops), 3),
      `${fmtNum(100 * row.server.elu)}%`,
      row.store === 'PostgreSQL' ? fmtNum((1000 * row.pgCpuSeconds) / Math.max(1, row.r.ops), 3) : '-',
      fmtNum(row.otherCores, 2),
      baseline ? `${fmtNum(row.r.okPerSec / baseline.r.okPerSec, 2)}×` : '-',
    ]),
  );
}

function printDiagnostics(d: Diagnostics): void {
  console.log(`\nwhere the time of an exchange goes (Tether on ${d.store})`);
  console.log(`\n1. wall time per step, instrumented copy of the route (same exchange code, timed dependencies):`);
  const steps = (s: Diagnostics['loaded']['steps']) => {
    const order = [...new Set([...d.serial.steps.steps.map((x) => x.label), ...d.loaded.steps.steps.map((x) => x.label)])];
    return new Map(order.map((l) => [l, s.steps.find((x) => x.label === l)]));
  };
  const lo = steps(d.loaded.steps);
  const se = steps(d.serial.steps);
  printTable(
    ['step', 'c=1 mean µs', 'c=1 p50', `c=${CONCURRENCY} mean µs`, `c=${CONCURRENCY} p50`, `c=${CONCURRENCY} p99`, `share c=${CONCURRENCY}`],
    [...lo.keys()].map((l) => {
      const a = se.get(l);
      const b = lo.get(l);
      return [l, fmtNum(a?.mean ?? NaN), fmtNum(a?.p50 ?? NaN), fmtNum(b?.mean ?? NaN), fmtNum(b?.p50 ?? NaN), fmtNum(b?.p99 ?? NaN), `${fmtNum((100 * (b?.mean ?? 0)) / d.loaded.steps.total.mean, 1)}%`];
    }).concat([[d.loaded.steps.total.label, fmtNum(d.serial.steps.total.mean), fmtNum(d.serial.steps.total.p50), fmtNum(d.loaded.steps.total.mean), fmtNum(d.loaded.steps.total.p50), fmtNum(d.loaded.steps.total.p99), '100%']]),
  );
  console.log(`   (instrumented route: ${fmtNum(d.serial.rate)} req/s at c=1, ${fmtNum(d.loaded.rate)} req/s at c=${CONCURRENCY}; "glue" is code between the timed calls)`);

  const p = d.profile;
  console.log(
    `\n2. CPU profile of the real route under load (${fmtNum(d.profileRate)} req/s with the profiler on): main thread busy ${fmtNum((100 * p.activeSeconds) / p.wallSeconds)}% ` +
      `of ${p.wallSeconds.toFixed(1)} s, ${fmtNum(p.mainThreadUsPerOp)} µs of main-thread CPU per exchange; whole server process (all threads, unprofiled run): ${fmtNum(d.serverCpuUsPerOp)} µs per exchange` +
      (p.saved ? `; profile kept in ${p.saved}` : ''),
  );
  console.log('\n   by component (nearest frame with a source file; wasm counted for its caller):');
  printTable(['component', 'µs/exchange', 'share'], p.components.map((c) => [c.name, fmtNum(c.usPerOp, 1), `${fmtNum(100 * c.share, 1)}%`]));
  console.log('\n   by nearest Tether frame on the stack:');
  printTable(['Tether function', 'µs/exchange', 'share'], p.tether.map((c) => [c.name, fmtNum(c.usPerOp, 1), `${fmtNum(100 * c.share, 1)}%`]));
  console.log('\n   top self-time functions:');
  printTable(['function', 'µs/exchange', 'share'], p.functions.map((c) => [c.name.slice(0, 100), fmtNum(c.usPerOp, 1), `${fmtNum(100 * c.share, 1)}%`]));

  console.log('\n3. each step alone in the server process, sequential (wall µs per call incl. threadpool hops and store round trips; CPU µs per call, all threads of the server):');
  const o = d.microOther;
  printTable(
    ['step', `${d.store} wall µs`, 'CPU µs', ...(o ? [`${o.store} wall µs`, 'CPU µs'] : []), 'calls'],
    d.micro.map((m) => {
      const x = o?.rows.find((r) => r.step === m.step);
      return [m.step, fmtNum(m.wallUs, 1), fmtNum(m.cpuUs, 1), ...(o ? [fmtNum(x?.wallUs ?? NaN, 1), fmtNum(x?.cpuUs ?? NaN, 1)] : []), m.n];
    }),
  );
}

// ───────────────────────────────────────── entry ─────────────────────────────────────────

const role = process.argv[2];
if (role === '--child-tether') await childTether(process.argv[3] as 'pg' | 'pglite', process.argv[4]!);
else if (role === '--child-oidc') await childOidc(process.argv[3] as 'opaque' | 'jwt' | 'jwt+dpop');
else {
  await main();
}
