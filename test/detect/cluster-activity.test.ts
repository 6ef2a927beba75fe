/**
 * Detection's cluster-wide activity notices (src/detect/cluster-activity.ts) on a real embedded
 * store: sent when other instances can share the store, never when none can (PGlite serves one
 * process, and a notice per flush was a statement carrying every issuance for nobody).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClusterActivity } from '../../src/detect/cluster-activity.js';
import type { DetectionEvent } from '../../src/detect/events.js';
import { CHANGES_CHANNEL, openStore } from '../../src/store/index.js';

const logger = { warn: () => {} };
const issuance = (jti: string): DetectionEvent => ({ kind: 'issue', at: Date.now(), identity: 'ci/acme/api', allowed: true, action: 'orders:read', resource: 'https://orders.example.test', grantId: 'g-1', jti, sourceIp: '127.0.0.1' });

test('activity is sent to the cluster only when the store can be shared', async () => {
  const store = await openStore({});
  try {
    const seen: Array<{ kind: string; from?: string; p?: unknown[] }> = [];
    const stop = await store.listen(CHANGES_CHANNEL, { onMessage: (payload: string) => void seen.push(JSON.parse(payload)), onReconnect: () => {} });
    const shared = createClusterActivity(store, logger);
    const alone = createClusterActivity(store, logger, { shared: false });
    alone.local(issuance('jti-alone'));
    shared.local(issuance('jti-shared'));
    await alone.flush();
    await shared.flush();
    await new Promise((r) => setTimeout(r, 100)); // past the flush interval: nothing late either
    const activity = seen.filter((n) => n.kind === 'activity');
    assert.equal(activity.length, 1, JSON.stringify(seen));
    assert.equal(activity[0]!.from, shared.id);
    assert.equal(JSON.stringify(activity[0]!.p).includes('jti-shared'), true);
    assert.equal(JSON.stringify(seen).includes('jti-alone'), false);
    await stop();
  } finally {
    await store.close();
  }
});
