import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AuditWriter } from '../audit/index.js';
import type { ChangeFeed } from '../cluster/index.js';
import type { Inventory } from '../inventory/identities.js';
import type { Queryable } from '../store/index.js';
import type { Clock } from '../clock.js';
import { createConnectorStore, type ConnectorStoreDeps } from './connector-store.js';
import { createDiscovery } from './discover.js';
import { createCredentialIssuer } from './issue.js';
import { createLeaseStore } from './lease-store.js';
import { createLeaseSweeper } from './sweeper.js';

export interface ConnectorDomainDeps {
  db: Queryable;
  audit: Pick<AuditWriter, 'transact' | 'append'>;
  changes: Pick<ChangeFeed, 'on' | 'onResync'>;
  inventory: Pick<Inventory, 'discover'>;
  clock: Clock;
  logger: Logger;
  registry: Registry;
  env?: NodeJS.ProcessEnv;
  targets?: ConnectorStoreDeps['targets'];
  /** How often the sweeper looks for due leases without a notice (expiry bound), ms. */
  sweepIntervalMs?: number;
  /** How often connectors are swept for standing accounts, ms; 0 turns the periodic sweep off. */
  discoverIntervalMs?: number;
}

/**
 * The legacy bridge (README "Legacy bridge"): connectors, per-task accounts and their leases, the
 * sweeper that ends them, discovery of standing accounts, and their metrics. No HTTP here: the
 * composition root mounts credential-routes.ts and lease-routes.ts.
 */
export function createConnectorDomain(d: ConnectorDomainDeps) {
  const connectors = createConnectorStore({ db: d.db, clock: d.clock, ...(d.env ? { env: d.env } : {}), ...(d.targets ? { targets: d.targets } : {}) });
  const leases = createLeaseStore(d.db);

  const issued = new Counter({ name: 'tether_credentials_issued_total', help: 'Per-task accounts made on legacy targets', labelNames: ['connector'] as const, registers: [d.registry] });
  const endFailures = new Counter({ name: 'tether_credential_end_failures_total', help: 'Failed attempts to end a per-task account (retried with backoff)', labelNames: ['connector'] as const, registers: [d.registry] });
  const endSeconds = new Histogram({
    name: 'tether_credential_end_seconds',
    help: 'From a lease becoming due to its account being gone on the target',
    labelNames: ['connector'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [d.registry],
  });
  let counts: Promise<Awaited<ReturnType<typeof leases.counts>>> | null = null;
  // One query per scrape for the three gauges below.
  const readCounts = () => (counts ??= leases.counts().finally(() => setTimeout(() => (counts = null), 100).unref()));
  new Gauge({
    name: 'tether_credential_leases',
    help: 'Credential leases not yet ended, by state (creating, active, ending)',
    labelNames: ['state'] as const,
    registers: [d.registry],
    async collect() {
      const c = await readCounts();
      for (const [state, n] of Object.entries(c.byState)) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'tether_credential_revocations_pending',
    help: 'Accounts due to be ended on their target and not yet gone',
    registers: [d.registry],
    async collect() {
      this.set((await readCounts()).byState['ending'] ?? 0);
    },
  });
  new Gauge({
    name: 'tether_credential_revocations_failing',
    help: 'Accounts whose ending failed at least once and is being retried (target down)',
    registers: [d.registry],
    async collect() {
      this.set((await readCounts()).failing);
    },
  });

  const sweeper = createLeaseSweeper({
    db: d.db,
    audit: d.audit,
    connectors,
    clock: d.clock,
    logger: d.logger,
    instance: randomUUID(),
    ...(d.sweepIntervalMs !== undefined ? { intervalMs: d.sweepIntervalMs } : {}),
    onEnded: (c, s) => endSeconds.observe({ connector: c }, s),
    onAttemptFailed: (c) => endFailures.inc({ connector: c }),
  });
  const issuer = createCredentialIssuer({ db: d.db, audit: d.audit, connectors, clock: d.clock, kick: sweeper.kick, onIssued: (c) => issued.inc({ connector: c }) });
  const discovery = createDiscovery({ db: d.db, connectors, inventory: d.inventory });

  // Every way a grant ends writes a revocation and sends its notice (revocation/revoke.ts): the
  // sweeper wakes on it, on any instance, and the holder of the sweep lease ends the accounts.
  d.changes.on('revocation', () => sweeper.kick());
  d.changes.on('identity', () => sweeper.kick());
  d.changes.on('lease', () => sweeper.kick());
  d.changes.on('connectors', () => connectors.reload());
  d.changes.onResync(() => connectors.reload());

  let discoverTimer: NodeJS.Timeout | null = null;
  const discoverAll = async () => {
    for (const c of connectors.all()) {
      await discovery.discover(c.name).catch((e: Error) => d.logger.warn({ connector: c.name, err: { message: e.message } }, 'standing-account discovery failed'));
    }
  };

  return {
    connectors,
    leases,
    issuer,
    sweeper,
    discovery,
    applySection: connectors.section(),
    start() {
      sweeper.start();
      const every = d.discoverIntervalMs ?? 3_600_000;
      if (every > 0) {
        discoverTimer = setInterval(() => void discoverAll(), every);
        discoverTimer.unref();
      }
    },
    async stop() {
      if (discoverTimer) clearInterval(discoverTimer);
      await sweeper.stop();
      await connectors.close();
    },
  };
}

export type ConnectorDomain = ReturnType<typeof createConnectorDomain>;
