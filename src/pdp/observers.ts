/**
 * Subscribers to committed decisions (detection, posture). Called after the audit commit and off the
 * response path: a slow or throwing subscriber can neither delay nor fail a decision.
 */
import type { Logger } from 'pino';
import type { IdentityEntity } from '../inventory/identity-cache.js';
import type { DecideInput, DecideOutput } from './decision-types.js';
import type { OwnContext } from './own-context.js';

export interface DecisionEvent {
  readonly at: Date;
  readonly input: DecideInput;
  readonly output: DecideOutput;
  readonly own: OwnContext;
  /** The inventory identity the principal is, when it is one. */
  readonly identity: IdentityEntity | null;
}

export type DecisionObserver = (e: DecisionEvent) => void | Promise<void>;

export interface Observers {
  add(cb: DecisionObserver): () => void;
  emit(e: DecisionEvent): void;
}

export function createObservers(logger: Pick<Logger, 'error'>): Observers {
  const list: DecisionObserver[] = [];
  const fail = (err: unknown) => logger.error({ err: { message: (err as Error)?.message ?? String(err) } }, 'decision observer failed');
  return {
    add(cb) {
      list.push(cb);
      return () => {
        const i = list.indexOf(cb);
        if (i >= 0) list.splice(i, 1);
      };
    },
    emit(e) {
      if (list.length === 0) return;
      setImmediate(() => {
        for (const cb of list) {
          try {
            const r = cb(e);
            if (r && typeof (r as Promise<void>).catch === 'function') (r as Promise<void>).catch(fail);
          } catch (err) {
            fail(err);
          }
        }
      });
    },
  };
}
