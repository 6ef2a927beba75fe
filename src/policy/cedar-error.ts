/**
 * Cedar's DetailedError → one readable line. Cedar gives byte offsets into the text it parsed; we turn
 * them into `file:line:col` so an operator can find the policy in the file they applied.
 */
import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';

/** Where the text Cedar saw sits: a file, and the offset of that text inside the file. */
export interface SourceSpot {
  readonly file: string;
  readonly fileText: string;
  /** The text Cedar parsed: the whole file, or one policy cut from it. */
  readonly parsedText: string;
  /** Offset (UTF-16 units) of `parsedText` inside `fileText`; 0 when Cedar parsed the whole file. */
  readonly offset: number;
}

export function formatCedarError(err: DetailedError, spot?: SourceSpot): string {
  const start = err.sourceLocations?.[0]?.start;
  let where = '';
  if (spot !== undefined) {
    where =
      start === undefined
        ? `${spot.file}: `
        : `${spot.file}:${lineCol(spot.fileText, spot.offset + utf16Offset(spot.parsedText, start))}: `;
  }
  const label = err.sourceLocations?.[0]?.label;
  const detail = [label, err.help].filter((s): s is string => typeof s === 'string' && s !== '');
  return `${where}${err.message}${detail.length > 0 ? ` (${detail.join('; ')})` : ''}`;
}

// Cedar counts UTF-8 bytes; JavaScript strings count UTF-16 units.
function utf16Offset(text: string, byteOffset: number): number {
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const col = offset - before.lastIndexOf('\n');
  return `${line}:${col}`;
}
