import { join } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type ConfigInput } from '../config/index.js';
import { buildApp } from '../server/app.js';
import { createLogger } from '../server/logger.js';
import { readOrCreateSecret } from '../config/secret-files.js';
import { openStore } from '../store/index.js';
import { restrictDataDir, tightenTree } from './data-dir.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the broker (embedded PGlite store by default, PostgreSQL with --database-url)')
    .option('-p, --port <port>', 'listen port (TETHER_PORT, default 8080)')
    .option('--host <host>', 'listen address (TETHER_HOST, default 127.0.0.1; 0.0.0.0 to expose)')
    .option('--data-dir <dir>', 'embedded store and generated secrets (TETHER_DATA_DIR, default ./tether-data)')
    .option('--database-url <url>', 'PostgreSQL URL for production and clusters (TETHER_DATABASE_URL)')
    .option('--issuer-url <url>', 'the URL clients know the broker by; same on every instance (TETHER_ISSUER_URL)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (TETHER_LOG_LEVEL, default info)')
    .option('--require-dpop-nonce', 'require DPoP server nonces at the token endpoint (RFC 9449 §8)')
    .option('--no-detection', 'do not run behaviour detection (TETHER_DETECTION=false)')
    .option('--detection-config <file>', 'detection thresholds and responses per rule and severity, YAML or JSON (TETHER_DETECTION_CONFIG)')
    .option('--checkpoint-dir <dir>', 'append signed audit checkpoints to files in this directory (TETHER_CHECKPOINT_DIR)')
    .option('--checkpoint-url <url>', 'also POST each signed checkpoint to this endpoint (TETHER_CHECKPOINT_URL)')
    .option('--checkpoint-every <n>', 'sign a checkpoint every N audit events (TETHER_CHECKPOINT_EVERY, default 10000)')
    .option('--checkpoint-interval <seconds>', '...or every T seconds when events were added (TETHER_CHECKPOINT_INTERVAL, default 10)')
    .option('--notify <spec...>', 'send approvals, break-glass and findings to webhook+https://URL (signed, TETHER_NOTIFY_SECRET) or slack+https://hooks.slack.com/… (TETHER_NOTIFY, space-separated)')
    .option('--approval-window <seconds>', 'how long a pending grant waits for approvers before it expires (TETHER_APPROVAL_WINDOW, default 3600)')
    .option('--console-session-ttl <seconds>', 'how long a console login lasts (TETHER_CONSOLE_SESSION_TTL, default 28800)')
    .option('--delegation-max-depth <levels>', 'most levels a delegation chain may have, the original token included (TETHER_DELEGATION_MAX_DEPTH, default 3)')
    .option('--gateway-addresses <ips>', 'gateways in front (nginx, Envoy), exempt from the per-source connection cap; comma-separated (TETHER_GATEWAY_ADDRESSES, default 127.0.0.1,::1)')
    .option('--audit-sink <spec...>', 'stream audit events to jsonl:DIR | syslog://HOST:PORT | http(s)://URL, ocsf+ prefix for OCSF (TETHER_AUDIT_SINKS, space-separated)')
    .addHelpText(
      'after',
      `
Secrets come from the environment only:
  TETHER_ADMIN_TOKEN   admin API bearer token; if unset, generated once into <data-dir>/admin-token (0600)
  TETHER_MASTER_KEY    32 random bytes, base64url, encrypting signing keys at rest; if unset, generated
                       into <data-dir>/master-key (0600). Give every cluster instance the same key.
  TETHER_PDP_TOKEN     if set, the AuthZEN and ext-authz endpoints require it
  TETHER_AUDIT_SINK_AUTHORIZATION   Authorization header value for HTTP audit and checkpoint sinks
  TETHER_NOTIFY_SECRET HMAC key signing webhook notifications (X-Tether-Signature)
  TETHER_SLACK_SIGNING_SECRET   Slack app signing secret: enables interactive Approve/Deny from Slack
Examples:
  tether serve
  TETHER_ADMIN_TOKEN=... tether serve --database-url postgres://tether@db/tether --issuer-url https://tether.internal`,
    )
    .action(async (o: Record<string, unknown>) => {
      const flags: Partial<ConfigInput> = {
        port: o.port as number | undefined,
        host: o.host as string | undefined,
        dataDir: o.dataDir as string | undefined,
        databaseUrl: o.databaseUrl as string | undefined,
        issuerUrl: o.issuerUrl as string | undefined,
        logLevel: o.logLevel as ConfigInput['logLevel'],
        requireDpopNonce: o.requireDpopNonce ? true : undefined,
        detection: o.detection === false ? false : undefined,
        detectionConfig: o.detectionConfig as string | undefined,
        checkpointDir: o.checkpointDir as string | undefined,
        checkpointUrl: o.checkpointUrl as string | undefined,
        checkpointEvery: o.checkpointEvery as number | undefined,
        checkpointInterval: o.checkpointInterval as number | undefined,
        auditSinks: o.auditSink as string[] | undefined,
        gatewayAddresses: o.gatewayAddresses as string | undefined,
        approvalWindow: o.approvalWindow as number | undefined,
        consoleSessionTtl: o.consoleSessionTtl as number | undefined,
        delegationMaxDepth: o.delegationMaxDepth as number | undefined,
        notify: o.notify as string[] | undefined,
      };
      const config = loadConfig(flags);
      const logger = createLogger(config.logLevel);
      // Before anything writes there: generated secrets and the embedded store are this user's only.
      const embedded = !config.databaseUrl;
      if (embedded || !config.adminToken || !config.masterKey) restrictDataDir(config.dataDir);
      let adminToken = config.adminToken;
      if (!adminToken) {
        const path = join(config.dataDir, 'admin-token');
        const s = readOrCreateSecret(path);
        adminToken = s.value;
        logger.warn({ path }, s.created ? 'generated an admin token (set TETHER_ADMIN_TOKEN to choose one)' : 'using the admin token from the data dir');
      }
      const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, statementTimeoutMs: config.statementTimeoutMs, embeddedScheduling: config.embeddedScheduler });
      if (embedded) tightenTree(config.dataDir);
      const broker = await buildApp({ config, store, logger, adminToken });
      const address = await broker.app.listen({ port: config.port, host: config.host });
      const listenUrl = address.replace('://0.0.0.0:', '://127.0.0.1:').replace('://[::]:', '://[::1]:');
      broker.setListenUrl(listenUrl);
      if (!config.issuerUrl && config.host !== '127.0.0.1' && config.host !== 'localhost') {
        logger.warn({ issuer: listenUrl }, 'no --issuer-url: tokens name the listen address as issuer; set the URL clients use');
      }
      logger.info({ address, issuer: broker.issuerUrl(), store: store.kind, dataDir: config.databaseUrl ? undefined : config.dataDir }, 'tether is serving');

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down: finishing in-flight requests and flushing the audit log');
        const force = setTimeout(() => {
          logger.error('shutdown took too long; exiting');
          process.exit(1);
        }, 15000);
        force.unref();
        broker
          .close()
          .then(() => {
            logger.info('stopped');
            process.exit(0);
          })
          .catch((err: Error) => {
            logger.error({ err: { message: err.message } }, 'error during shutdown');
            process.exit(1);
          });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
