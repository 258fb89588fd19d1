// Timing and the adapter's own limits. Every figure the suite reports is a ratio measured in the
// same run: a memory-bound kernel's GB/s against the vec4 copy's, a convolution's GFLOP/s against
// the tiled SGEMM's. Absolute times on a CPU adapter are noisy; ratios travel.
import copyWgsl from './shaders/copy.wgsl';
import sgemmWgsl from './shaders/sgemm.wgsl';
import fmaWgsl from './shaders/fma.wgsl';
import type { GpuRuntime, GpuBuf } from '../gpu/runtime.js';
import type { KernelSpec } from '../gpu/kernel.js';
import { cost, f32 } from '../gpu/cost.js';

// Timestamp pairs per profile: WebGPU caps a query set at 4096 queries (2048 dispatches).
export const PROFILE_CAPACITY = 2048;

export type TimingMethod = 'timestamp-query' | 'wall-clock';

export interface Timing {
  method: TimingMethod;
  reps: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** (p90 - p10) / median: the spread over repetitions */
  spread: number;
}

export interface TimeOptions {
  warmup?: number;
  reps?: number;
  /** Wall-clock only: dispatch the work this many times per submit and divide (default: enough for ~WALL_SAMPLE_MS). */
  inner?: number;
  /** Force wall-clock timing even when timestamps are available. */
  wall?: boolean;
  /**
   * Keep repeating past `reps` until the samples add up to this many ms (at most MAX_REP_FACTOR x
   * reps): short kernels get more samples for the same time budget.
   */
  minTotalMs?: number;
}

const MAX_REP_FACTOR = 10;
const WALL_SAMPLE_MS = 20;

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

/** 'N min M s' or 'N s', for progress lines and ETAs. */
export const fmtDuration = (ms: number): string => (ms >= 60_000 ? `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s` : `${Math.round(ms / 1000)} s`);

export function summarize(method: TimingMethod, samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const median = quantile(s, 0.5);
  return { method, reps: s.length, medianMs: median, minMs: s[0], maxMs: s[s.length - 1], spread: median > 0 ? (quantile(s, 0.9) - quantile(s, 0.1)) / median : 0 };
}

/**
 * Time `record` (which records one or more dispatches). With timestamp queries each repetition's
 * time is the sum of its passes' GPU time; otherwise the wall time of `inner` repetitions in one
 * submit, divided by `inner`. Nothing is awaited inside a repetition.
 */
export async function timeIt(rt: GpuRuntime, record: () => void, opts: TimeOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 2;
  const reps = opts.reps ?? 10;
  for (let i = 0; i < warmup; i++) record();
  await rt.sync();
  const samples: number[] = [];
  const minTotal = opts.minTotalMs ?? 0;
  const more = () => samples.length < reps || (samples.length < MAX_REP_FACTOR * reps && samples.reduce((a, b) => a + b, 0) < minTotal);
  if (rt.hasTimestamps && !opts.wall) {
    while (more()) {
      rt.startProfile(PROFILE_CAPACITY);
      record();
      const entries = await rt.stopProfile();
      samples.push(entries.reduce((s, e) => s + e.ns, 0) / 1e6);
    }
    return summarize('timestamp-query', samples);
  }
  // Enough dispatches per submit that the submit-and-wait round trip is a small part of a sample.
  let inner = opts.inner ?? 0;
  if (!inner) {
    const t0 = performance.now();
    record();
    await rt.sync();
    inner = Math.max(1, Math.min(50, Math.ceil(WALL_SAMPLE_MS / Math.max(1e-3, performance.now() - t0))));
  }
  while (more()) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) record();
    await rt.sync();
    samples.push((performance.now() - t0) / inner);
  }
  return summarize('wall-clock', samples);
}

const COPY: KernelSpec = { name: 'bench.copy', category: 'other', source: copyWgsl, bindings: { src: 'read', dst: 'read_write', params: 'uniform' } };
const SGEMM: KernelSpec = { name: 'bench.sgemm', category: 'other', source: sgemmWgsl, bindings: { a: 'read', b: 'read', c: 'read_write', params: 'uniform' } };

const FMA: KernelSpec = { name: 'bench.fma', category: 'other', source: fmaWgsl, bindings: { out: 'read_write', params: 'uniform' } };
const FMA_WG = 64;
const FMA_MIN_MS = 10;
/** FLOPs per invocation and iteration of the FMA kernel: 8 vec4 FMAs of 2 operations per lane. */
export const FMA_FLOPS_PER_ITERATION = 8 * 4 * 2;

