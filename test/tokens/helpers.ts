import assert from 'node:assert/strict';
import { TetherError } from '../../src/errors.js';
import type { ErrorCode } from '../../src/errors.js';

/** A frozen clock the test moves by hand: `now` in epoch seconds, `clock` the one Clock type (src/clock.ts). */
export function fakeClock(start = 1_700_000_000): { now: number; clock: () => Date; advance(s: number): void } {
  const c = {
    now: start,
    clock: () => new Date(c.now * 1000),
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
