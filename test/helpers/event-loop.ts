/**
 * The longest the event loop of this process (where a test broker runs) went without a turn while
 * the meter ran: a timer asks for one every 5 ms and the largest gap past that is the stall. A plain
 * timer, not perf_hooks' monitorEventLoopDelay, whose histogram can stay empty across one long block.
 */
export function stallMeter(): { stop(): number } {
  const every = 5;
  let last = performance.now();
  let worst = 0;
  const tick = () => {
    const now = performance.now();
    worst = Math.max(worst, now - last - every);
    last = now;
  };
  const timer = setInterval(tick, every);
  return {
    stop() {
      tick();
      clearInterval(timer);
      return worst;
    },
  };
}
