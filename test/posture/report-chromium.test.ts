import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { withChromiumPage } from '../helpers/chromium.js';
import { seededBroker, type SeededBroker } from './seed.js';

describe('the posture report of a live broker in headless Chromium', { timeout: 120_000 }, () => {
  let s: SeededBroker;
  before(async () => {
    s = await seededBroker('pglite');
  });
  after(() => s?.b.stop());

  it('renders GET /admin/v1/posture?format=html with its charts, offline, and screenshots it', async (t) => {
    const r = await s.b.admin('GET', '/admin/v1/posture?format=html');
    assert.equal(r.status, 200);
    const html = String(r.body);
    const dir = await mkdtemp(join(tmpdir(), 'tether-posture-live-'));
    const shot = join(dir, 'posture-live.png');
    await writeFile(join(dir, 'posture-live.html'), html);
    try {
      await withChromiumPage(async (page) => {
        const requests: string[] = [];
        const problems: string[] = [];
        page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
        page.on('pageerror', (e) => problems.push(e.message));
        await page.route('**/*', async (route) => {
          requests.push(route.request().url());
          await route.abort();
        });
        await page.setContent(html, { waitUntil: 'load' });
        const dom = await page.evaluate(() => ({
          charts: [...document.querySelectorAll('svg.chart')].map((c) => ({ label: c.getAttribute('aria-label') ?? '', bars: c.querySelectorAll('g.bar').length, w: c.getBoundingClientRect().width })),
          findings: [...document.querySelectorAll('table.findings tbody tr.finding')].map((tr) => tr.textContent ?? ''),
          identities: document.querySelectorAll('table.identities tbody tr.identity').length,
        }));
        assert.deepEqual(requests, [], 'no network requests');
        assert.deepEqual(problems, []);
        assert.equal(dom.charts.length, 3, JSON.stringify(dom.charts));
        for (const c of dom.charts) assert.ok(c.bars > 0 && c.w > 150, JSON.stringify(c));
        assert.ok(dom.findings.some((f) => f.includes('svc/wide') && f.includes('orders:write')), 'the unused permission is in the table');
        assert.equal(dom.identities, 5);
        await page.screenshot({ path: shot, fullPage: true });
        const size = (await stat(shot)).size;
        assert.ok(size > 10_000, `screenshot is only ${size} bytes`);
        t.diagnostic(`screenshot ${shot}: ${size} bytes`);
      });
    } finally {
      if (process.env['TETHER_KEEP_SCREENSHOTS'] === undefined) await rm(dir, { recursive: true, force: true });
    }
  });
});
