import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Redaction is compiled once; these paths cover every place a credential
 * could reach a log line by accident. Audit never rides on the logger (lines can be lost).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.dpop',
  'req.headers["x-tether-pdp-token"]',
  'req.headers["x-tether-operator-token"]',
  'req.headers["x-slack-signature"]',
  'headers.authorization',
  'headers.dpop',
  'subject_token',
  'access_token',
  'token',
  'assertion',
  'adminToken',
  'masterKey',
  'pdpToken',
  'webhookSecret',
  'config.adminToken',
  'config.masterKey',
  'config.pdpToken',
  'config.webhookSecret',
  'notifySecret',
  'slackSigningSecret',
  'config.notifySecret',
  'config.slackSigningSecret',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'tether' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? process.stdout,
  );
}
