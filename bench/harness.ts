// Timing and the adapter's own limits. Every figure the suite reports is a ratio measured in the
// same run: a memory-bound kernel's GB/s against the vec4 copy's, a convolution's GFLOP/s against
// the tiled SGEMM's. Absolute times on a CPU adapter are noisy; ratios travel.
import copyWgsl from './shaders/copy.wgsl';
import sgemmWgsl from './shaders/sgemm.wgsl';
import { grid1d, type GpuRuntime, type GpuBuf } from '../src/gpu/runtime.js';
import type { KernelSpec } from '../src/gpu/kernel.js';

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
  /** Wall-clock only: dispatch the work this many times per submit and divide. */
  inner?: number;
  /** Force wall-clock timing even when timestamps are available. */
  wall?: boolean;
}

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

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
  if (rt.hasTimestamps && !opts.wall) {
    for (let r = 0; r < reps; r++) {
      rt.startProfile(4096);
      record();
      const entries = await rt.stopProfile();
      samples.push(entries.reduce((s, e) => s + e.ns, 0) / 1e6);
    }
    return summarize('timestamp-query', samples);
  }
  const inner = opts.inner ?? 5;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) record();
    await rt.sync();
    samples.push((performance.now() - t0) / inner);
  }
  return summarize('wall-clock', samples);
}

const COPY: KernelSpec = { name: 'bench.copy', source: copyWgsl, bindings: { src: 'read', dst: 'read_write', params: 'uniform' } };
const SGEMM: KernelSpec = { name: 'bench.sgemm', source: sgemmWgsl, bindings: { a: 'read', b: 'read', c: 'read_write', params: 'uniform' } };

export interface AdapterLimits {
  copyGBs: number;
  copyTiming: Timing;
  copyBytes: number;
  sgemmGflops: number;
  sgemmTiming: Timing;
  sgemmN: number;
}

/** The adapter's practical bandwidth (vec4 copy) and compute (tiled SGEMM), measured now. */
export async function measureLimits(rt: GpuRuntime, opts: { copyMiB: number; sgemmN: number } & TimeOptions): Promise<AdapterLimits> {
  const n = (opts.copyMiB * 1024 * 1024) / 4;
  const src = rt.alloc(4 * n);
  const dst = rt.alloc(4 * n);
  const n4 = n / 4;
  const copyTiming = await timeIt(rt, () => rt.dispatch(COPY, { src, dst }, { n4 }, grid1d(n4, 256), { label: `${opts.copyMiB} MiB` }), opts);
  rt.release(src);
  rt.release(dst);
  const N = opts.sgemmN;
  if (N % 64 !== 0) throw new Error(`bench: SGEMM size must be a multiple of 64, got ${N}`);
  const bufs: GpuBuf[] = [0, 1, 2].map(() => rt.alloc(4 * N * N));
  const [a, b, c] = bufs;
  const sgemmTiming = await timeIt(rt, () => rt.dispatch(SGEMM, { a, b, c }, { n: N }, [N / 64, N / 64], { label: `${N}^3` }), opts);
  bufs.forEach((x) => rt.release(x));
  return {
    copyGBs: (2 * 4 * n) / (copyTiming.medianMs * 1e6),
    copyTiming,
    copyBytes: 2 * 4 * n,
    sgemmGflops: (2 * N * N * N) / (sgemmTiming.medianMs * 1e6),
    sgemmTiming,
    sgemmN: N,
  };
}

/** The GEMM-equivalent throughput of the SGEMM kernel at an arbitrary [m, k] @ [k, n] (padded to 64). */
export async function measureSgemmAt(rt: GpuRuntime, size: number, opts: TimeOptions): Promise<number> {
  const N = Math.max(64, Math.round(size / 64) * 64);
  const bufs = [0, 1, 2].map(() => rt.alloc(4 * N * N));
  const [a, b, c] = bufs;
  const t = await timeIt(rt, () => rt.dispatch(SGEMM, { a, b, c }, { n: N }, [N / 64, N / 64]), opts);
  bufs.forEach((x) => rt.release(x));
  return (2 * N * N * N) / (t.medianMs * 1e6);
}
