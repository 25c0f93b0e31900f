/**
 * Calls `fn` once a burst of `trigger()` calls has settled (`ms` without another). `cancel()`
 * drops a pending call and makes later triggers do nothing. The timer never keeps the process alive.
 */
export function debounce(fn: () => void, ms: number): { trigger(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let cancelled = false;
  return {
    trigger() {
      if (cancelled) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!cancelled) fn();
      }, ms);
      (timer as { unref?: () => void }).unref?.();
    },
    cancel() {
      cancelled = true;
      clearTimeout(timer);
    },
  };
}
