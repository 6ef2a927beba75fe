import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import type { Store } from '../store/index.js';
import { resolveMasterKey } from '../tokens/key-store.js';
import type { AuditRecord } from './chain.js';
import type { Checkpoint } from './checkpoint.js';
import { deriveCheckpointKey, type CheckpointKey } from './checkpoint-key.js';
import { createCheckpointer, type Checkpointer } from './checkpointer.js';
import { createExportRunner, type ExportRunner, type ExportStatus } from './export-runner.js';
import { auditEventSource, checkpointSource } from './export-sources.js';
import { createJobLease } from './lease.js';
import { createHttpSink } from './sinks/http.js';
import { createSink, parseSinkSpec } from './sinks/spec.js';
import type { Clock } from '../clock.js';

export interface AuditAnchorOptions {
  store: Store;
  logger: Logger;
  registry: Registry;
  clock: Clock;
  config: Pick<
    Config,
    'masterKey' | 'dataDir' | 'checkpointEvery' | 'checkpointInterval' | 'checkpointDir' | 'checkpointUrl' | 'auditSinks' | 'auditSinkAuthorization' | 'auditJsonlRotateBytes'
  >;
}

export interface AuditAnchors {
  key: CheckpointKey;
  checkpointer: Checkpointer;
  /** The writer's commit callback: counts events toward the next checkpoint and wakes the exporters. */
  committed(n: number): void;
  sinks(): ExportStatus[];
  start(): void;
  /** Final checkpoint of the head, then stops the exporters (their cursors hold what was delivered). */
  stop(): Promise<void>;
}

/**
 * Everything that anchors the audit chain outside its database: signed checkpoints (to a directory,
 * an HTTP endpoint and the checkpoints table) and streaming export to sinks. It all runs beside the
 * request path; nothing here can delay or refuse a request.
 */
export async function createAuditAnchors(o: AuditAnchorOptions): Promise<AuditAnchors> {
  const c = o.config;
  // The same master key that seals the token signing keys; never stored in the database.
  const key = await deriveCheckpointKey(resolveMasterKey(c.masterKey, c.dataDir).key);
  const instance = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const refusals = new Counter({ name: 'tether_audit_checkpoint_refusals_total', help: 'Checkpoints not signed because the stored chain no longer extends the last one', registers: [o.registry] });
  let latestSeq = 0;
  new Gauge({
    name: 'tether_audit_checkpoint_seq',
    help: 'Seq of the latest checkpoint this instance signed',
    registers: [o.registry],
    collect() {
      this.set(latestSeq);
    },
  });
  const checkpointer = createCheckpointer({
    db: o.store,
    key,
    lease: createJobLease(o.store, '@checkpointer', instance, 30),
    instance,
    every: c.checkpointEvery,
    intervalMs: c.checkpointInterval * 1000,
    dir: c.checkpointDir,
    logger: o.logger,
    clock: o.clock,
    onCheckpoint: (cp: Checkpoint) => {
      latestSeq = cp.seq;
      checkpointRunner?.kick();
    },
    onRefused: () => refusals.inc(),
  });

  const runner = <T extends { seq: number }>(name: string, r: Omit<Parameters<typeof createExportRunner<T>>[0], 'lease' | 'logger'>) =>
    createExportRunner<T>({ ...r, lease: createJobLease(o.store, name, instance, 15), logger: o.logger });
  const eventRunners: ExportRunner[] = c.auditSinks.map((spec) => {
    const s = parseSinkSpec(spec);
    return runner<AuditRecord>(s.name, { source: auditEventSource(o.store), sink: createSink(s, { authorization: c.auditSinkAuthorization, rotateBytes: c.auditJsonlRotateBytes }) });
  });
  const checkpointRunner = c.checkpointUrl
    ? runner<Checkpoint>(`@checkpoints+${c.checkpointUrl}`, {
        source: checkpointSource(o.store),
        sink: createHttpSink<Checkpoint>({ url: c.checkpointUrl, line: (cp) => JSON.stringify(cp), authorization: c.auditSinkAuthorization }),
      })
    : null;
  const all = [...eventRunners, ...(checkpointRunner ? [checkpointRunner] : [])];

  const sinkGauge = (name: string, help: string, pick: (s: ExportStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['sink'] as const,
      registers: [o.registry],
      collect() {
        this.reset();
        for (const r of all) {
          const s = r.status();
          this.set({ sink: s.sink }, pick(s));
        }
      },
    });
  sinkGauge('tether_audit_sink_lag_events', 'Committed audit items not yet delivered to the sink (head seq minus cursor)', (s) => s.lag);
  sinkGauge('tether_audit_sink_cursor', 'Last seq the sink accepted', (s) => s.cursor);
  sinkGauge('tether_audit_sink_send_failures', 'Failed deliveries to the sink since start (each retried with backoff)', (s) => s.failures);

  let pendingKick = false;
  return {
    key,
    checkpointer,
    committed(n) {
      checkpointer.committed(n);
      // One wake-up per tick however many commits land in it: this runs on the commit path.
      if (pendingKick || eventRunners.length === 0) return;
      pendingKick = true;
      setImmediate(() => {
        pendingKick = false;
        for (const r of eventRunners) r.kick();
      });
    },
    sinks: () => all.map((r) => r.status()),
    start() {
      checkpointer.start();
      for (const r of all) r.start();
    },
    async stop() {
      await checkpointer.stop();
      await checkpointer.checkpointNow().catch((e: Error) => o.logger.warn({ err: { message: e.message } }, 'final checkpoint failed'));
      await createJobLease(o.store, '@checkpointer', instance, 30).release().catch(() => {});
      await Promise.all(all.map((r) => r.stop()));
    },
  };
}
