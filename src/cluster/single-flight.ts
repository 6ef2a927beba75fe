/**
 * Single flight for cache reloads: concurrent callers share one load, and a call that arrives during
 * a load queues exactly one more (it may carry a change the running load started too early to see).
 */
export function singleFlight(load: () => Promise<void>): () => Promise<void> {
  let inflight: Promise<void> | null = null;
  let again = false;
  return () => {
    if (inflight) {
      again = true;
      return inflight;
    }
    inflight = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  };
}
