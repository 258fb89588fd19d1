// The one helper every op test goes through (after tinygrad's helper_test_op):
//  - compareKernel: the WGSL kernel against its CPU reference on the same random inputs, with
//    explicit tolerances, reporting the largest error;
//  - gradCheck: an op's backward against central finite differences, in float64 on the CPU backend;
//  - compareOnDevices: a whole function (forward and every gradient) on 'webgpu' against 'cpu'.
import { describe, expect } from 'vitest';
import { initWebGPU, GpuRuntime, Tensor, runKernel, withFloat64, noGrad, scope, sum, mul, fmtShape, type Kernel, type Shape } from '../../src/index.js';
import { numel } from '../../src/tensor.js';

// ---- GPU availability ------------------------------------------------------------------------

export const CPU_ONLY = process.env.WRN_TESTS_CPU_ONLY === '1';
let announced = false;

/** Open the WebGPU runtime; a missing adapter fails the test (unless WRN_TESTS_CPU_ONLY=1). */
export async function requireGpu(): Promise<GpuRuntime> {
  const rt = await initWebGPU();
  if (!announced) {
    console.log(`[wrn-webgpu tests] WebGPU adapter: ${rt.adapterName}`);
    announced = true;
  }
  return rt;
}

/** describe() for tests that need the GPU. Skipped only on explicit opt-out, and it says so. */
export const describeGpu: typeof describe = CPU_ONLY
  ? (((name: string, ...rest: unknown[]) => {
      console.warn(`[wrn-webgpu tests] WRN_TESTS_CPU_ONLY=1: SKIPPING GPU tests '${name}'`);
      return (describe.skip as (...a: unknown[]) => unknown)(name, ...rest);
    }) as unknown as typeof describe)
  : describe;

// ---- random inputs ---------------------------------------------------------------------------

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

/** Deterministic normal values (Box-Muller over rand). */
export function randn(shape: Shape, seed: number, mean = 0, std = 1): Float32Array {
  const n = numel(shape);
  const u = rand([2 * n], seed, 0, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(u[2 * i] + 1e-12)) * Math.cos(2 * Math.PI * u[2 * i + 1]);
  return out;
}

export interface Input {
  shape: Shape;
  data: ArrayLike<number>;
}

export const input = (shape: Shape, seed: number, lo = -1, hi = 1): Input => ({ shape, data: rand(shape, seed, lo, hi) });

// ---- GPU kernel against CPU reference --------------------------------------------------------

export interface Tolerance {
  /** |gpu - cpu| <= atol + rtol * |cpu| for every value */
  atol: number;
  rtol: number;
}

export interface KernelCase<P> {
  kernel: Kernel<P>;
  inputs: Input[];
  /** Output shapes, or inputs given as initial values of in-place outputs. */
  outputs: (Shape | Input)[];
  params: P;
  tol: Tolerance;
  /** Compare only these outputs (default all). */
  compare?: number[];
}

export interface KernelReport {
  maxAbsErr: number;
  maxRelErr: number;
}

/** Run `c.kernel` on both backends and compare every output. Throws (with the worst element) on mismatch. */
export async function compareKernel<P>(c: KernelCase<P>): Promise<KernelReport> {
  const run = (device: 'cpu' | 'webgpu') =>
    scope(() => {
      const ins = c.inputs.map((i) => Tensor.from(i.data, i.shape, device));
      const outs = c.outputs.map((o) => (isInput(o) ? Tensor.from(o.data, o.shape, device) : o));
      return runKernel(c.kernel, ins, outs, c.params);
    });
  const cpu = run('cpu');
  const gpu = run('webgpu');
  const report: KernelReport = { maxAbsErr: 0, maxRelErr: 0 };
  const which = c.compare ?? cpu.map((_, i) => i);
  for (const i of which) {
    const a = await cpu[i].toArray();
    const b = await gpu[i].toArray();
    const r = compareArrays(`${c.kernel.name} output ${i} ${fmtShape(cpu[i].shape)}`, b, a, c.tol);
    report.maxAbsErr = Math.max(report.maxAbsErr, r.maxAbsErr);
    report.maxRelErr = Math.max(report.maxRelErr, r.maxRelErr);
  }
  [...cpu, ...gpu].forEach((t) => t.release());
  return report;
}

function isInput(o: Shape | Input): o is Input {
  return !Array.isArray(o) && typeof o === 'object' && 'data' in o;
}

