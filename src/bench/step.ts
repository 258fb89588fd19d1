// `wrn bench step`: whole WRN training steps (forward, softmax cross-entropy, backward, SGD), each
// dispatch timed with GPU timestamps and summed by kernel category, for the variants side by side:
// what share of a step is BN, and what SkipInit (or no normalization) saves. Browser-safe.
import { rand } from '../check.js';
import { gpu, Tensor } from '../tensor.js';
import { type GpuRuntime, type ProfileEntry } from '../gpu/runtime.js';
import { describeAdapter } from '../gpu/device.js';
import { WideResNet, blocksPerStage, type Variant } from '../model/wrn.js';
import { trainStep, readStatus } from '../train/step.js';
import { PROFILE_CAPACITY, summarize } from './harness.js';
import { CATEGORIES, resultHeader, STEP_KIND, categoryOf, type Category, type StepBenchResult, type StepVariantResult } from './report.js';

/** A benchmarked configuration: a model variant, BN+ReLU fused or not. */
export interface StepVariant {
  name: string;
  variant: Variant;
  fuseBnRelu: boolean;
}

export const STEP_VARIANTS: StepVariant[] = [
  { name: 'bn', variant: 'bn', fuseBnRelu: true },
  { name: 'bn-unfused', variant: 'bn', fuseBnRelu: false },
  { name: 'skipinit', variant: 'skipinit', fuseBnRelu: true },
  { name: 'unnormalized', variant: 'unnormalized', fuseBnRelu: true },
];

export interface StepBenchOptions {
  depth: number;
  width: number;
  batch: number;
  /** Timed steps per variant (each measured twice: plain for wall time, profiled for the breakdown). */
  steps: number;
  warmup: number;
  quick: boolean;
  /** Names from STEP_VARIANTS (default all). */
  variants?: string[];
  /** Do not use timestamp queries even where available (the wall-clock-only report). */
  wallClock?: boolean;
  runtime?: string;
  commit?: string | null;
  notes?: string[];
  log?: (line: string) => void;
}

export function stepDefaults(quick: boolean): Pick<StepBenchOptions, 'depth' | 'width' | 'batch' | 'steps' | 'warmup'> {
  return quick ? { depth: 10, width: 1, batch: 4, steps: 2, warmup: 1 } : { depth: 16, width: 4, batch: 64, steps: 10, warmup: 2 };
}

const emptyBreakdown = (): Record<Category, number> => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;

