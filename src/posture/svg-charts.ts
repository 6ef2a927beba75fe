/**
 * Inline SVG charts for the posture report. The report must open with no network at all (strict
 * CSP, e-mailed as one file), so there is no chart library and no script: each chart is a string
 * of SVG built here, sized by its viewBox so it scales on screen and prints crisply.
 *
 * Every label may come from outside (identity ids are chosen by whoever configures an issuer), so
 * every piece of text goes through `escapeHtml`, and is truncated *before* escaping so an entity
 * is never cut in half.
 */

/** Escape for HTML/SVG text and for double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Shorten to at most `max` characters (code points, so no half surrogate pair), with an ellipsis. */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
  /** Tooltip and accessible text; defaults to `label: value`. */
  readonly title?: string;
  /** Fill colour (a CSS colour we chose, never report data). */
  readonly color?: string;
  /** Text drawn at the end of the bar; defaults to the value. */
  readonly valueLabel?: string;
}

export interface ColumnChartOptions {
  readonly bars: readonly Bar[];
  readonly ariaLabel: string;
  readonly width?: number;
  readonly height?: number;
  readonly color?: string;
}

const AXIS = '#94a3b8';
const GRID = '#e2e8f0';
const INK = '#334155';
const MUTED = '#64748b';
const ACCENT = '#2563eb';

/**
 * Vertical bars with a labelled y axis (used for findings per OWASP NHI risk). Zero bars keep their
 * slot and label, so the ten risks always line up in rank order.
 */
export function columnChart(opts: ColumnChartOptions): string {
  const width = opts.width ?? 560;
  const height = opts.height ?? 240;
  const m = { top: 22, right: 12, bottom: 34, left: 38 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = Math.max(0, ...opts.bars.map((b) => finite(b.value)));
  const { top, step } = niceScale(max);
  const y = (v: number): number => m.top + plotH - (top === 0 ? 0 : (v / top) * plotH);
  const slot = opts.bars.length === 0 ? plotW : plotW / opts.bars.length;
  const barW = Math.min(36, slot * 0.62);

  const parts: string[] = [];
  for (let t = 0; t <= top; t += step) {
    const ty = round(y(t));
    parts.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${ty}" y2="${ty}" stroke="${GRID}" stroke-width="1"/>`,
      `<text x="${m.left - 6}" y="${ty + 4}" text-anchor="end" font-size="11" fill="${MUTED}">${fmtCount(t)}</text>`,
    );
  }
  opts.bars.forEach((b, i) => {
    const v = finite(b.value);
    const cx = m.left + slot * i + slot / 2;
    const by = y(v);
    const h = m.top + plotH - by;
    const title = escapeHtml(b.title ?? `${b.label}: ${v}`);
    parts.push(
      `<g class="bar"><title>${title}</title>` +
        (v > 0
          ? `<rect x="${round(cx - barW / 2)}" y="${round(by)}" width="${round(barW)}" height="${round(h)}" rx="2" fill="${escapeHtml(b.color ?? opts.color ?? ACCENT)}"/>`
          : '') +
        `<text x="${round(cx)}" y="${round(by - 6)}" text-anchor="middle" font-size="11" font-weight="600" fill="${v > 0 ? INK : AXIS}">${escapeHtml(b.valueLabel ?? fmtCount(v))}</text>` +
        `<text x="${round(cx)}" y="${height - m.bottom + 16}" text-anchor="middle" font-size="11" fill="${INK}">${escapeHtml(truncate(b.label, 8))}</text>` +
        `</g>`,
    );
  });
  parts.push(
    `<line x1="${m.left}" x2="${width - m.right}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="${AXIS}" stroke-width="1"/>`,
  );
  return svg(width, height, opts.ariaLabel, parts.join(''));
}

export interface BarChartOptions {
  readonly bars: readonly Bar[];
  readonly ariaLabel: string;
  readonly width?: number;
  /** Characters of label before truncation (the full label stays in the tooltip). */
  readonly labelChars?: number;
  readonly color?: string;
}

/** Horizontal bars, one row each, in the order given (used for blast radius and lifetimes). */
export function barChart(opts: BarChartOptions): string {
  const width = opts.width ?? 560;
  const labelChars = opts.labelChars ?? 30;
  const rowH = 24;
  const m = { top: 6, right: 64, bottom: 6, left: Math.min(240, 12 + labelChars * 6.6) };
  const height = m.top + m.bottom + Math.max(1, opts.bars.length) * rowH;
  const plotW = width - m.left - m.right;
  const max = Math.max(0, ...opts.bars.map((b) => finite(b.value)));

  const parts: string[] = [];
  opts.bars.forEach((b, i) => {
    const v = finite(b.value);
    const yTop = m.top + i * rowH;
    const w = max === 0 ? 0 : Math.max(2, (v / max) * plotW);
    const title = escapeHtml(b.title ?? `${b.label}: ${v}`);
    parts.push(
      `<g class="bar"><title>${title}</title>` +
        `<text x="${round(m.left - 8)}" y="${yTop + 16}" text-anchor="end" font-size="12" fill="${INK}">${escapeHtml(truncate(b.label, labelChars))}</text>` +
        `<rect x="${round(m.left)}" y="${yTop + 4}" width="${round(plotW)}" height="${rowH - 8}" rx="2" fill="#f1f5f9"/>` +
        (w > 0
          ? `<rect x="${round(m.left)}" y="${yTop + 4}" width="${round(w)}" height="${rowH - 8}" rx="2" fill="${escapeHtml(b.color ?? opts.color ?? ACCENT)}"/>`
          : '') +
        `<text x="${round(m.left + w + 6)}" y="${yTop + 16}" font-size="12" font-weight="600" fill="${INK}">${escapeHtml(b.valueLabel ?? fmtCount(v))}</text>` +
        `</g>`,
    );
  });
  return svg(width, height, opts.ariaLabel, parts.join(''));
}

function svg(width: number, height: number, ariaLabel: string, body: string): string {
  // Explicit width/height give the chart its size even before CSS; the viewBox lets CSS scale it.
  // No xmlns: inline SVG in HTML does not need it, and the file then holds no URL at all.
  return (
    `<svg class="chart" role="img" aria-label="${escapeHtml(ariaLabel)}" ` +
    `width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif">` +
    `${body}</svg>`
  );
}

/** Axis top and tick step on a 1-2-5 ladder, with at most about five ticks. */
function niceScale(max: number): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const rough = max / 4;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= rough) ?? 10 * mag);
  return { top: Math.ceil(max / step) * step, step };
}

function finite(v: number): number {
  return Number.isFinite(v) && v > 0 ? v : 0;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

function fmtCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}