/** Compare `got` against `want` elementwise; throws naming the worst index. */
export function compareArrays(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): KernelReport {
  expect(got.length, `${what}: length`).toBe(want.length);
  let maxAbsErr = 0;
  let maxRelErr = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const bound = tol.atol + tol.rtol * Math.abs(want[i]);
    if (!(err <= bound) && (worst < 0 || err - bound > worstExcess || Number.isNaN(err))) {
      worst = i;
      worstExcess = err - bound;
    }
    maxAbsErr = Math.max(maxAbsErr, err);
    if (Math.abs(want[i]) > tol.atol) maxRelErr = Math.max(maxRelErr, err / Math.abs(want[i]));
  }
  if (worst >= 0) {
    throw new Error(`${what}: mismatch at index ${worst}: got ${got[worst]}, expected ${want[worst]} (atol ${tol.atol}, rtol ${tol.rtol}); max abs err ${maxAbsErr}`);
  }
  return { maxAbsErr, maxRelErr };
}

// ---- gradients against finite differences (float64, CPU) -------------------------------------

export interface GradCheckOptions {
  /** finite-difference step */
  eps?: number;
  /** |analytic - numeric| <= tol * max(1, |numeric|) */
  tol?: number;
  /** check at most this many elements per input (spread over the tensor) */
  maxPerInput?: number;
  /** inputs that get no gradient (integer labels, ...) */
  noGrad?: number[];
}

/**
 * Check every input's gradient of fn(inputs) (projected on fixed random weights when fn returns a
 * non-scalar) against central differences, all in float64 on the CPU backend.
 */
export function gradCheck(fn: (xs: Tensor[]) => Tensor, inputs: Input[], opts: GradCheckOptions = {}): { maxErr: number } {
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-5;
  const maxPer = opts.maxPerInput ?? 48;
  return withFloat64(() => {
    const xs = inputs.map((i, k) => {
      const t = Tensor.from(i.data, i.shape, 'cpu').keep();
      if (!opts.noGrad?.includes(k)) t.requiresGrad = true;
      return t;
    });
    let proj: Tensor | null = null;
    const loss = (): Tensor => {
      const y = fn(xs);
      if (y.size === 1) return y.shape.length ? sum(y) : y;
      if (!proj) proj = Tensor.from(rand(y.shape, 777, -1, 1), y.shape, 'cpu').keep();
      return sum(mul(y, proj));
    };
    scope(() => loss().backward());
    let maxErr = 0;
    xs.forEach((x, k) => {
      if (opts.noGrad?.includes(k)) return;
      if (!x.grad) throw new Error(`gradCheck: input ${k} ${fmtShape(x.shape)} got no gradient`);
      const g = x.grad.cpuData();
      const data = x.cpuData();
      const step = Math.max(1, Math.floor(x.size / maxPer));
      for (let i = 0; i < x.size; i += step) {
        const orig = data[i];
        const h = eps * Math.max(1, Math.abs(orig));
        data[i] = orig + h;
        const lp = noGrad(() => scope(() => loss().cpuData()[0]));
        data[i] = orig - h;
        const lm = noGrad(() => scope(() => loss().cpuData()[0]));
        data[i] = orig;
        const num = (lp - lm) / (2 * h);
        const err = Math.abs(g[i] - num) / Math.max(1, Math.abs(num));
        maxErr = Math.max(maxErr, err);
        if (!(err <= tol)) {
          throw new Error(`gradCheck: input ${k} ${fmtShape(x.shape)} element ${i}: analytic ${g[i]} vs numeric ${num} (rel err ${err} > ${tol})`);
        }
      }
    });
    xs.forEach((x) => {
      x.grad?.release();
      x.release();
    });
    (proj as Tensor | null)?.release();
    return { maxErr };
  });
}

// ---- a whole function on both devices -------------------------------------------------------

/**
 * Run fn on 'cpu' and 'webgpu' with the same inputs (all requiring gradients except `noGrad`),
 * backward from sum(out * fixed random weights), and compare the outputs and every gradient.
 */
export async function compareOnDevices(fn: (xs: Tensor[]) => Tensor, inputs: Input[], tol: Tolerance, gradTol: Tolerance = tol, noGradIdx: number[] = []): Promise<void> {
  const results: { out: Float32Array; grads: (Float32Array | null)[] }[] = [];
  for (const device of ['cpu', 'webgpu'] as const) {
    const xs = inputs.map((i, k) => {
      const t = Tensor.from(i.data, i.shape, device).keep();
      if (!noGradIdx.includes(k)) t.requiresGrad = true;
      return t;
    });
    const y = scope(() => {
      const out = fn(xs);
      const w = Tensor.from(rand(out.shape, 4242), out.shape, device);
      sum(mul(out, w)).backward();
      return out;
    });
    results.push({ out: await y.toArray(), grads: await Promise.all(xs.map((x) => x.grad?.toArray() ?? null)) });
    y.release();
    xs.forEach((x) => {
      x.grad?.release();
      x.release();
    });
  }
  const [cpu, gpu] = results;
  compareArrays('forward output', gpu.out, cpu.out, tol);
  cpu.grads.forEach((g, k) => {
    if (!g) return;
    compareArrays(`gradient of input ${k} ${fmtShape(inputs[k].shape)}`, gpu.grads[k]!, g, gradTol);
  });
}
