import assert from 'node:assert/strict';
import { TetherError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';

/** A frozen clock the test moves by hand (epoch seconds). */
export function fakeClock(start = 1_700_000_000): { now: number; clock: () => number; advance(s: number): void } {
  const c = {
    now: start,
    clock: () => c.now,
    advance(s: number) {
      c.now += s;
    },
  };
  return c;
}

/** Asserts that `p` rejects with a TetherError of `code` whose message matches `message`. */
export async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TetherError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    assert.ok(e instanceof TetherError, `expected a TetherError, got ${String(e)}`);
    assert.equal(e.code, code, `code (message: ${e.message})`);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  });
  return caught as TetherError;
}
