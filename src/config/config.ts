import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * One typed, frozen Config built from flags > environment > defaults. Secrets (admin token, master
 * key, PDP token, webhook secret) come from the environment only: a flag would show up in `ps`.
 */
const ConfigSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  dataDir: z.string().min(1).default('./tether-data'),
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  issuerUrl: z.string().url().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  adminToken: z.string().min(16, 'TETHER_ADMIN_TOKEN must be at least 16 characters').optional(),
  masterKey: z.string().optional(),
  pdpToken: z.string().min(16, 'TETHER_PDP_TOKEN must be at least 16 characters').optional(),
  /** Require DPoP server nonces at the token endpoint (RFC 9449 §8). */
  requireDpopNonce: z.boolean().default(false),
  /** How long a pending grant waits for its approvers before it ends as expired, seconds. */
  approvalWindow: z.coerce.number().int().min(1).max(7 * 86400).default(3600),
  /** How long a console login lasts, seconds (absolute; logout or revoking the operator ends it sooner). */
  consoleSessionTtl: z.coerce.number().int().min(1).max(7 * 86400).default(8 * 3600),
  /** Most actors a delegated token may carry (RFC 8693 §4.1 `act` depth). */
  delegationMaxDepth: z.coerce.number().int().min(1).max(10).default(3),
  /** Default and ceiling for access token lifetimes, seconds. */
  tokenTtl: z.coerce.number().int().min(30).max(900).default(300),
  /** How long an instance may go without a live notification connection before it fails closed. */
  staleAfterMs: z.coerce.number().int().min(100).default(5000),
  /**
   * PostgreSQL: how long one statement may run while serving (server-side statement_timeout; the
   * driver gives up 2 s later if the server cannot even answer). A statement stuck behind a lock
   * another session holds then fails its request with 503 instead of holding it for as long as the
   * lock lives. Everything the broker runs while serving is a point read, a page or one group commit
   * (milliseconds), so 10 s is far outside normal and well inside what a client waits.
   */
  statementTimeoutMs: z.coerce.number().int().min(100).default(10000),
  /** Embedded store: how its one connection is shared (store/pglite-store.ts); `fifo` is a benchmark baseline. */
  embeddedScheduler: z.enum(['fair', 'fifo']).default('fair'),
  webhookUrl: z.string().url().optional(),
  webhookSecret: z.string().optional(),
  detection: z.boolean().default(true),
  /** YAML/JSON file with detection thresholds and the response policy per rule and severity. */
  detectionConfig: z.string().min(1).optional(),
  /** Signed audit checkpoints: every N events or T seconds (README "Audit checkpoints" says why these). */
  checkpointEvery: z.coerce.number().int().min(1).default(10000),
  checkpointInterval: z.coerce.number().min(0.05).default(10),
  checkpointDir: z.string().min(1).optional(),
  checkpointUrl: z.string().url().optional(),
  /** Streaming audit export targets (jsonl:DIR, syslog://HOST:PORT, http(s) URL; ocsf+ prefix). */
  auditSinks: z.preprocess((v) => (typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v), z.array(z.string().min(1))).default([]),
  auditSinkAuthorization: z.string().optional(),
  auditJsonlRotateBytes: z.coerce.number().int().min(1024).default(100 * 1024 * 1024),
  /** Notification sinks: webhook+https://… (signed with notifySecret), slack+https://hooks.slack.com/… */
  notify: z.preprocess((v) => (typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : v), z.array(z.string().min(1))).default([]),
  notifySecret: z.string().min(16, 'TETHER_NOTIFY_SECRET must be at least 16 characters').optional(),
  /** Slack app signing secret: enables /integrations/slack/interactions (interactive approvals). */
  slackSigningSecret: z.string().min(16).optional(),
  /**
   * Addresses of the gateways in front (nginx, Envoy): exempt from the per-source connection cap,
   * since a gateway carries every client's requests. Loopback by default (a gateway on the same host).
   */
  gatewayAddresses: z
    .preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v), z.array(z.string().refine((a) => isIP(a) !== 0, 'an IP address')))
    .default(['127.0.0.1', '::1']),
});

export type Config = Readonly<z.infer<typeof ConfigSchema>>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Maps TETHER_* variables onto config keys. */
const ENV: Record<string, keyof ConfigInput> = {
  TETHER_PORT: 'port',
  TETHER_HOST: 'host',
  TETHER_DATA_DIR: 'dataDir',
  TETHER_DATABASE_URL: 'databaseUrl',
  TETHER_ISSUER_URL: 'issuerUrl',
  TETHER_LOG_LEVEL: 'logLevel',
  TETHER_ADMIN_TOKEN: 'adminToken',
  TETHER_MASTER_KEY: 'masterKey',
  TETHER_PDP_TOKEN: 'pdpToken',
  TETHER_TOKEN_TTL: 'tokenTtl',
  TETHER_APPROVAL_WINDOW: 'approvalWindow',
  TETHER_CONSOLE_SESSION_TTL: 'consoleSessionTtl',
  TETHER_DELEGATION_MAX_DEPTH: 'delegationMaxDepth',
  TETHER_STATEMENT_TIMEOUT_MS: 'statementTimeoutMs',
  TETHER_EMBEDDED_SCHEDULER: 'embeddedScheduler',
  TETHER_WEBHOOK_URL: 'webhookUrl',
  TETHER_WEBHOOK_SECRET: 'webhookSecret',
  TETHER_DETECTION_CONFIG: 'detectionConfig',
  TETHER_CHECKPOINT_EVERY: 'checkpointEvery',
  TETHER_CHECKPOINT_INTERVAL: 'checkpointInterval',
  TETHER_CHECKPOINT_DIR: 'checkpointDir',
  TETHER_CHECKPOINT_URL: 'checkpointUrl',
  TETHER_AUDIT_SINKS: 'auditSinks',
  TETHER_AUDIT_SINK_AUTHORIZATION: 'auditSinkAuthorization',
  TETHER_AUDIT_JSONL_ROTATE_BYTES: 'auditJsonlRotateBytes',
  TETHER_GATEWAY_ADDRESSES: 'gatewayAddresses',
  TETHER_NOTIFY: 'notify',
  TETHER_NOTIFY_SECRET: 'notifySecret',
  TETHER_SLACK_SIGNING_SECRET: 'slackSigningSecret',
};

export class ConfigError extends Error {}

export function loadConfig(flags: Partial<ConfigInput>, env: NodeJS.ProcessEnv = process.env): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  if (env.TETHER_REQUIRE_DPOP_NONCE === 'true') fromEnv.requireDpopNonce = true;
  if (env.TETHER_DETECTION === 'false') fromEnv.detection = false;
  const merged: Record<string, unknown> = { ...fromEnv };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k] = v;
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${msg}`);
  }
  // The PDP endpoints (AuthZEN, ext-authz) decide for whoever calls them: beyond loopback, callers
  // must authenticate (DESIGN.md Trust model: a subject named by an unauthenticated caller steers nothing).
  if (!isLoopback(parsed.data.host) && parsed.data.pdpToken === undefined) {
    throw new ConfigError(`invalid configuration: listening on ${parsed.data.host} (not loopback) needs TETHER_PDP_TOKEN, the credential gateways and PEPs present to the AuthZEN and ext-authz endpoints`);
  }
  return Object.freeze(parsed.data);
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