/** Record the FMA-throughput kernel: `workgroups` of 64 invocations, `iterations` rounds each. */
export function recordFma(rt: GpuRuntime, out: GpuBuf, workgroups: number, iterations: number): void {
  const invocations = workgroups * FMA_WG;
  if (out.bytes < 4 * invocations) throw new Error(`bench: the FMA kernel writes ${invocations} values; the buffer holds ${out.bytes / 4}`);
  if (workgroups > 65535) throw new Error(`bench: the FMA kernel runs at most 65535 workgroups, asked for ${workgroups}`);
  rt.dispatch(FMA, { out }, { iterations, scale: 0.999, offset: 0.001 }, [workgroups], {
    label: `${workgroups}x${FMA_WG} invocations x ${iterations}`,
    cost: cost(0, f32(invocations), invocations * iterations * FMA_FLOPS_PER_ITERATION),
  });
}

/** A yardstick kept for repeated measurement (the step benchmark measures it every round): its buffers are made once. */
export interface Yardstick {
  /** GB/s (copy) or GFLOP/s (FMA) at the median time */
  measure(opts: TimeOptions): Promise<{ value: number; timing: Timing }>;
  release(): void;
}

/** The FMA yardstick with the work one repetition does (so its GFLOP/s can be checked against its definition). */
export interface FmaYardstick extends Yardstick {
  /** invocations x iterations x FMA_FLOPS_PER_ITERATION */
  flops: number;
  invocations: number;
  iterations: number;
}

/**
 * The adapter's practical compute peak: the FMA kernel sized from `gflop` GFLOP, grown once (a
 * fast adapter finishes that in microseconds, where the launch dominates) until a repetition takes
 * FMA_MIN_MS by the wall clock; each measure() then times that work.
 */
export async function fmaYardstick(rt: GpuRuntime, gflop: number): Promise<FmaYardstick> {
  // Up to 256 iterations first, then more workgroups (one grid row of at most 65535), then more iterations.
  const perInvocation = (gflop * 1e9) / FMA_WG / FMA_FLOPS_PER_ITERATION;
  const workgroups = Math.max(1, Math.min(65535, Math.round(perInvocation / 256)));
  let iterations = Math.max(16, Math.round(perInvocation / workgroups));
  const out = rt.alloc(4 * workgroups * FMA_WG);
  for (let grow = 0; grow < 6; grow++) {
    const t0 = performance.now();
    recordFma(rt, out, workgroups, iterations);
    await rt.sync();
    const ms = performance.now() - t0;
    if (ms >= FMA_MIN_MS || iterations >= 1 << 20) break;
    iterations = Math.min(1 << 20, Math.ceil(iterations * Math.min(16, (1.2 * FMA_MIN_MS) / Math.max(ms, 0.01))));
  }
  const flops = workgroups * FMA_WG * iterations * FMA_FLOPS_PER_ITERATION;
  return {
    flops,
    invocations: workgroups * FMA_WG,
    iterations,
    measure: async (opts) => {
      const timing = await timeIt(rt, () => recordFma(rt, out, workgroups, iterations), opts);
      return { value: flops / (timing.medianMs * 1e6), timing };
    },
    release: () => rt.release(out),
  };
}

/** The vec4 copy of `values` f32 values (rounded up to whole vec4s) as a Yardstick: GB/s read + written. */
export function copyYardstick(rt: GpuRuntime, values: number): Yardstick {
  const n4 = Math.max(1, Math.ceil(values / 4));
  const src = rt.upload(randomData(4 * n4));
  const dst = rt.alloc(16 * n4);
  return {
    measure: async (opts) => {
      const timing = await timeIt(rt, () => recordCopy(rt, src, dst, n4), opts);
      return { value: (2 * 16 * n4) / (timing.medianMs * 1e6), timing };
    },
    release: () => {
      rt.release(src);
      rt.release(dst);
    },
  };
}

/** A GEMM C [m, n] = A [m, k] @ B [k, n]. */
export interface GemmShape {
  m: number;
  n: number;
  k: number;
}

export interface AdapterLimits {
  /** The vec4 copy's GB/s (bytes read + bytes written): the bandwidth yardstick. */
  copyGBs: number;
  copyTiming: Timing;
  copyBytes: number;
  /** The tiled SGEMM's GFLOP/s at sgemmShape: the compute yardstick when no per-conv GEMM is measured. */
  sgemmGflops: number;
  sgemmTiming: Timing;
  sgemmShape: GemmShape;
  /**
   * The FMA kernel's GFLOP/s = fmaFlops / its median time: the adapter's compute limit (the SGEMM
   * is a program, this is a peak). Optional: files written before it was measured lack the fma fields.
   */
  fmaGflops?: number;
  fmaTiming?: Timing;
  /** FLOPs of one repetition: invocations x iterations x 8 vec4 FMAs x 4 lanes x 2. */
  fmaFlops?: number;
  fmaShape?: { invocations: number; iterations: number };
}

/** FMA work the limits start from when none is given (grown until a repetition takes 10 ms). */
export const FMA_GFLOP = 0.5;

/**
 * The adapter's practical bandwidth (vec4 copy of copyMiB), compute program (tiled SGEMM n^3) and
 * compute peak (the FMA kernel, from fmaGflop GFLOP), measured now.
 */
