import { readFileSync, statSync } from 'node:fs';
import type { ConnectorConfig } from './config.js';

export class AdminSecretError extends Error {}

/**
 * The connector's admin password, read where it lives (README "Legacy bridge"): an environment
 * variable of the server process, or a file only its owner can read. Undefined when neither is
 * configured (a target that trusts the connection, e.g. a local socket or trust auth).
 */
export function adminSecret(c: Pick<ConnectorConfig, 'name' | 'password_env' | 'password_file'>, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (c.password_env !== undefined) {
    const v = env[c.password_env];
    if (v === undefined || v === '') throw new AdminSecretError(`connector ${c.name}: environment variable ${c.password_env} is not set on the server`);
    return v;
  }
  if (c.password_file !== undefined) {
    let mode: number;
    try {
      mode = statSync(c.password_file).mode;
    } catch (e) {
      throw new AdminSecretError(`connector ${c.name}: password_file ${c.password_file}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
    // Same rule as ssh and libpq's .pgpass: a secret others can read is refused, not used.
    if ((mode & 0o077) !== 0) throw new AdminSecretError(`connector ${c.name}: password_file ${c.password_file} must be readable by its owner only (chmod 600)`);
    const v = readFileSync(c.password_file, 'utf8').replace(/\r?\n$/, '');
    if (v === '') throw new AdminSecretError(`connector ${c.name}: password_file ${c.password_file} is empty`);
    return v;
  }
  return undefined;
}
