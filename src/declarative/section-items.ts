import type { z } from 'zod';
import { invalidRequest } from '../errors.js';

/**
 * A named-items section of a bundle (routes, mcp_servers, connectors): every item validated by its
 * schema, errors naming the section, index and field, and each name declared once.
 */
export function parseSectionItems<T extends { name: string }>(section: string, schema: z.ZodType<T>, items: readonly unknown[]): T[] {
  const parsed = items.map((raw, i) => {
    const p = schema.safeParse(raw);
    if (!p.success) {
      const issue = p.error.issues[0]!;
      throw invalidRequest(`${section}[${i}]${issue.path.length ? '.' + issue.path.join('.') : ''}: ${issue.message}`);
    }
    return p.data;
  });
  const names = parsed.map((x) => x.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw invalidRequest(`${section}: ${JSON.stringify(dup)} is declared twice`);
  return parsed;
}