export async function measureLimits(rt: GpuRuntime, opts: { copyMiB: number; sgemmN: number; fmaGflop?: number } & TimeOptions): Promise<AdapterLimits> {
  const copy = await measureCopy(rt, Math.round((opts.copyMiB * 1024 * 1024) / 4), opts);
  const shape = { m: opts.sgemmN, n: opts.sgemmN, k: opts.sgemmN };
  const sgemm = await measureSgemm(rt, shape, opts);
  const fma = await measureFma(rt, opts.fmaGflop ?? FMA_GFLOP, opts);
  return {
    copyGBs: copy.gbs,
    copyTiming: copy.timing,
    copyBytes: copy.bytes,
    sgemmGflops: sgemm.gflops,
    sgemmTiming: sgemm.timing,
    sgemmShape: sgemm.shape,
    fmaGflops: fma.gflops,
    fmaTiming: fma.timing,
    fmaFlops: fma.flops,
    fmaShape: { invocations: fma.invocations, iterations: fma.iterations },
  };
}

/** The FMA kernel's GFLOP/s (2 x FMAs over the median time) from `gflop` GFLOP (see fmaYardstick), measured once. */
export async function measureFma(rt: GpuRuntime, gflop: number, opts: TimeOptions): Promise<{ gflops: number; timing: Timing; flops: number; invocations: number; iterations: number }> {
  if (!(gflop > 0)) throw new Error(`bench: the FMA yardstick needs a positive GFLOP count, got ${gflop}`);
  const fma = await fmaYardstick(rt, gflop);
  try {
    const { value, timing } = await fma.measure(opts);
    return { gflops: value, timing, flops: fma.flops, invocations: fma.invocations, iterations: fma.iterations };
  } finally {
    fma.release();
  }
}

/** The vec4 copy's GB/s (bytes read + written) for `values` f32 values (rounded up to whole vec4s), measured once. */
export async function measureCopy(rt: GpuRuntime, values: number, opts: TimeOptions): Promise<{ gbs: number; timing: Timing; bytes: number }> {
  const copy = copyYardstick(rt, values);
  try {
    const { value, timing } = await copy.measure(opts);
    return { gbs: value, timing, bytes: 2 * 16 * Math.max(1, Math.ceil(values / 4)) };
  } finally {
    copy.release();
  }
}

/** Values in [-0.5, 0.5): inputs with no NaNs or denormals that could slow a CPU adapter. */
function randomData(n: number): Float32Array {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** Record the copy of n4 vec4s from src to dst. */
export function recordCopy(rt: GpuRuntime, src: GpuBuf, dst: GpuBuf, n4: number): void {
  rt.dispatchItems(COPY, { src, dst }, { n4 }, n4, { label: `${4 * n4} values`, cost: cost(f32(4 * n4), f32(4 * n4)) });
}

/** Record C [m, n] = A [m, k] @ B [k, n] (row-major; shape as paddedGemm returns it). */
export function recordSgemm(rt: GpuRuntime, a: GpuBuf, b: GpuBuf, c: GpuBuf, { m, n, k }: GemmShape): void {
  if (m % 64 || n % 64 || k % 16) throw new Error(`bench: SGEMM shape ${m}x${n}x${k} must have m, n multiples of 64 and k of 16 (see paddedGemm)`);
  rt.dispatch(SGEMM, { a, b, c }, { n, k }, [n / 64, m / 64], { label: `${m}x${n}x${k}`, cost: cost(f32(m * k + k * n), f32(m * n), 2 * m * n * k) }); // m sizes the grid only: the WGSL reads n and k
}

/** `shape` rounded up to what the SGEMM kernel takes: m, n multiples of 64, k a multiple of 16. */
export function paddedGemm(shape: GemmShape): GemmShape {
  const up = (v: number, q: number) => Math.max(q, Math.ceil(v / q) * q);
  return { m: up(shape.m, 64), n: up(shape.n, 64), k: up(shape.k, 16) };
}

/**
 * The tiled SGEMM's GFLOP/s at `shape` (padded, see paddedGemm; the FLOPs counted are the padded
 * GEMM's 2*m*n*k, so padding does not flatter it).
 */
export async function measureSgemm(rt: GpuRuntime, shape: GemmShape, opts: TimeOptions): Promise<{ gflops: number; timing: Timing; shape: GemmShape }> {
  const { m, n, k } = paddedGemm(shape);
  const maxWg = rt.limits.maxComputeWorkgroupsPerDimension;
  if (n / 64 > maxWg || m / 64 > maxWg) throw new Error(`bench: SGEMM ${m}x${n}x${k} needs more than ${maxWg} workgroups per dimension`);
  const a = rt.upload(randomData(m * k));
  const b = rt.upload(randomData(k * n));
  const c = rt.alloc(4 * m * n);
  const timing = await timeIt(rt, () => recordSgemm(rt, a, b, c, { m, n, k }), opts);
  for (const x of [a, b, c]) rt.release(x);
  return { gflops: (2 * m * n * k) / (timing.medianMs * 1e6), timing, shape: { m, n, k } };
}
