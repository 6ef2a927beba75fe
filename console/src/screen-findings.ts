/** Findings with their evidence for people and the response taken; resolve or reverse. Access reviews: certify or revoke. */
import { admin, may, q } from './api.js';
import { facts, h, readable, replace, when } from './dom.js';
import { identityLink } from './screen-inventory.js';
import { failure, loading, reasonAction } from './ui.js';

interface Finding {
  id: string;
  rule: string;
  identity: string;
  severity: string;
  status: string;
  evidence: Record<string, unknown>;
  response: unknown;
  created_at: string;
  resolution: unknown;
}
interface Review {
  id: string;
  identity: string;
  reason: string;
  status: string;
  detail: Record<string, unknown>;
  created_at: string;
}

const RULES: Record<string, string> = {
  replay: 'A token presented by someone other than its holder',
  enumeration: 'Probing for what it may reach',
  first_seen: 'An action this identity never used',
  off_hours: 'Activity at an hour this identity is not active',
  rate_spike: 'Far more requests than usual',
  after_task: 'A token used after its task ended',
  dormant: 'A long-silent identity active again',
  escalation: 'A new chain of privileged steps',
  drift: 'Used from somewhere new',
};

export function findingsScreen(main: HTMLElement): void {
  const findings = h('div', {}, loading());
  const reviews = h('div', {}, loading());
  const load = () => {
    admin<{ findings: Finding[] }>('GET', `/findings${q({ status: 'open', limit: 100 })}`)
      .then((r) =>
        replace(
          findings,
          r.findings.length
            ? r.findings.map((f) =>
                h(
                  'article',
                  { class: 'card', 'data-finding': f.id },
                  h('h3', {}, h('span', { class: `badge sev-${f.severity}` }, f.severity), ' ', RULES[f.rule] ?? f.rule, ' — ', identityLink(f.identity)),
                  facts([
                    ['Rule', f.rule],
                    ['Seen', when(f.created_at)],
                    ['Evidence', readable(Object.fromEntries(Object.entries(f.evidence).filter(([k]) => k !== 'event')))],
                    ['The request that raised it', f.evidence['event'] ? h('details', {}, h('summary', {}, 'show'), readable(f.evidence['event'])) : '—'],
                    ['Response taken', readable(f.response)],
                  ]),
                  may('decide')
                    ? [
                        reasonAction('Resolve', (reason) => admin('POST', `/findings/${f.id}/resolve`, { reason }), load),
                        reasonAction('Resolve as false positive (lift the response)', (reason) => admin('POST', `/findings/${f.id}/resolve`, { reason, reverse: true }), load, { testid: 'reverse' }),
                      ]
                    : null,
                ),
              )
            : h('p', { class: 'muted' }, 'No open findings.'),
        ),
      )
      .catch(failure);
    admin<{ reviews: Review[] }>('GET', `/reviews${q({ status: 'open', limit: 100 })}`)
      .then((r) =>
        replace(
          reviews,
          r.reviews.length
            ? r.reviews.map((v) =>
                h(
                  'article',
                  { class: 'card', 'data-review': v.id },
                  h('h3', {}, identityLink(v.identity), ': ', v.reason.replace(/_/g, ' ')),
                  facts([['Opened', when(v.created_at)], ['Detail', readable(v.detail)]]),
                  may('decide')
                    ? [
                        reasonAction('Certify', (reason) => admin('POST', `/reviews/${v.id}/decision`, { decision: 'certify', reason }), load),
                        reasonAction('Revoke access', (reason) => admin('POST', `/reviews/${v.id}/decision`, { decision: 'revoke', reason }), load, { danger: true }),
                      ]
                    : null,
                ),
              )
            : h('p', { class: 'muted' }, 'No open access reviews.'),
        ),
      )
      .catch(failure);
  };
  replace(main, h('h1', {}, 'Findings and reviews'), h('div', { class: 'grid2' }, h('section', {}, h('h2', {}, 'Open findings'), findings), h('section', {}, h('h2', {}, 'Access reviews'), reviews)));
  load();
}
