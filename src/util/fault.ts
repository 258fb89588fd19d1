// Fault injection for the crash tests (test/faults.test.ts): WRN_FAULT=POINT[@N] makes the
// process kill itself with SIGKILL the Nth time (default: the first) it reaches POINT, exactly as
// a power cut or `kill -9` would; WRN_FAULT=enospc:FILE makes the write of FILE fail as a full
// disk does. Points: `step` (after a step is logged), `mid-write:FILE` (half of FILE's bytes
// written), `before-rename:FILE` (FILE's temporary complete, not yet renamed). Unset: no effect.
const spec = typeof process !== 'undefined' ? process.env?.WRN_FAULT ?? '' : '';
const [point, nth] = spec.split('@');
let hits = 0;

export function faultPoint(name: string): void {
  if (!spec || name !== point) return;
  if (++hits === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

/** Throws a full-disk error for a write of `file` when WRN_FAULT=enospc:FILE. */
export function faultEnospc(file: string): void {
  if (spec === `enospc:${file}`) {
    const e = new Error(`ENOSPC: no space left on device, write`) as NodeJS.ErrnoException;
    e.code = 'ENOSPC';
    throw e;
  }
}
