// Kernel checks shared by `wrn check`, the browser page and the tests: run a kernel on 'cpu' (the
// reference) and 'webgpu' with the same inputs and compare every output against a tolerance.
import { runKernel, scope, Tensor, fmtShape, numel, type Kernel, type Shape } from './tensor.js';

export interface Tolerance {
  /** |gpu - cpu| <= atol + rtol * |cpu| for every value */
  atol: number;
  rtol: number;
}

export interface Input {
  shape: Shape;
  data: ArrayLike<number>;
}

export interface KernelCase<P> {
  kernel: Kernel<P>;
  inputs: Input[];
  /** Output shapes, or Inputs giving the initial values of in-place outputs. */
  outputs: (Shape | Input)[];
  params: P;
  tol: Tolerance;
  /** Compare only these outputs (default all). */
  compare?: number[];
}

export interface CompareResult {
  ok: boolean;
  maxAbsErr: number;
  maxRelErr: number;
  /** What went wrong at the worst element, if anything did. */
  message: string;
}

/** Compare `got` against `want` elementwise (NaN never passes). */
export function compareArrays(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): CompareResult {
  if (got.length !== want.length) return { ok: false, maxAbsErr: Infinity, maxRelErr: Infinity, message: `${what}: ${got.length} values, expected ${want.length}` };
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const bound = tol.atol + tol.rtol * Math.abs(want[i]);
    const excess = Number.isNaN(err) ? Infinity : err - bound;
    if (excess > 0 && excess > worstExcess) {
      worst = i;
      worstExcess = excess;
    }
    if (!Number.isNaN(err)) {
      maxAbsErr = Math.max(maxAbsErr, err);
      if (Math.abs(want[i]) > tol.atol) maxRelErr = Math.max(maxRelErr, err / Math.abs(want[i]));
    } else maxAbsErr = NaN;
  }
  if (worst < 0) return { ok: true, maxAbsErr, maxRelErr, message: '' };
  return {
    ok: false,
    maxAbsErr,
    maxRelErr,
    message: `${what}: mismatch at index ${worst}: got ${got[worst]}, expected ${want[worst]} (atol ${tol.atol}, rtol ${tol.rtol}); max abs err ${maxAbsErr}`,
  };
}

function isInput(o: Shape | Input): o is Input {
  return !Array.isArray(o) && typeof o === 'object' && 'data' in o;
}

/** Run `c.kernel` on both backends and compare the outputs. */
export async function compareKernel<P>(c: KernelCase<P>): Promise<CompareResult> {
  const run = (device: 'cpu' | 'webgpu') =>
    scope(() => {
      const ins = c.inputs.map((i) => Tensor.from(i.data, i.shape, device));
      const outs = c.outputs.map((o) => (isInput(o) ? Tensor.from(o.data, o.shape, device) : o));
      return runKernel(c.kernel, ins, outs, c.params);
    });
  const cpu = run('cpu');
  const gpu = run('webgpu');
  const total: CompareResult = { ok: true, maxAbsErr: 0, maxRelErr: 0, message: '' };
  try {
    for (const i of c.compare ?? cpu.map((_, j) => j)) {
      const r = compareArrays(`${c.kernel.name} output ${i} ${fmtShape(cpu[i].shape)}`, await gpu[i].toArray(), await cpu[i].toArray(), c.tol);
      total.maxAbsErr = Math.max(total.maxAbsErr, r.maxAbsErr);
      total.maxRelErr = Math.max(total.maxRelErr, r.maxRelErr);
      if (!r.ok && total.ok) Object.assign(total, { ok: false, message: r.message });
    }
  } finally {
    [...cpu, ...gpu].forEach((t) => t.release());
  }
  return total;
}

/** Deterministic uniform values in [lo, hi) (mulberry32). */
export function rand(shape: Shape, seed: number, lo = -1, hi = 1): Float32Array {
  const n = numel(shape);
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export const input = (shape: Shape, seed: number, lo = -1, hi = 1): Input => ({ shape, data: rand(shape, seed, lo, hi) });

/** A named kernel check for `wrn check` and the browser page. */
export interface CheckCase {
  name: string;
  make: () => KernelCase<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const registry: CheckCase[] = [];

/** Register kernel checks (each op family registers its own, beside its kernels). */
export function registerChecks(...cases: CheckCase[]): void {
  registry.push(...cases);
}

export function checkCases(): readonly CheckCase[] {
  return registry;
}

export interface CheckLine {
  name: string;
  ok: boolean;
  maxAbsErr: number;
  maxRelErr: number;
  ms: number;
  message: string;
}

/**
 * The checks whose name contains `filter` (all for ''). A filter that matches none is an error
 * listing a few names (near misses first): '0 passed, 0 failed' would read as a pass.
 */
export function selectChecks(filter: string): readonly CheckCase[] {
  const chosen = registry.filter((c) => c.name.includes(filter));
  if (chosen.length || !registry.length) return chosen;
  const f = filter.toLowerCase();
  const names = registry.map((c) => c.name);
  const near = names.filter((n) => n.toLowerCase().includes(f));
  const some = [...new Set([...near, ...names])].slice(0, 6);
  throw new Error(`no kernel check matches '${filter}' (${names.length} checks; e.g. ${some.join(', ')}, ...)`);
}

/** Run every registered check (or those whose name contains `filter`; none is an error, see selectChecks). */
export async function runChecks(filter = '', onLine?: (l: CheckLine) => void): Promise<CheckLine[]> {
  const lines: CheckLine[] = [];
  for (const c of selectChecks(filter)) {
    const t0 = performance.now();
    let line: CheckLine;
    try {
      const r = await compareKernel(c.make());
      line = { name: c.name, ...r, ms: performance.now() - t0 };
    } catch (e) {
      line = { name: c.name, ok: false, maxAbsErr: NaN, maxRelErr: NaN, ms: performance.now() - t0, message: (e as Error).message };
    }
    lines.push(line);
    onLine?.(line);
  }
  return lines;
}
