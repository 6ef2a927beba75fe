import { TetherError } from '../errors.js';

/**
 * The one place a driver error becomes a TetherError, so no driver message, stack or SQLSTATE ever
 * reaches a client as a 500. Input that slipped past validation at the edge (a data exception,
 * SQLSTATE class 22) is the caller's fault: 400. A duplicate key is a conflict: 409. Everything else
 * (a lost connection, a terminated backend, a server restarting or out of resources) means the store
 * cannot serve this request now: 503, and the caller may retry.
 */
export function fromDriverError(err: unknown): TetherError {
  if (err instanceof TetherError) return err;
  const code = typeof (err as { code?: unknown })?.code === 'string' ? ((err as { code: string }).code) : '';
  let te: TetherError;
  if (/^22[0-9A-Z]{3}$/.test(code)) te = new TetherError('invalid_request', 'a value in the request cannot be stored (invalid characters or out of range)');
  else if (code === '23505') te = new TetherError('conflict', 'the record already exists');
  else te = new TetherError('unavailable', 'the store is unavailable; try again');
  // Kept for the server log only (the renderer never sends `cause`).
  (te as { cause?: unknown }).cause = err;
  return te;
}

/** Runs a driver call, converting its failure. */
export async function driverCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw fromDriverError(e);
  }
}
