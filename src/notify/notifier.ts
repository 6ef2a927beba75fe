/**
 * Notifications off the request path (README "Notifications"): one export runner per configured
 * sink reads committed audit events from a cursor in the store (the audit log is the outbox), sends
 * the ones people act on, and advances only after the receiver accepted them, so an event committed
 * while a receiver or the broker was down is delivered when both are back. A sink configured for the
 * first time starts at the current head: it announces what happens from then on, not the history.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { auditEventSource } from '../audit/export-sources.js';
import { createExportRunner, type ExportRunner, type ExportStatus } from '../audit/export-runner.js';
import { createJobLease } from '../audit/lease.js';
import type { Queryable } from '../store/index.js';
import { createNotifySink, parseNotifySpec } from './sinks.js';

export interface Notifier {
  start(): Promise<void>;
  /** New events were committed here: skip the idle wait (other instances' commits arrive by polling). */
  kick(): void;
  stop(): Promise<void>;
  status(): ExportStatus[];
}

export function createNotifier(o: { db: Queryable; specs: readonly string[]; secret?: string | undefined; consoleBase: () => string; now: () => number; logger: Pick<Logger, 'warn' | 'info'>; registry?: Registry; idleMs?: number }): Notifier {
  const instance = randomUUID();
  const sinks = o.specs.map((spec) => createNotifySink(parseNotifySpec(spec), { secret: o.secret, consoleBase: o.consoleBase, now: o.now, logger: o.logger }));
  const runners: ExportRunner[] = sinks.map((sink) =>
    createExportRunner({ source: auditEventSource(o.db), sink, lease: createJobLease(o.db, `@${sink.name}`, instance, 15), logger: o.logger, batch: 100, idleMs: o.idleMs ?? 200 }),
  );
  if (o.registry && runners.length) {
    const gauge = (name: string, help: string, pick: (s: ExportStatus) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['sink'] as const,
        registers: [o.registry!],
        collect() {
          this.reset();
          for (const r of runners) this.set({ sink: r.status().sink }, pick(r.status()));
        },
      });
    gauge('tether_notify_lag_events', 'Committed audit events not yet passed to the notification sink', (s) => s.lag);
    gauge('tether_notify_send_failures', 'Failed notification deliveries since start (each retried with backoff)', (s) => s.failures);
  }
  return {
    async start() {
      for (const sink of sinks) {
        await o.db.query(
          `INSERT INTO audit_cursors (name, seq, updated_at) SELECT $1, seq, clock_timestamp() FROM audit_head WHERE id = 1 ON CONFLICT (name) DO NOTHING`,
          [`@${sink.name}`],
        );
      }
      for (const r of runners) r.start();
    },
    kick() {
      for (const r of runners) r.kick();
    },
    async stop() {
      await Promise.all(runners.map((r) => r.stop()));
    },
    status: () => runners.map((r) => r.status()),
  };
}
