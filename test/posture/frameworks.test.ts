import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CSF_SUBCATEGORIES,
  MAPPED_KINDS,
  OWASP_NHI_TOP10,
  csfTitle,
  mapFinding,
  owaspTitle,
  recommendationFor,
  resolveFindingKind,
} from '../../src/posture/frameworks.js';

const POSTURE_KINDS = [
  'unowned',
  'review_overdue',
  'dormant',
  'unused_permission',
  'standing_access',
  'long_lived_credential',
  'excess_blast_radius',
] as const;

// Contract tokens of detection: detection rule ids contain these.
const RULE_TOKENS = [
  'replay',
  'enumeration',
  'first_seen',
  'off_hours',
  'rate_spike',
  'after_task',
  'dormant',
  'escalation',
  'drift',
] as const;

const OWASP_IDS = new Set<string>(OWASP_NHI_TOP10.map((r) => r.id));
const CSF_IDS = new Set<string>(CSF_SUBCATEGORIES.map((s) => s.id));

describe('OWASP NHI Top 10 (2025) table', () => {
  it('lists NHI1..NHI10 in rank order with the official titles', () => {
    // Pinned from owasp.org/www-project-non-human-identities-top-10/2025/top-10-2025/.
    assert.deepEqual(
      OWASP_NHI_TOP10.map((r) => `${r.id} ${r.title}`),
      [
        'NHI1 Improper Offboarding',
        'NHI2 Secret Leakage',
        'NHI3 Vulnerable Third-Party NHI',
        'NHI4 Insecure Authentication',
        'NHI5 Overprivileged NHI',
        'NHI6 Insecure Cloud Deployment Configurations',
        'NHI7 Long-Lived Secrets',
        'NHI8 Environment Isolation',
        'NHI9 NHI Reuse',
        'NHI10 Human Use of NHI',
      ],
    );
    for (const r of OWASP_NHI_TOP10) assert.match(r.id, /^NHI([1-9]|10)$/);
  });

  it('is frozen', () => {
    assert.ok(Object.isFrozen(OWASP_NHI_TOP10));
    assert.ok(OWASP_NHI_TOP10.every((r) => Object.isFrozen(r)));
    assert.equal(owaspTitle('NHI5'), 'Overprivileged NHI');
    assert.equal(owaspTitle('NHI11'), undefined);
  });
});

describe('NIST CSF 2.0 table', () => {
  it('holds well-formed, unique CSF 2.0 subcategory ids with their outcome statements', () => {
    assert.equal(CSF_IDS.size, CSF_SUBCATEGORIES.length, 'duplicate id');
    for (const s of CSF_SUBCATEGORIES) {
      // CSF 2.0 ids: function (GV ID PR DE RS RC), category, two-digit number.
      assert.match(s.id, /^(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}-\d{2}$/, s.id);
      assert.ok(s.title.length > 20, `${s.id} needs its outcome statement`);
    }
    assert.ok(Object.isFrozen(CSF_SUBCATEGORIES));
    assert.match(csfTitle('PR.AA-05') ?? '', /least privilege/);
  });

  it('uses no CSF 1.1 category that 2.0 removed or renamed', () => {
    // 1.1 categories gone in 2.0: PR.AC (now PR.AA), PR.IP, PR.PT, PR.MA, DE.DP, RS.RP, ID.BE, ID.GV, ID.SC, RS.IM.
    const gone = /^(PR\.AC|PR\.IP|PR\.PT|PR\.MA|DE\.DP|RS\.RP|ID\.BE|ID\.GV|ID\.SC|RS\.IM|RC\.IM)-/;
    for (const s of CSF_SUBCATEGORIES) assert.doesNotMatch(s.id, gone, `${s.id} is a CSF 1.1 id`);
    // Ids withdrawn inside categories that survived (DE.CM-07 folded into DE.CM-09, DE.AE-01 removed).
    for (const s of CSF_SUBCATEGORIES) assert.ok(!['DE.CM-07', 'DE.CM-04', 'DE.AE-01', 'ID.AM-06'].includes(s.id), s.id);
  });
});

describe('mapFinding', () => {
  for (const kind of [...POSTURE_KINDS, ...RULE_TOKENS]) {
    it(`maps ${kind} to known OWASP and CSF ids, with a recommendation`, () => {
      const m = mapFinding(kind);
      assert.ok(m.owasp.length >= 1, 'at least one OWASP id');
      assert.ok(m.csf.length >= 1, 'at least one CSF id');
      for (const id of m.owasp) assert.ok(OWASP_IDS.has(id), `${id} not in OWASP_NHI_TOP10`);
      for (const id of m.csf) assert.ok(CSF_IDS.has(id), `${id} not in CSF_SUBCATEGORIES`);
      assert.equal(new Set(m.owasp).size, m.owasp.length, 'duplicate OWASP id');
      assert.equal(new Set(m.csf).size, m.csf.length, 'duplicate CSF id');
      assert.ok(recommendationFor(kind).length > 30);
    });
  }

  it('covers exactly the contract kinds and tokens', () => {
    assert.deepEqual(new Set(MAPPED_KINDS), new Set([...POSTURE_KINDS, ...RULE_TOKENS]));
  });

  it('every CSF subcategory in the table is used by some mapping', () => {
    const used = new Set(MAPPED_KINDS.flatMap((k) => mapFinding(k).csf));
    for (const id of CSF_IDS) assert.ok(used.has(id), `${id} is listed but never mapped`);
  });

  it('resolves rule ids that contain a token', () => {
    assert.deepEqual(mapFinding('detect.replay'), mapFinding('replay'));
    assert.deepEqual(mapFinding('replay_dpop_key'), mapFinding('replay'));
    assert.deepEqual(mapFinding('rule:off_hours'), mapFinding('off_hours'));
    assert.deepEqual(mapFinding('Detect.Rate_Spike'), mapFinding('rate_spike'));
    assert.equal(resolveFindingKind('tether/first_seen-resource'), 'first_seen');
    assert.equal(resolveFindingKind('dormant_wakeup'), 'dormant');
    assert.equal(recommendationFor('detect.drift'), recommendationFor('drift'));
  });

  it('does not match a token inside a longer word', () => {
    assert.equal(resolveFindingKind('replayed'), null);
    assert.equal(resolveFindingKind('nondrifting'), null);
  });

  it('returns empty mappings, but a recommendation, for unknown kinds', () => {
    assert.deepEqual(mapFinding('something_new'), { owasp: [], csf: [] });
    assert.ok(recommendationFor('something_new').length > 0);
    assert.equal(resolveFindingKind('__proto__'), null);
    assert.equal(resolveFindingKind('constructor'), null);
  });

  it('returns fresh arrays, so a caller cannot edit the table', () => {
    const a = mapFinding('unowned');
    a.owasp.push('NHI9');
    a.csf.length = 0;
    assert.deepEqual(mapFinding('unowned').owasp, ['NHI1']);
    assert.ok(mapFinding('unowned').csf.length > 0);
  });
});
