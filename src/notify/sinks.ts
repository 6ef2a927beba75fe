/**
 * Where notifications go (README "Notifications"):
 *
 * - `webhook+https://…`: one JSON POST per notification, signed. `X-Tether-Timestamp: <epoch s>` and
 *   `X-Tether-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`: the timestamp is
 *   covered, so a receiver that refuses timestamps older than 5 minutes and compares in constant
 *   time cannot be replayed an old one; within the window it drops repeats by `seq`.
 * - `slack+https://hooks.slack.com/…`: a Slack incoming webhook (the URL is the secret), Block Kit
 *   with who, what, why, expiry, a link to the console and, for a pending grant, Approve/Deny buttons
 *   that come back as signed interaction callbacks (slack-interactions.ts).
 *
 * A send resolves once the receiver answered 2xx and throws otherwise: the runner retries the same
 * batch with backoff and moves its cursor only after (export-runner.ts), so nothing queued is lost to
 * a restart or an outage.
 */
import { createHmac } from 'node:crypto';
import type { AuditRecord } from '../audit/index.js';
import type { ExportSink } from '../audit/export-runner.js';
import { invalidRequest } from '../errors.js';
import { notificationOf, type Notification } from './notification.js';

export const NOTIFY_SIGNATURE_HEADER = 'X-Tether-Signature';
export const NOTIFY_TIMESTAMP_HEADER = 'X-Tether-Timestamp';

/** `v1=<hex>` over `<timestamp>.<body>`: exported so receivers (and tests) compute it the same way. */
export function signNotification(timestamp: string, body: string, secret: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface NotifySinkSpec {
  kind: 'webhook' | 'slack';
  url: string;
}

export function parseNotifySpec(spec: string): NotifySinkSpec {
  const m = /^(webhook|slack)\+(https?:\/\/.+)$/.exec(spec);
  if (!m) throw invalidRequest(`notification sink ${JSON.stringify(spec)}: expected webhook+https://… or slack+https://…`);
  const url = new URL(m[2]!);
  return { kind: m[1] as 'webhook' | 'slack', url: url.toString() };
}

/**
 * One delivery. Network errors, 5xx, 408 and 429 throw (the runner retries the batch); any other 4xx
 * is the receiver refusing this one notification for good: it is logged and skipped, so one payload a
 * receiver will never take cannot hold back every notification after it.
 */
async function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number, log: NotifyLogger, seq: number): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(timeoutMs) });
  await res.arrayBuffer().catch(() => undefined);
  if (res.status >= 200 && res.status <= 299) return;
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
    log.warn({ sink: new URL(url).origin, status: res.status, seq }, 'notification refused by the receiver: skipped');
    return;
  }
  throw new Error(`${new URL(url).origin} answered ${res.status}`);
}

export interface NotifyLogger {
  warn(obj: object, msg: string): void;
}

export function createNotifySink(spec: NotifySinkSpec, o: { secret?: string | undefined; consoleBase: () => string; now: () => number; logger: NotifyLogger; timeoutMs?: number }): ExportSink<AuditRecord> {
  if (spec.kind === 'webhook' && !o.secret) throw invalidRequest('a webhook notification sink needs TETHER_NOTIFY_SECRET: unsigned notifications could be forged');
  const timeout = o.timeoutMs ?? 5_000;
  const origin = new URL(spec.url).origin;
  return {
    name: `notify:${spec.kind}:${origin}${new URL(spec.url).pathname}`,
    async send(items) {
      for (const rec of items) {
        const n = notificationOf(rec, o.consoleBase());
        if (!n) continue;
        if (spec.kind === 'webhook') {
          const body = JSON.stringify({ type: 'tether.notification', notification: n });
          const ts = String(Math.floor(o.now() / 1000));
          await post(spec.url, { [NOTIFY_TIMESTAMP_HEADER]: ts, [NOTIFY_SIGNATURE_HEADER]: signNotification(ts, body, o.secret!) }, body, timeout, o.logger, n.seq);
        } else {
          await post(spec.url, {}, JSON.stringify(slackMessage(n)), timeout, o.logger, n.seq);
        }
      }
    },
    close: async () => {},
  };
}

const TITLES: Record<Notification['event'], string> = {
  'grant.pending': ':hourglass: Access request waiting for approval',
  'grant.approved': ':white_check_mark: Access request approved',
  'grant.denied': ':no_entry: Access request denied',
  'grant.expired': ':alarm_clock: Access request expired undecided',
  'grant.break_glass': ':rotating_light: BREAK-GLASS access opened',
  'grant.break_glass_unconfirmed': ':rotating_light: BREAK-GLASS access not confirmed by a second operator',
  'finding.raised': ':mag: Detection finding',
};

/** Slack text is mrkdwn: what came from a workload is escaped so it cannot format or mention. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Block Kit for one notification (https://api.slack.com/block-kit). */
export function slackMessage(n: Notification): Record<string, unknown> {
  const fields: string[] = [];
  if (n.identity) fields.push(`*Who*\n${esc(n.identity)}`);
  if (n.actions?.length) fields.push(`*What*\n${esc(n.actions.join(', '))}${n.audience ? ` on ${esc(n.audience)}` : ''}`);
  const why = [n.purpose, n.ticket ? `ticket ${n.ticket}` : undefined, n.justification, n.reason].filter((x): x is string => !!x);
  if (why.length) fields.push(`*Why*\n${esc(why.join(' · '))}`);
  if (n.expires_at) fields.push(`*Decide by*\n${esc(n.expires_at)}`);
  if (n.approver) fields.push(`*By*\n${esc(n.approver)}${n.approvals_required && n.approvals_required > 1 ? ` (${n.approvals}/${n.approvals_required})` : ''}`);
  if (n.finding) fields.push(`*Finding*\n${esc([n.finding.severity, n.finding.rule, n.finding.summary].filter(Boolean).join(' · '))}`);
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: TITLES[n.event].replace(/:[a-z_]+: /, '') } },
    { type: 'section', fields: fields.slice(0, 10).map((text) => ({ type: 'mrkdwn', text })) },
  ];
  const buttons: Record<string, unknown>[] = [];
  if (n.event === 'grant.pending' && n.grant) {
    buttons.push(
      { type: 'button', style: 'primary', text: { type: 'plain_text', text: 'Approve' }, action_id: 'tether_approve', value: n.grant },
      { type: 'button', style: 'danger', text: { type: 'plain_text', text: 'Deny' }, action_id: 'tether_deny', value: n.grant },
    );
  }
  if (n.url) buttons.push({ type: 'button', text: { type: 'plain_text', text: 'Open in console' }, url: n.url, action_id: 'tether_open' });
  if (buttons.length) blocks.push({ type: 'actions', elements: buttons });
  return { text: `${TITLES[n.event]}${n.identity ? `: ${esc(n.identity)}` : ''}`, blocks };
}
