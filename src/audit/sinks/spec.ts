import type { AuditRecord } from '../chain.js';
import type { ExportSink } from '../export-runner.js';
import { formatEvent, type ExportFormat } from './format.js';
import { createHttpSink } from './http.js';
import { createJsonlFilesSink } from './jsonl-files.js';
import { createSyslogTcpSink } from './syslog.js';

/**
 * A sink named on the command line or in TETHER_AUDIT_SINKS:
 *   jsonl:/var/log/tether            JSON Lines files, rotated by size
 *   syslog://collector:514           RFC 5424 over TCP (RFC 6587 octet counting)
 *   https://siem.example/ingest      batched NDJSON POSTs
 * A leading `ocsf+` sends OCSF 1.3 events instead of the stored records.
 * The spec minus any query string names the sink's cursor, so a restart resumes where it left off.
 */
export interface SinkSpec {
  kind: 'jsonl' | 'syslog' | 'http';
  format: ExportFormat;
  target: string;
  /** The cursor's name in audit_cursors. */
  name: string;
}

export function parseSinkSpec(spec: string): SinkSpec {
  const format: ExportFormat = spec.startsWith('ocsf+') ? 'ocsf' : 'jsonl';
  const rest = format === 'ocsf' ? spec.slice(5) : spec;
  if (rest.startsWith('jsonl:')) {
    const dir = rest.slice(6);
    if (!dir) throw new Error(`audit sink ${spec}: jsonl needs a directory (jsonl:/path)`);
    return { kind: 'jsonl', format, target: dir, name: `${format}+jsonl:${dir}` };
  }
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw new Error(`audit sink ${spec}: expected jsonl:DIR, syslog://HOST:PORT or an http(s) URL, optionally prefixed ocsf+`);
  }
  if (url.protocol === 'syslog:') {
    if (!url.hostname || !url.port) throw new Error(`audit sink ${spec}: syslog needs host and port`);
    return { kind: 'syslog', format, target: `${url.hostname}:${url.port}`, name: `${format}+syslog://${url.hostname}:${url.port}` };
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    if (url.username || url.password) throw new Error(`audit sink ${spec}: put credentials in TETHER_AUDIT_SINK_AUTHORIZATION, not in the URL`);
    return { kind: 'http', format, target: url.toString(), name: `${format}+${url.origin}${url.pathname}` };
  }
  throw new Error(`audit sink ${spec}: unknown scheme ${url.protocol}`);
}

export function createSink(s: SinkSpec, opts: { authorization?: string | undefined; rotateBytes?: number | undefined }): ExportSink<AuditRecord> {
  const line = (e: AuditRecord) => formatEvent(e, s.format);
  switch (s.kind) {
    case 'jsonl':
      return createJsonlFilesSink({ dir: s.target, line, ...(opts.rotateBytes ? { rotateBytes: opts.rotateBytes } : {}) });
    case 'syslog': {
      const i = s.target.lastIndexOf(':');
      return createSyslogTcpSink({ host: s.target.slice(0, i), port: Number(s.target.slice(i + 1)), line });
    }
    case 'http':
      return createHttpSink({ url: s.target, line, authorization: opts.authorization });
  }
}
