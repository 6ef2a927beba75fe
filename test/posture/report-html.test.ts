import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { mapFinding, recommendationFor } from '../../src/posture/frameworks.js';
import { POSTURE_REPORT_CSP, renderPostureHtml } from '../../src/posture/report-html.js';
import type {
  BlastRadiusEntry,
  PostureFinding,
  PostureIdentity,
  PostureReport,
  Severity,
} from '../../src/posture/report-types.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, withChromiumPage } from '../helpers/chromium.js';

// Identity ids come from outside (issuer claim mappings), so the fixture carries hostile ones.
const XSS_ID = '<script>alert("pwned")</script>';
const ATTR_ID = 'ci/evil"><img src=x onerror=alert(1)>';
const AMP_ID = "svc/o'brien&co";

function radius(n: number, via = 'policy-deploy'): BlastRadiusEntry[] {
  const actions = ['read', 'write', 'deploy', 'delete', 'list', 'admin'];
  const types = ['Repository', 'Bucket', 'Secret', 'Service', 'Queue', 'Table'];
  return Array.from({ length: n }, (_, i) => ({
    action: actions[i % actions.length] ?? 'read',
    resource_type: types[Math.floor(i / actions.length) % types.length] ?? 'Bucket',
    audience: i % 3 === 0 ? null : `https://api-${i % 4}.acme.example`,
    via: i % 5 === 4 ? 'delegation' : via,
  }));
}

function identity(id: string, over: Partial<PostureIdentity> & { n?: number } = {}): PostureIdentity {
  return {
    id,
    owner: 'team-platform',
    status: 'active',
    kind: 'workload',
    risk: 10,
    last_used: '2025-06-01T09:12:00Z',
    blast_radius: radius(over.n ?? 4),
    ...over,
  };
}

let seq = 0;
function finding(kind: string, identityId: string, severity: Severity, evidence: Record<string, unknown>): PostureFinding {
  seq += 1;
  return {
    id: `f-${seq}`,
    kind,
    identity: identityId,
    severity,
    evidence,
    recommendation: recommendationFor(kind),
    ...mapFinding(kind),
  };
}

function realisticReport(): PostureReport {
  const identities: PostureIdentity[] = [
    identity('ci/acme-api-deploy', { kind: 'ci_job', n: 12, risk: 15 }),
    identity('k8s/payments/ledger-writer', { n: 9, risk: 5 }),
    identity('agent/support-triage', { kind: 'ai_agent', n: 22, risk: 62 }),
    identity('svc/nightly-export', { kind: 'service_account', n: 30, risk: 35, last_used: '2025-04-20T02:00:00Z' }),
    identity('api/partner-billing', { kind: 'api_client', n: 3, owner: null, risk: 20 }),
    identity('spiffe://prod.acme/ns/batch/sa/reporter', { n: 7, risk: 0 }),
    identity('ci/legacy-terraform-apply-production-eu-west-1-and-us-east-1', { kind: 'ci_job', n: 41, risk: 88, status: 'suspended' }),
    identity(XSS_ID, { n: 5, owner: '<b>mallory</b>', risk: 45, last_used: null }),
    identity(ATTR_ID, { kind: 'ci_job', n: 2, risk: 81 }),
    identity(AMP_ID, { n: 1, status: 'retired', last_used: null }),
  ];
  for (let i = 0; i < 8; i += 1) identities.push(identity(`svc/worker-${i}`, { n: i, risk: i * 3 }));

  const findings: PostureFinding[] = [
    finding('unowned', 'api/partner-billing', 'medium', { discovered_via: 'github-actions', first_seen: '2025-05-02T10:00:00Z' }),
    finding('review_overdue', 'svc/nightly-export', 'medium', { review_by: '2025-03-31' }),
    finding('dormant', 'svc/nightly-export', 'low', { last_used: '2025-04-20T02:00:00Z', dormant_after: 'P30D' }),
    finding('unused_permission', 'agent/support-triage', 'medium', {
      action: 'delete',
      policy: 'policy-support-agent',
      suggested_policy: 'permit(principal == Identity::"agent/support-triage", action in [Action::"read"], resource);',
    }),
    finding('standing_access', 'ci/legacy-terraform-apply-production-eu-west-1-and-us-east-1', 'high', { grant: 'g-77', open_for_hours: 2160 }),
    finding('long_lived_credential', 'svc/nightly-export', 'high', { lifetime_seconds: 604800, bound_seconds: 3600 }),
    finding('excess_blast_radius', 'ci/legacy-terraform-apply-production-eu-west-1-and-us-east-1', 'high', { reachable: 41, used: 3 }),
    finding('detect.replay', ATTR_ID, 'critical', { jti: 'tok-1', expected_jkt: 'abc', presented_jkt: '"><script>x</script>' }),
    finding('detect.off_hours', XSS_ID, 'low', { hour_utc: 3, usual: '08-18' }),
    finding('detect.escalation', 'agent/support-triage', 'critical', { chain: ['secrets:read', 'iam:update', 'http:egress'] }),
    finding('unowned', XSS_ID, 'medium', { [`<script>k</script>`]: '<img src=x>' }),
  ];
  return {
    generated_at: '2025-06-02T08:30:00Z',
    window: 'P30D',
    identities,
    findings,
    metrics: {
      jit_share: 0.82,
      standing_grants: 3,
      credential_lifetime_seconds: { median: 600, p95: 3300 },
      revocation_to_dead_ms: { median: 4, p95: 19 },
      finding_to_response_ms: { median: 850, p95: 2400 },
      approvals_by_approver: { 'alice@acme.example': 14, 'bob@acme.example': 5, [XSS_ID]: 1 },
      break_glass_uses: 1,
      decisions: 1_204_311,
      issuances: 18_220,
    },
  };
}

