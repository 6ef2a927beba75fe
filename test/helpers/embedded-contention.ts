/**
 * Admin writes on the embedded store while decisions keep its one connection busy, in process and at
 * the store: W decision loops each append a batch of audited decisions and await it (what AuthZEN
 * batch evaluations do), plus point reads of identities (cache misses), while one operator creates
 * identities one after another through the inventory (one transaction with its audit event). Used by
 * bench/embedded-fair-share.bench.ts and test/faults/embedded-fair-share.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditWriter } from '../../src/audit/writer.js';
import { createInventory } from '../../src/inventory/identities.js';
import { openStore } from '../../src/store/index.js';

export interface ContentionResult {
  /** Latency of each admin write from the moment it was due, ms. */
  admin: number[];
  decisionsPerSecond: number;
}

export async function embeddedContention(o: { scheduling: 'fair' | 'fifo'; seconds: number; workers: number; batch: number; adminPeriodMs?: number }): Promise<ContentionResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-contention-'));
  const store = await openStore({ dataDir: dir, embeddedScheduling: o.scheduling });
  const audit = createAuditWriter(store);
  const inventory = createInventory({ db: store, audit, clock: () => new Date() });
  let stop = false;
  let decisions = 0;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      await store.query('SELECT id, status FROM identities WHERE id = $1', [`bench/${w}/${i}`]);
      await Promise.all(
        Array.from({ length: o.batch }, (_, k) =>
          audit.append({
            type: 'decision',
            identity: 'ci/acme/api',
            data: { entry: 'authzen', phase: 'request', stage: 'policy', decision: 'allow', action: 'orders:read', resource: { type: 'Order', id: `${w}-${i}-${k}` }, policies: ['p1'] },
          }),
        ),
      );
      decisions += o.batch;
    }
  };
  try {
    const workers = Array.from({ length: o.workers }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, 1000)); // the writer's queue reaches steady state
    const d0 = decisions;
    const t0 = performance.now();
    const admin: number[] = [];
    // Open loop: write i is due at t0 + i × period and its latency counts from then, so time spent
    // waiting for a blocked event loop (PGlite runs each statement synchronously on it) is counted.
    const period = o.adminPeriodMs ?? 200;
    for (let i = 0; i * period < o.seconds * 1000; i++) {
      const due = t0 + i * period;
      await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      await inventory.create({ id: `admin/${i}`, kind: 'service_account', owner: 'team-bench' }, 'operator');
      admin.push(performance.now() - due);
    }
    const decisionsPerSecond = (decisions - d0) / ((performance.now() - t0) / 1000);
    stop = true;
    await Promise.all(workers);
    return { admin, decisionsPerSecond };
  } finally {
    stop = true;
    await audit.flush().catch(() => {});
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
