// Dawn's Node binding services a pending WebGPU promise (mapAsync, onSubmittedWorkDone,
// popErrorScope) by calling wgpuInstanceProcessEvents from setImmediate and rescheduling itself at
// once (dawn/node/binding/AsyncRunner.cpp): a busy loop on the JS thread for as long as the GPU
// works. On a CPU adapter that loop takes a core from the kernels (measured on SwiftShader, 2
// cores, a WRN-16-1 step at batch 32: 2.8-3.2 cpu-s of polling, 4.0-4.3 s of wall time; with the
// polling on a 1 ms timer 0.08-0.11 cpu-s, 2.3-2.7 s). The binding looks the global setImmediate
// up at every call, so while the runtime waits, withPolling routes those calls through a timer.
// Browsers have no setImmediate (and no such loop: the GPU process does the waiting).

let depth = 0;
let original: typeof globalThis.setImmediate | null = null;

/** What the global setImmediate is while a throttled wait is in progress. */
function throttled(intervalMs: number): typeof globalThis.setImmediate {
  const f = (callback: (...args: unknown[]) => void, ...args: unknown[]) => setTimeout(callback, intervalMs, ...args);
  return f as unknown as typeof globalThis.setImmediate;
}

/**
 * Await `wait()` with Dawn's event processing run every `intervalMs` instead of continuously
 * (0, or no setImmediate: unchanged). Nested and concurrent waits share one installation, which
 * the last of them to finish takes down, on every exit path.
 */
export async function withPolling<T>(intervalMs: number, wait: () => Promise<T>): Promise<T> {
  if (!(intervalMs > 0) || typeof globalThis.setImmediate !== 'function') return wait();
  if (depth++ === 0) {
    original = globalThis.setImmediate;
    globalThis.setImmediate = throttled(intervalMs);
  }
  try {
    return await wait();
  } finally {
    if (--depth === 0) {
      globalThis.setImmediate = original!;
      original = null;
    }
  }
}
