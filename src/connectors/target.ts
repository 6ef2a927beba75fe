import type { ConnectorConfig, RoleConfig } from './config.js';

/** An account found on a target (discovery). */
export interface TargetAccount {
  /** The account as the target names it (`user@host` for MariaDB). */
  name: string;
  /** Target facts worth showing (valid until, superuser, host, …). */
  facts: Record<string, string | boolean | null>;
}

/** What a revocation did on the target (audited). */
export interface EndReport {
  /** False when the account was already gone (another instance finished it, or it never got made). */
  existed: boolean;
  /** Sessions terminated. */
  sessions: number;
}

/**
 * One legacy target, reached through its admin connection. Implementations never put a made
 * account's password into an error message, a log line or anything they return.
 */
export interface Target {
  /**
   * Validates a role template on the real server: makes a throwaway account with it and removes it
   * again (in a rolled-back transaction where the server allows). Throws with the server's message.
   */
  probe(role: RoleConfig): Promise<void>;
  /** Makes the account. `expiresAt` is also given to the server where it can enforce it itself. */
  create(username: string, password: string, role: RoleConfig, expiresAt: Date): Promise<void>;
  /** Disables the account, terminates its sessions, drops it. Idempotent. */
  end(username: string): Promise<EndReport>;
  /** Login-capable accounts on the target. */
  accounts(): Promise<TargetAccount[]>;
  /** The admin account the connector logs in as (reported as such by discovery). */
  readonly adminUser: string;
  close(): Promise<void>;
}

export type TargetFactory = (c: ConnectorConfig, secret: string | undefined) => Target;

/** Removes a secret from a message before it leaves a driver (servers sometimes echo statements). */
export function scrub(message: string, ...secrets: Array<string | undefined>): string {
  let m = message;
  for (const s of secrets) if (s) m = m.split(s).join('***');
  return m;
}

/** A driver's failure: the server's message, scrubbed; `unreachable` when the target could not be reached. */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly unreachable: boolean,
  ) {
    super(message);
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST']);

/** Wraps any driver error as a TargetError, with secrets scrubbed. */
export function targetError(e: unknown, ...secrets: Array<string | undefined>): TargetError {
  if (e instanceof TargetError) return e;
  const err = e as { message?: string; code?: string; errors?: Array<{ code?: string }> };
  const code = err?.code ?? err?.errors?.[0]?.code;
  const msg = scrub(String(err?.message || code || e), ...secrets);
  const unreachable = (code !== undefined && UNREACHABLE.has(code)) || /connect|timeout|closed|Socket closed|ECONNREFUSED/i.test(msg);
  return new TargetError(msg, unreachable);
}
