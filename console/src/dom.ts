/**
 * The console's only way to build markup: elements and text nodes, never HTML strings, so nothing
 * the API returns (identity ids, evidence, policy text) can become markup or script.
 */
export type Child = Node | string | number | boolean | null | undefined | Child[];
type Attr = string | number | boolean | undefined | null | ((e: Event) => void);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, Attr> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === true) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A table from rows; `cols` map a header to a cell. */
export function table<T>(rows: readonly T[], cols: ReadonlyArray<[string, (r: T) => Child]>, o: { empty?: string; rowClass?: (r: T) => string | undefined; label?: string } = {}): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'muted' }, o.empty ?? 'Nothing here.');
  return h(
    'table',
    { 'aria-label': o.label },
    h('thead', {}, h('tr', {}, cols.map(([name]) => h('th', { scope: 'col' }, name)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: o.rowClass?.(r) }, cols.map(([, f]) => h('td', {}, f(r)))))),
  );
}

/** A definition list of facts. */
export function facts(pairs: ReadonlyArray<[string, Child]>): HTMLElement {
  return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** "source_ip" → "Source ip": evidence keys for people. */
export function humanize(key: string): string {
  const s = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').trim().toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Any JSON value as readable text (no raw JSON for people: nested objects become "key: value" lines). */
export function readable(v: unknown): Child {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.length === 0 ? '—' : v.every((x) => typeof x !== 'object' || x === null) ? v.join(', ') : h('ul', {}, v.map((x) => h('li', {}, readable(x))));
  if (typeof v === 'object') return facts(Object.entries(v as Record<string, unknown>).map(([k, x]) => [humanize(k), /^(at|ts)$|_at$/i.test(k) && typeof x === 'number' && x > 1e12 ? when(new Date(x).toISOString()) : readable(x)]));
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v)) return when(v);
  return String(v);
}
