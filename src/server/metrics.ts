import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Resolution of `tether_nodejs_eventloop_lag_*`, in ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** One registry per app (no globals), so tests can build several apps in one process. */
export function createMetrics(probes: { auditQueueDepth?: () => number } = {}) {
  const registry = new Registry();
  // The event-loop lag histogram samples on a timer; prom-client's default 10 ms wakes an idle broker
  // 100 times a second, most of its idle CPU. 100 ms still catches every stall worth alerting on (a
  // stall delays the next sample by its own length) at a tenth of the wake-ups.
  collectDefaultMetrics({ register: registry, prefix: 'tether_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const httpRequests = new Counter({
    name: 'tether_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'tether_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route', 'method'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const auditQueueDepth = new Gauge({
    name: 'tether_audit_queue_depth',
    help: 'Audit events waiting for group commit',
    registers: [registry],
    collect() {
      if (probes.auditQueueDepth) this.set(probes.auditQueueDepth());
    },
  });
  const auditCommitSeconds = new Histogram({
    name: 'tether_audit_commit_seconds',
    help: 'Duration of one audit group commit',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const auditBatchSize = new Histogram({
    name: 'tether_audit_batch_events',
    help: 'Events per audit group commit',
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000],
    registers: [registry],
  });
  const auditFailures = new Counter({ name: 'tether_audit_failures_total', help: 'Audit commits that failed (operations refused)', registers: [registry] });
  const decisions = new Counter({
    name: 'tether_decisions_total',
    help: 'Authorization decisions by entry point and result',
    labelNames: ['entry', 'decision'] as const,
    registers: [registry],
  });
  const issuances = new Counter({
    name: 'tether_token_requests_total',
    help: 'Token endpoint outcomes',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  return { registry, httpRequests, httpDuration, auditQueueDepth, auditCommitSeconds, auditBatchSize, auditFailures, decisions, issuances };
}

export type Metrics = ReturnType<typeof createMetrics>;
