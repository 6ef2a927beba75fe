import { hostname } from 'node:os';
import { connect, type Socket } from 'node:net';
import type { AuditRecord } from '../chain.js';
import type { ExportSink } from '../export-runner.js';

// RFC 5424 §6.2.1: facility 13 is "log audit"; severity 6 informational, 4 warning for refusals.
const FACILITY_LOG_AUDIT = 13;
// RFC 5424 §7.2.2 SD-IDs with an @ carry a private enterprise number; 32473 is the one RFC 5612
// reserves for documentation. Receivers key on the SD-ID name, so operators can keep it.
const SD_ID = 'tether@32473';

const sdEscape = (v: string) => v.replace(/[\\"\]]/g, (c) => `\\${c}`);
// RFC 5424 §6.2.7: MSGID is 1-32 printable US-ASCII characters.
const msgId = (t: string) => t.replace(/[^\x21-\x7e]/g, '_').slice(0, 32) || '-';

/** One RFC 5424 message: header, structured data with the chain position, and the JSON event as MSG. */
export function syslogMessage(e: AuditRecord, msg: string, host = hostname()): string {
  const refused = e.data.decision === 'deny' || /(refused|denied|revoked)$/.test(e.type);
  const pri = FACILITY_LOG_AUDIT * 8 + (refused ? 4 : 6);
  const sd = `[${SD_ID} seq="${e.seq}" hash="${sdEscape(e.hash)}" prev_hash="${sdEscape(e.prev_hash)}"]`;
  // MSG is UTF-8 with the BOM RFC 5424 §6.4 asks for.
  return `<${pri}>1 ${e.ts} ${host.slice(0, 255) || '-'} tether ${process.pid} ${msgId(e.type)} ${sd} \uFEFF${msg}`;
}

/**
 * Syslog over TCP with octet-counting framing (RFC 6587 §3.4.1), so a JSON message may hold any
 * byte. Plain syslog has no acknowledgement: a batch counts as sent once the kernel took it, and a
 * collector that dies with bytes in its socket buffer can lose them; RFC 3195/RELP or the HTTP sink
 * give end-to-end acknowledgement (README, "Streaming export").
 */
export function createSyslogTcpSink(o: { host: string; port: number; line(e: AuditRecord): string; timeoutMs?: number }): ExportSink<AuditRecord> {
  let sock: Socket | null = null;
  const timeoutMs = o.timeoutMs ?? 10_000;

  const ensure = () =>
    new Promise<Socket>((resolve, reject) => {
      if (sock && !sock.destroyed) return resolve(sock);
      const s = connect({ host: o.host, port: o.port });
      s.setKeepAlive(true, 10_000);
      s.setTimeout(timeoutMs, () => s.destroy(new Error('syslog collector timed out')));
      s.once('connect', () => {
        sock = s;
        resolve(s);
      });
      s.once('error', reject);
      // An error after connect (collector gone) marks the socket dead; the next batch reconnects.
      s.on('error', () => {});
      s.on('close', () => {
        if (sock === s) sock = null;
      });
    });

  return {
    name: `syslog:${o.host}:${o.port}`,
    async send(items) {
      const s = await ensure();
      const frames = items.map((e) => {
        const m = Buffer.from(syslogMessage(e, o.line(e)), 'utf8');
        return Buffer.concat([Buffer.from(`${m.length} `), m]);
      });
      await new Promise<void>((resolve, reject) => {
        s.write(Buffer.concat(frames), (err) => {
          if (err) {
            s.destroy();
            reject(err);
          } else if (s.destroyed) reject(new Error('syslog connection closed'));
          else resolve();
        });
      });
    },
    async close() {
      sock?.end();
      sock = null;
    },
  };
}
