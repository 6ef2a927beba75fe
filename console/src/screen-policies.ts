/**
 * Policies: the active version, its text and history; a candidate edited here is dry-run against the
 * recent recorded decisions (issuance and request time) before a policy author activates it.
 */
import { admin, may, q } from './api.js';
import { facts, h, replace, table, when } from './dom.js';
import { failure, loading, toast } from './ui.js';

interface Version {
  version: number | null;
  source_hash?: string;
  files?: Record<string, string>;
  policies?: string[];
  created_at?: string;
  created_by?: string;
}
interface DryRun {
  evaluated: number;
  skipped: number;
  unchanged: number;
  changed: Array<{ seq: number; ts: string; phase: string; before: string; after: string; principal: { type: string; id: string }; action: string; resource: { type: string; id: string } }>;
  candidate: { warnings: unknown[] };
}

export function policiesScreen(main: HTMLElement, arg: string): void {
  replace(main, h('h1', {}, 'Policies'), loading());
  const version = /^\d+$/.test(arg) ? Number(arg) : undefined;
  admin<Version>('GET', `/policies${q({ version })}`)
    .then((v) => {
      if (v.version === null) {
        replace(main, h('h1', {}, 'Policies'), h('p', { class: 'muted' }, 'No policy is active yet (tether apply).'));
        return;
      }
      const files = v.files ?? {};
      const names = Object.keys(files).sort();
      const history = [];
      for (let n = v.version; n >= Math.max(1, v.version - 9); n--) history.push(h('li', {}, h('a', { href: `#/policies/${n}` }, `version ${n}`)));
      const pick = h('select', { id: 'policy-file' }, names.map((n) => h('option', { value: n }, n)));
      const text = h('textarea', { id: 'candidate', 'aria-label': 'Candidate policy text', spellcheck: 'false' });
      text.value = files[names[0] ?? ''] ?? '';
      const edited: Record<string, string> = { ...files };
      pick.addEventListener('change', () => (text.value = edited[pick.value] ?? ''));
      text.addEventListener('input', () => (edited[pick.value] = text.value));
      const out = h('div', { id: 'dry-run-result', 'aria-live': 'polite' });
      const dryRun = () =>
        admin<DryRun>('POST', '/policies/dry-run', { files: edited })
          .then((r) =>
            replace(
              out,
              h('p', {}, `${r.evaluated} recorded decisions replayed: ${r.changed.length} would change, ${r.unchanged} unchanged, ${r.skipped} not replayable.`),
              table(r.changed, [
                ['#', (c) => c.seq],
                ['When', (c) => when(c.ts)],
                ['Phase', (c) => c.phase],
                ['Principal', (c) => c.principal.id],
                ['Action', (c) => c.action],
                ['Resource', (c) => `${c.resource.type}::${c.resource.id}`],
                ['Now', (c) => c.before],
                ['With the candidate', (c) => h('strong', {}, c.after)],
              ], { empty: 'No recorded decision would change.', label: 'Changed decisions' }),
            ),
          )
          .catch((e) => {
            replace(out, h('p', { class: 'error' }, String((e as Error).message)));
            failure(e);
          });
      const activate = () =>
        admin<{ changed: boolean; version: number }>('POST', '/policies', { files: edited })
          .then((r) => {
            toast(r.changed ? `Version ${r.version} is active` : 'Nothing changed');
            location.hash = '#/policies';
            policiesScreen(main, '');
          })
          .catch(failure);
      replace(
        main,
        h('h1', {}, `Policies — version ${v.version}`),
        facts([['Created', when(v.created_at)], ['By', v.created_by ?? '—'], ['Source hash', v.source_hash ?? '—'], ['Policies', (v.policies ?? []).join(', ')]]),
        h('h2', {}, 'History'),
        h('ul', {}, history),
        h('div', { class: 'grid2' },
          h('section', {}, h('h2', {}, 'Text'), names.map((n) => [h('h3', {}, n), h('pre', {}, files[n] ?? '')])),
          h('section', {},
            may('policies')
              ? [
                  h('h2', {}, 'Try a candidate'),
                  h('label', { for: 'policy-file' }, 'File', pick),
                  text,
                  h('p', {}, h('button', { type: 'button', class: 'primary', onclick: () => void dryRun() }, 'Dry-run'), ' ', h('button', { type: 'button', class: 'danger', onclick: () => void activate() }, 'Activate')),
                  out,
                ]
              : h('p', { class: 'muted' }, 'Only policy authors change policies.'))),
      );
    })
    .catch(failure);
}
