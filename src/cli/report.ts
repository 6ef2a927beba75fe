/** `tether report`: the posture report of a running broker, as JSON (contract) or self-contained HTML. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { adminTarget, ApiError, type AdminTarget } from './http-client.js';

export interface ReportQuery {
  window?: string | undefined;
  dormantAfter?: string | undefined;
}

/** GET /admin/v1/posture as text, so HTML and JSON travel byte for byte. */
export async function fetchPosture(t: AdminTarget, format: 'json' | 'html', q: ReportQuery): Promise<string> {
  const params = new URLSearchParams({ format });
  if (q.window) params.set('window', q.window);
  if (q.dormantAfter) params.set('dormant_after', q.dormantAfter);
  let res: Response;
  try {
    res = await fetch(`${t.url}/admin/v1/posture?${params}`, { headers: { authorization: `Bearer ${t.token}` } });
  } catch (e) {
    throw new Error(`cannot reach ${t.url}: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let body: Record<string, unknown> = { error: 'error', error_description: text.slice(0, 200) };
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* keep the text */
    }
    throw new ApiError(res.status, body);
  }
  return text;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('posture report of a running broker: findings, blast radius, metrics (JSON by default, or --format html)')
    .option('--url <url>', 'broker URL (or TETHER_URL); admin token from TETHER_ADMIN_TOKEN')
    .option('--json', 'JSON output (the default)')
    .option('--format <format>', 'json | html')
    .option('--window <duration>', 'ISO-8601 window analysed, e.g. P30D')
    .option('--dormant-after <duration>', 'idle this long counts as dormant, e.g. P30D')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o: { url?: string; json?: boolean; format?: string; window?: string; dormantAfter?: string; out?: string }) => {
      const format = o.format ?? 'json';
      if (format !== 'json' && format !== 'html') throw new Error(`unknown --format ${format} (json or html)`);
      if (o.json && format === 'html') throw new Error('--json and --format html contradict each other');
      const text = await fetchPosture(adminTarget({ ...(o.url ? { url: o.url } : {}) }), format, { window: o.window, dormantAfter: o.dormantAfter });
      // JSON is re-indented for people; the bytes of HTML are the server's.
      const out = format === 'json' ? JSON.stringify(JSON.parse(text), null, 2) + '\n' : text;
      if (o.out) await writeFile(o.out, out, { mode: 0o600 });
      else process.stdout.write(out);
    });
}
