// Fault injection for the crash tests (test/faults.test.ts): WRN_FAULT=POINT[@N] makes the
// process kill itself with SIGKILL the Nth time (default: the first) it reaches POINT, exactly as
// a power cut or `kill -9` would; WRN_FAULT=enospc:FILE[@N] makes the Nth write (default: the
// first) of FILE fail as a full disk does (an append after half its bytes: a torn line). Points:
// `step` (after a step is logged), `mid-write:FILE` (half of FILE's bytes written),
// `before-rename:FILE` (FILE's temporary complete, not yet renamed). WRN_FAULT=slow:POINT:MS
// blocks the process MS milliseconds each time it reaches POINT (signals sent meanwhile are handled
// after it, together: the two-signal test). Unset: no effect.
const spec = typeof process !== 'undefined' ? process.env?.WRN_FAULT ?? '' : '';
const [point, nth] = spec.split('@');
const slow = /^slow:([^:]+):(\d+)$/.exec(spec);
let hits = 0;

export function faultPoint(name: string): void {
  if (slow) {
    if (name === slow[1]) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(slow[2]));
    return;
  }
  if (!spec || name !== point) return;
  if (++hits === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/** Throws a full-disk error at the Nth write of `file` when WRN_FAULT=enospc:FILE[@N]. */
export function faultEnospc(file: string): void {
  if (!spec || point !== `enospc:${file}`) return;
  if (++hits !== Number(nth ?? 1)) return;
  const e = new Error(`ENOSPC: no space left on device, write`) as NodeJS.ErrnoException;
  e.code = 'ENOSPC';
  e.syscall = 'write';
  throw e;
}