async function benchVariant(rt: GpuRuntime, v: StepVariant, o: StepBenchOptions, profile: boolean, log: (l: string) => void): Promise<StepVariantResult> {
  const model = new WideResNet({ depth: o.depth, widen: o.width, variant: v.variant, fuseBnRelu: v.fuseBnRelu, seed: 1 }, 'webgpu');
  const params = model.params.map((p) => p.tensor);
  const velocities = params.map((p) => Tensor.zeros(p.shape, 'webgpu').keep());
  const batch = { x: rand([o.batch, 3, 32, 32], 7), shape: [o.batch, 3, 32, 32] as const, labels: Array.from({ length: o.batch }, (_, i) => (i * 7) % 10) };
  // The trainer's own step (src/train/step.ts); a small learning rate keeps the weights (and so
  // the work) stable over the timed steps.
  const step = async (i: number) => {
    const status = trainStep(model, velocities, batch, { lr: 1e-3, momentum: 0.9, weightDecay: 5e-4, dropoutSeed: i });
    const { loss, nonFinite } = await readStatus(status); // as the trainer does: one wait per step
    if (!Number.isFinite(loss) || nonFinite) throw new Error(`bench step: ${v.name}: the loss is ${loss}${nonFinite ? ' and the weights are not finite' : ''} at step ${i}`);
  };
  try {
    for (let i = 0; i < o.warmup; i++) await step(i);
    const wall: number[] = [];
    let dispatches = 0;
    let flops = 0;
    for (let i = 0; i < o.steps; i++) {
      const d0 = rt.dispatchCount;
      const f0 = rt.flopCount;
      const t0 = performance.now();
      await step(o.warmup + i);
      wall.push(performance.now() - t0);
      dispatches = rt.dispatchCount - d0;
      flops = rt.flopCount - f0;
    }
    const wallTiming = summarize('wall-clock', wall);
    let breakdown: Record<Category, number> | null = null;
    let shares: Record<Category, number> | null = null;
    let gpuMs: number | null = null;
    const perKernel = new Map<string, { category: Category; ms: number; count: number }>();
    if (profile) {
      if (dispatches > PROFILE_CAPACITY) throw new Error(`bench step: ${v.name} records ${dispatches} dispatches per step; the profiler holds ${PROFILE_CAPACITY}`);
      breakdown = emptyBreakdown();
      for (let i = 0; i < o.steps; i++) {
        rt.startProfile(PROFILE_CAPACITY);
        let entries: ProfileEntry[];
        try {
          await step(o.warmup + o.steps + i);
        } finally {
          entries = await rt.stopProfile();
        }
        for (const e of entries) {
          const ms = e.ns / 1e6 / o.steps; // mean per step
          const category = categoryOf(e.label);
          breakdown[category] += ms;
          const k = e.label.split(' ')[0];
          const acc = perKernel.get(k) ?? { category, ms: 0, count: 0 };
          acc.ms += ms;
          acc.count += 1 / o.steps;
          perKernel.set(k, acc);
        }
      }
      gpuMs = CATEGORIES.reduce((s, c) => s + breakdown![c], 0);
      shares = Object.fromEntries(CATEGORIES.map((c) => [c, gpuMs! > 0 ? breakdown![c] / gpuMs! : 0])) as Record<Category, number>;
    }
    const topKernels = [...perKernel.entries()]
      .map(([kernel, a]) => ({ kernel, category: a.category, ms: a.ms, count: Math.round(a.count) }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 12);
    const r: StepVariantResult = {
      name: v.name,
      variant: v.variant,
      fuseBnRelu: v.fuseBnRelu,
      parameters: model.parameterCount,
      dispatchesPerStep: dispatches,
      convGflopPerStep: flops / 1e9,
      effectiveGflops: flops / 1e6 / wallTiming.medianMs,
      convKernelGflops: breakdown && breakdown.conv > 0 ? flops / 1e6 / breakdown.conv : null,
      wallMs: wallTiming.medianMs,
      wallTiming,
      imagesPerSecond: (1000 * o.batch) / wallTiming.medianMs,
      gpuMs,
      breakdown,
      shares,
      topKernels,
    };
    log(`${v.name}: ${r.wallMs.toPrecision(4)} ms/step wall, ${r.imagesPerSecond.toPrecision(3)} img/s, ${r.effectiveGflops.toPrecision(3)} GFLOP/s of conv work over the step` + (gpuMs !== null ? `, ${gpuMs.toPrecision(4)} ms GPU, BN ${(100 * shares!.bn).toFixed(1)}%, conv ${(100 * shares!.conv).toFixed(1)}%` : ''));
    return r;
  } finally {
    model.release();
    for (const t of velocities) t.release();
  }
}

export async function runStepBench(rt: GpuRuntime, o: StepBenchOptions): Promise<StepBenchResult> {
  if (gpu() !== rt) throw new Error('bench step: rt must be the runtime behind webgpu tensors (open it with initWebGPU)');
  blocksPerStage(o.depth); // throws a clear error for a bad depth
  for (const [k, v] of Object.entries({ width: o.width, batch: o.batch, steps: o.steps })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`bench step: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new Error(`bench step: warmup must be an integer >= 0, got ${o.warmup}`);
  const names = o.variants ?? STEP_VARIANTS.map((v) => v.name);
  const chosen = names.map((n) => {
    const v = STEP_VARIANTS.find((s) => s.name === n);
    if (!v) throw new Error(`bench step: unknown variant '${n}' (known: ${STEP_VARIANTS.map((s) => s.name).join(', ')})`);
    return v;
  });
  const log = o.log ?? (() => {});
  const profile = rt.hasTimestamps && !o.wallClock;
  log(profile ? 'per-dispatch GPU timestamps: breakdown by kernel category' : 'no timestamp-query: wall time per step only, no breakdown');
  const variants: StepVariantResult[] = [];
  for (const v of chosen) variants.push(await benchVariant(rt, v, o, profile, log));
  return {
    kind: STEP_KIND,
    ...resultHeader(rt, o, describeAdapter),
    method: profile ? 'timestamp-query' : 'wall-clock',
    config: { depth: o.depth, width: o.width, batch: o.batch, steps: o.steps, warmup: o.warmup, quick: o.quick },
    categories: [...CATEGORIES],
    variants,
  };
}