function emptyReport(): PostureReport {
  return {
    generated_at: '2025-06-02T08:30:00Z',
    window: 'P30D',
    identities: [],
    findings: [],
    metrics: {
      jit_share: null,
      standing_grants: 0,
      credential_lifetime_seconds: { median: null, p95: null },
      revocation_to_dead_ms: { median: null, p95: null },
      finding_to_response_ms: { median: null, p95: null },
      approvals_by_approver: {},
      break_glass_uses: 0,
      decisions: 0,
      issuances: 0,
    },
  };
}

describe('renderPostureHtml (static checks)', () => {
  const html = renderPostureHtml(realisticReport());

  it('escapes everything that comes from the report', () => {
    assert.doesNotMatch(html, /<script/i, 'no script element, not even a hostile id');
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<b>mallory/);
    assert.ok(html.includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;'));
    assert.ok(html.includes('ci/evil&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'));
    assert.ok(html.includes('svc/o&#39;brien&amp;co'));
    // No attribute can have been closed by a quote from the data.
    assert.doesNotMatch(html, /onerror=alert\(1\)>/);
  });

  it('references nothing external', () => {
    // Inside tags only: escaped report text may well read `src=x`, which is harmless text.
    assert.doesNotMatch(html, /<[^>]*\s(?:src|href|action|srcset|poster|data|xlink:href)\s*=/i, 'no resource-loading attributes');
    assert.doesNotMatch(html, /url\(/i, 'no CSS url()');
    assert.doesNotMatch(html, /@import|@font-face/i);
    assert.doesNotMatch(html, /<(?:link|script|iframe|object|embed|img|base)\b/i);
    // The fixture's own audiences contain https:// (blast radius entries), but the page only counts them.
    assert.doesNotMatch(html, /https?:\/\//i);
  });

  it('carries a strict CSP', () => {
    assert.equal(POSTURE_REPORT_CSP, "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;unsafe-inline&#39;; img-src data:">`));
  });

  it('has one findings row per finding, worst first', () => {
    const rows = html.match(/<tr class="finding" data-severity="(\w+)"/g) ?? [];
    assert.equal(rows.length, realisticReport().findings.length);
    assert.ok(rows[0]?.includes('critical'));
    assert.ok(rows.at(-1)?.includes('low'));
  });

  it('renders an empty report with "No findings"', () => {
    const empty = renderPostureHtml(emptyReport());
    assert.match(empty, /No findings/);
    assert.match(empty, /No identities in the inventory/);
    assert.doesNotMatch(empty, /<tr class="finding"/);
    assert.doesNotMatch(empty, /NaN|undefined|null/);
  });

  it('survives a malformed report (e.g. a remote JSON body) without throwing', () => {
    const broken = { generated_at: 12, window: null, identities: [null, { id: 'a' }], findings: [{ id: 'x' }, null], metrics: null };
    const out = renderPostureHtml(broken as unknown as PostureReport);
    assert.match(out, /<\/html>/);
    assert.doesNotMatch(out, /NaN/);
  });
});

interface Loaded {
  readonly requests: string[];
  readonly problems: string[];
}

/** Load the page with every network request counted and refused, and every console error kept. */
async function load(page: Page, html: string): Promise<Loaded> {
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.route('**/*', async (route) => {
    requests.push(route.request().url());
    await route.abort();
  });
  await page.setContent(html, { waitUntil: 'load' });
  return { requests, problems };
}

/** Distinct colours on a coarse grid of the PNG, decoded by the browser's own canvas. */
async function distinctColours(page: Page, png: Buffer): Promise<number> {
  await page.setContent('<canvas id="c"></canvas>');
  return page.evaluate(async (b64: string) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.getElementById('c') as HTMLCanvasElement;
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    if (ctx === null) return 0;
    ctx.drawImage(img, 0, 0);
    const { data, width, height } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const seen = new Set<number>();
    for (let y = 0; y < height; y += 7) {
      for (let x = 0; x < width; x += 7) {
        const o = (y * width + x) * 4;
        seen.add(((data[o] ?? 0) << 16) | ((data[o + 1] ?? 0) << 8) | (data[o + 2] ?? 0));
      }
    }
    return seen.size;
  }, png.toString('base64'));
}

describe('renderPostureHtml in headless Chromium', { timeout: 180_000 }, () => {
  it('has Chromium to test with', async () => {
    // Fails, never skips: without a browser nobody has looked at the report.
    assert.ok(await chromiumAvailable(), CHROMIUM_MISSING_MESSAGE);
  });

  it('renders the report offline, with its charts and tables, and screenshots it', async (t) => {
    const report = realisticReport();
    const html = renderPostureHtml(report);
    const dir = await mkdtemp(join(tmpdir(), 'tether-posture-'));
    const shot = join(dir, 'posture-report.png');
    // Kept with the screenshot (TETHER_KEEP_SCREENSHOTS=1) so a failure can be opened and inspected.
    await writeFile(join(dir, 'posture-report.html'), html);
    try {
      await withChromiumPage(async (page, context) => {
        const { requests, problems } = await load(page, html);

        const dom = await page.evaluate(() => {
          const charts = [...document.querySelectorAll('svg.chart')].map((s) => {
            const r = s.getBoundingClientRect();
            return { label: s.getAttribute('aria-label') ?? '', w: r.width, h: r.height, bars: s.querySelectorAll('g.bar').length };
          });
          return {
            charts,
            findingRows: document.querySelectorAll('table.findings tbody tr.finding').length,
            identityRows: document.querySelectorAll('table.identities tbody tr.identity').length,
            scripts: document.querySelectorAll('script').length,
            imgs: document.querySelectorAll('img').length,
            idCells: [...document.querySelectorAll('table.identities td.id')].map((td) => td.textContent ?? ''),
            csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.getAttribute('content') ?? '',
            height: document.documentElement.scrollHeight,
          };
        });

        assert.deepEqual(requests, [], 'the report must not make any network request');
        assert.deepEqual(problems, [], 'no console errors (CSP violations show up here)');
        assert.equal(dom.scripts, 0);
        assert.equal(dom.imgs, 0);
        assert.equal(dom.csp, POSTURE_REPORT_CSP);
        // Hostile ids are shown as the literal text they are.
        assert.ok(dom.idCells.includes(XSS_ID));
        assert.ok(dom.idCells.includes(ATTR_ID));
        assert.ok(dom.idCells.includes(AMP_ID));

        assert.equal(dom.charts.length, 3, `charts: ${JSON.stringify(dom.charts)}`);
        for (const c of dom.charts) {
          assert.ok(c.w > 150 && c.h > 40, `${c.label} is ${c.w}x${c.h}`);
          assert.ok(c.bars > 0, `${c.label} has bars`);
        }
        const owasp = dom.charts.find((c) => c.label.startsWith('Findings by OWASP'));
        assert.equal(owasp?.bars, 10, 'one slot per OWASP NHI risk');
        const blast = dom.charts.find((c) => c.label.startsWith('Blast radius'));
        assert.equal(blast?.bars, 15, 'top 15 identities');
        assert.equal(dom.findingRows, report.findings.length);
        assert.equal(dom.identityRows, report.identities.length);

        await page.screenshot({ path: shot, fullPage: true });
        const size = (await stat(shot)).size;
        assert.ok(size > 10_000, `screenshot is only ${size} bytes`);
        const colours = await distinctColours(await context.newPage(), await readFile(shot));
        assert.ok(colours > 12, `screenshot has only ${colours} colours: blank page?`);
        t.diagnostic(`screenshot ${shot}: ${size} bytes, ${colours} colours, page height ${dom.height}px`);
      });
    } finally {
      if (process.env['TETHER_KEEP_SCREENSHOTS'] === undefined) await rm(dir, { recursive: true, force: true });
    }
  });

  it('renders the empty report', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tether-posture-'));
    const shot = join(dir, 'posture-report-empty.png');
    try {
      await withChromiumPage(async (page) => {
        const { requests, problems } = await load(page, renderPostureHtml(emptyReport()));
        assert.deepEqual(requests, []);
        assert.deepEqual(problems, []);
        const text = await page.locator('table.findings').innerText();
        assert.match(text, /No findings/);
        assert.equal(await page.locator('table.findings tbody tr.finding').count(), 0);
        assert.equal(await page.locator('svg.chart').count(), 0, 'no empty charts, a message instead');
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
