// `wrn bench kernels`: every hot kernel of a WRN training step at WRN-16-4 layer shapes, timed,
// turned into GB/s or GFLOP/s, and set against the adapter's own limits measured in the same run
// (vec4 copy for memory-bound kernels, tiled SGEMM at the conv's equivalent GEMM for convs).
// Browser-safe (no node:*): the page runs this too (src/bench/web.ts).
import { rand } from '../check.js';
import { gpu, runKernel, Tensor, type Kernel } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { conv2dBackwardFilterKernel, conv2dBackwardInputKernel, conv2dForwardKernel, type Conv2dParams } from '../ops/conv2d.js';
import { batchNormGradInputKernel, batchNormGradReduceKernel, batchNormNormalizeKernel, batchNormStatsKernel, type BatchNormDims } from '../ops/batchnorm.js';
import { addKernel, reluBackwardKernel, reluForwardKernel } from '../ops/elementwise.js';
import { skipAddBackwardKernel, skipAddKernel } from '../ops/skipadd.js';
import { sgdKernel } from '../ops/sgd.js';
import { measureCopy, measureLimits, measureSgemm, timeIt, type GemmShape, type TimeOptions, type Timing } from './harness.js';
import { KERNELS_KIND, resultHeader, type KernelBenchResult, type KernelEntry, type Target } from './report.js';
import { describeAdapter } from '../gpu/device.js';

/** A 3x3, stride 1, pad 1 conv layer of WRN-16-4 (Cin = Cout = c) at h x h. */
export interface LayerShape {
  c: number;
  h: number;
}

/** WRN-16-4's three stages: 32x32x64, 16x16x128, 8x8x256. */
export const WRN16_4_LAYERS: LayerShape[] = [
  { c: 64, h: 32 },
  { c: 128, h: 16 },
  { c: 256, h: 8 },
];

/** WRN-16-4's parameter count (stem, 3 stages of 2 blocks with projections, BN, classifier) and its largest tensor. */
export const WRN16_4_PARAMS = 2_748_890;
export const WRN16_4_LARGEST = 256 * 256 * 9;

export const layerName = (l: LayerShape) => `${l.h}x${l.h}x${l.c}`;

// The targets.
export const BANDWIDTH_TARGET = 0.7; // memory-bound kernels: >= 70% of the copy's GB/s
export const CONV_TARGET = 0.7; // conv forward: >= 70% of the SGEMM's GFLOP/s at the same GEMM
export const CONV_BACKWARD_TARGET = 1.5; // each conv backward: <= 1.5x the forward's time

export interface KernelBenchOptions {
  batch: number;
  reps: number;
  warmup: number;
  quick: boolean;
  /** Only kernels whose name contains this (the limits are always measured). */
  only?: string;
  /** Layer shapes (default WRN16_4_LAYERS). */
  layers?: LayerShape[];
  /** Parameters in the SGD update (default: WRN-16-4's; quick: its largest tensor). */
  sgdParams?: number;
  copyMiB?: number;
  sgemmN?: number;
  /** Time with the wall clock even when timestamp queries are available. */
  wallClock?: boolean;
  /** Repeat short kernels past `reps` until this much time is sampled (see TimeOptions). */
  minTotalMs?: number;
  runtime?: string;
  commit?: string | null;
  notes?: string[];
  log?: (line: string) => void;
}

/** Defaults for --quick (runs in well under a minute on a 2-core CPU adapter) and for a real GPU. */
export function kernelDefaults(quick: boolean): Pick<KernelBenchOptions, 'batch' | 'reps' | 'warmup' | 'copyMiB' | 'sgemmN' | 'sgdParams' | 'minTotalMs'> {
  return quick
    ? { batch: 2, reps: 3, warmup: 1, copyMiB: 8, sgemmN: 256, sgdParams: WRN16_4_LARGEST, minTotalMs: 100 }
    : { batch: 64, reps: 20, warmup: 3, copyMiB: 64, sgemmN: 1024, sgdParams: WRN16_4_PARAMS, minTotalMs: 200 };
}

interface Case {
  name: string;
  group: string;
  shape: string;
  metric: 'GB/s' | 'GFLOP/s';
  work: number;
  formula: string;
  /** Allocate inputs; returns the recording closure and a cleanup. */
  setup: () => { record: () => void; release: () => void };
  /** Memory-bound kernels with the >= 70%-of-copy target. */
  bandwidthTarget?: boolean;
  /** Memory-bound kernels: the reference copy's size in values (one tensor of the kernel's shape). */
  copyValues?: number;
  conv?: { kind: 'forward' | 'backward'; layer: string; gemm: GemmShape };
}

function randTensor(shape: number[], seed: number, lo = -1, hi = 1): Tensor {
  return Tensor.from(rand(shape, seed, lo, hi), shape, 'webgpu');
}

/** Record `kernel` into preallocated outputs (runKernel updates Tensor outputs in place). */
function run<P>(kernel: Kernel<P>, inputs: Tensor[], outputs: Tensor[], p: P): void {
  runKernel(kernel, inputs, outputs, p);
}

function cases(batch: number, layers: LayerShape[], sgdParams: number): Case[] {
  const out: Case[] = [];
  for (const l of layers) {
    const shape = layerName(l);
    const xs = [batch, l.c, l.h, l.h];
    const n = batch * l.c * l.h * l.h; // values in one activation tensor
    const dims: BatchNormDims = { n: batch, c: l.c, hw: l.h * l.h };
    const conv: Conv2dParams = { stride: 1, pad: 1 };
    // Conv FLOPs: 2*N*Ho*Wo*Cout*Cin*K*K (a multiply and an add per tap), the same count for both
    // backward kernels; the equivalent GEMM is M = Cout, N = batch*Ho*Wo, K = Cin*K*K.
    const flops = 2 * batch * l.h * l.h * l.c * l.c * 9;
    const gemm = { m: l.c, n: batch * l.h * l.h, k: l.c * 9 };
    const convFormula = `2*N*Ho*Wo*Cout*Cin*3*3 = ${flops}`;
    const convCase = (name: string, kind: 'forward' | 'backward', make: (x: Tensor, w: Tensor, dy: Tensor, outs: Tensor[]) => () => void): Case => ({
      name: `${name} ${shape}`,
      group: 'conv',
      shape,
      metric: 'GFLOP/s',
      work: flops,
      formula: convFormula,
      conv: { kind, layer: shape, gemm },
      setup: () => {
        const x = randTensor(xs, 1);
        const w = randTensor([l.c, l.c, 3, 3], 2, -0.1, 0.1);
        const dy = randTensor(xs, 3);
        const outs = [Tensor.empty(xs, 'webgpu'), Tensor.empty([l.c, l.c, 3, 3], 'webgpu')];
        return { record: make(x, w, dy, outs), release: () => [x, w, dy, ...outs].forEach((t) => t.release()) };
      },
    });
    out.push(
      convCase('conv2d.forward', 'forward', (x, w, _dy, [y]) => () => run(conv2dForwardKernel, [x, w], [y], conv)),
      convCase('conv2d.backward_input', 'backward', (_x, w, dy, [dx]) => () => run(conv2dBackwardInputKernel, [dy, w], [dx], conv)),
      convCase('conv2d.backward_filter', 'backward', (x, _w, dy, [, dw]) => () => run(conv2dBackwardFilterKernel, [x, dy], [dw], conv)),
    );

    // BN: per-channel tensors and the batch statistics (computed once, so backward sees real ones).
    const bnSetup = () => {
      const x = randTensor(xs, 4, -2, 3);
      const dy = randTensor(xs, 5);
      const gamma = randTensor([l.c], 6, 0.5, 1.5);
      const beta = randTensor([l.c], 7, -0.2, 0.2);
      const runningMean = Tensor.zeros([l.c], 'webgpu');
      const runningVar = Tensor.full([l.c], 1, 'webgpu');
      const mean = Tensor.empty([l.c], 'webgpu');
      const rstd = Tensor.empty([l.c], 'webgpu');
      const y = Tensor.empty(xs, 'webgpu');
      const y2 = Tensor.empty(xs, 'webgpu');
      const dgamma = Tensor.empty([l.c], 'webgpu');
      const dbeta = Tensor.empty([l.c], 'webgpu');
      const stats = () => run(batchNormStatsKernel, [x], [mean, rstd, runningMean, runningVar], { ...dims, momentum: 0.1, eps: 1e-5 });
      const normalize = (relu: boolean) => run(batchNormNormalizeKernel, [x, mean, rstd, gamma, beta], [y], { ...dims, relu });
      const backward = (g: Tensor, relu: boolean) => {
        run(batchNormGradReduceKernel, [x, g, mean, rstd, gamma, beta], [dgamma, dbeta], { ...dims, relu });
        run(batchNormGradInputKernel, [x, g, mean, rstd, gamma, beta, dgamma, dbeta], [y2], { ...dims, relu, training: true });
      };
      stats();
      normalize(false);
      const release = () => [x, dy, gamma, beta, runningMean, runningVar, mean, rstd, y, y2, dgamma, dbeta].forEach((t) => t.release());
      return { x, dy, y, y2, stats, normalize, backward, release };
    };
    const mem = (name: string, group: string, bytesPerValue: number, formula: string, setup: Case['setup'], target = true): Case => ({
      name: `${name} ${shape}`,
      group,
      shape,
      metric: 'GB/s',
      work: bytesPerValue * n,
      formula: `${formula} = ${bytesPerValue} B/value x ${n}`,
      setup,
      bandwidthTarget: target,
      copyValues: n,
    });
    // Minimal bytes: what the function must read and write at least once, 4 bytes per f32 value;
    // per-channel vectors (mean, rstd, gamma, ...) are negligible and not counted.
    out.push(
      // stats read x (4) + normalize read x (4), write y (4)
      mem('bn.fwd', 'bn', 12, 'stats read x 4 + normalize read x 4 + write y 4', () => {
        const b = bnSetup();
        return { record: () => (b.stats(), b.normalize(false)), release: b.release };
      }),
      // the same with the ReLU folded into the normalize pass: no extra traffic
      mem('bn.fwd+relu fused', 'bn', 12, 'BN+ReLU: stats read x 4 + normalize read x 4 + write y 4', () => {
        const b = bnSetup();
        return { record: () => (b.stats(), b.normalize(true)), release: b.release };
      }),
      // BN then a separate ReLU pass (8 more bytes moved); counted with the function's minimal 12,
      // so its ratio against the fused one shows what fusion saves
      mem('bn.fwd then relu (unfused)', 'bn-unfused', 12, 'BN+ReLU minimal: 12 (moves 12 + relu 8)', () => {
        const b = bnSetup();
        return { record: () => (b.stats(), b.normalize(false), run(reluForwardKernel, [b.y], [b.y2], undefined)), release: b.release };
      }, false),
      // reduce read x, dy (8) + dx read x, dy, write dx (12)
      mem('bn.bwd', 'bn', 20, 'reduce read x, dy 8 + dx read x, dy 8 + write dx 4', () => {
        const b = bnSetup();
        return { record: () => b.backward(b.dy, false), release: b.release };
      }),
      // the ReLU mask recomputed from x inside both passes: no extra traffic
      mem('bn.bwd+relu fused', 'bn', 20, 'BN+ReLU backward: reduce read x, dy 8 + dx read x, dy 8 + write dx 4', () => {
        const b = bnSetup();
        return { record: () => b.backward(b.dy, true), release: b.release };
      }),
      // relu backward (read y, dy, write dy': 12 more bytes) then BN backward; counted with the minimal 20
      mem('relu.bwd then bn.bwd (unfused)', 'bn-unfused', 20, 'BN+ReLU backward minimal: 20 (moves 20 + relu 12)', () => {
        const b = bnSetup();
        const g = Tensor.empty(xs, 'webgpu');
        return {
          record: () => {
            run(reluBackwardKernel, [b.y, b.dy], [g], undefined);
            b.backward(g, false);
          },
          release: () => (g.release(), b.release()),
        };
      }, false),
    );
    const elementwise = (name: string, group: string, bytes: number, formula: string, inputs: number, outputs: number, make: (ins: Tensor[], outs: Tensor[]) => () => void): Case =>
      mem(name, group, bytes, formula, () => {
        const ins = Array.from({ length: inputs }, (_, i) => randTensor(xs, 10 + i));
        const outs = Array.from({ length: outputs }, () => Tensor.empty(xs, 'webgpu'));
        return { record: make(ins, outs), release: () => [...ins, ...outs].forEach((t) => t.release()) };
      });
    out.push(
      elementwise('relu.fwd', 'relu', 8, 'read x 4 + write y 4', 1, 1, ([x], [y]) => () => run(reluForwardKernel, [x], [y], undefined)),
      elementwise('relu.bwd', 'relu', 12, 'read x 4, dy 4 + write dx 4', 2, 1, ([x, dy], [dx]) => () => run(reluBackwardKernel, [x, dy], [dx], undefined)),
      mem('skipadd.fwd', 'skipadd', 12, 'read skip 4, branch 4 + write out 4', () => {
        const [skip, branch] = [randTensor(xs, 20), randTensor(xs, 21)];
        const alpha = Tensor.from([0.3], [1], 'webgpu');
        const o = Tensor.empty(xs, 'webgpu');
        return { record: () => run(skipAddKernel, [skip, branch, alpha], [o], undefined), release: () => [skip, branch, alpha, o].forEach((t) => t.release()) };
      }),
      // d_alpha = sum(g * branch) rides along in the same pass (one partial per workgroup)
      mem('skipadd.bwd', 'skipadd', 16, 'read g 4, branch 4 + write d_skip 4, d_branch 4', () => {
        const [g, branch] = [randTensor(xs, 22), randTensor(xs, 23)];
        const alpha = Tensor.from([0.3], [1], 'webgpu');
        const outs = [Tensor.empty(xs, 'webgpu'), Tensor.empty(xs, 'webgpu'), Tensor.empty([1], 'webgpu')];
        return { record: () => run(skipAddBackwardKernel, [g, branch, alpha], outs, undefined), release: () => [g, branch, alpha, ...outs].forEach((t) => t.release()) };
      }),
      // the plain residual add of the bn and unnormalized variants
      elementwise('add.fwd (plain residual)', 'skipadd', 12, 'read a 4, b 4 + write out 4', 2, 1, ([a, b], [o]) => () => run(addKernel, [a, b], [o], undefined)),
    );
  }
  // SGD with momentum and weight decay: read grad, param, velocity (12) + write param, velocity (8)
  out.push({
    name: `sgd n=${sgdParams}`,
    group: 'sgd',
    shape: `n=${sgdParams}`,
    metric: 'GB/s',
    work: 20 * sgdParams,
    formula: `read grad 4, param 4, velocity 4 + write param 4, velocity 4 = 20 B/param x ${sgdParams}`,
    copyValues: sgdParams,
    setup: () => {
      const grad = randTensor([sgdParams], 30, -0.01, 0.01);
      const param = randTensor([sgdParams], 31);
      const velocity = Tensor.zeros([sgdParams], 'webgpu');
      const status = Tensor.zeros([2], 'webgpu'); // the finiteness flag the training step reads with the loss
      return { record: () => run(sgdKernel, [grad], [param, velocity, status], { lr: 1e-4, momentum: 0.9, weightDecay: 5e-4 }), release: () => [grad, param, velocity, status].forEach((t) => t.release()) };
    },
  });
  return out;
}

function target(description: string, value: number, threshold: number, direction: 'min' | 'max'): Target {
  const met = direction === 'min' ? value >= threshold : value <= threshold;
  const miss = met ? 0 : direction === 'min' ? (threshold - value) / threshold : (value - threshold) / threshold;
  return { description, value, threshold, direction, met, miss };
}

/** Dispatch labels one repetition records (profiled once, for the result file). */
async function labelsOf(rt: GpuRuntime, record: () => void): Promise<string[]> {
  if (!rt.hasTimestamps) return [];
  rt.startProfile(64);
  record();
  return (await rt.stopProfile()).map((e) => e.label);
}

export async function runKernelBench(rt: GpuRuntime, opts: KernelBenchOptions): Promise<KernelBenchResult> {
  if (gpu() !== rt) throw new Error('bench kernels: rt must be the runtime behind webgpu tensors (open it with initWebGPU)');
  const d = kernelDefaults(opts.quick);
  const batch = opts.batch;
  const layers = opts.layers ?? WRN16_4_LAYERS;
  const sgdParams = opts.sgdParams ?? d.sgdParams!;
  const only = opts.only ?? '';
  const log = opts.log ?? (() => {});
  for (const [k, v] of Object.entries({ batch, reps: opts.reps, sgdParams })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`bench kernels: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new Error(`bench kernels: warmup must be an integer >= 0, got ${opts.warmup}`);
  const time: TimeOptions = { reps: opts.reps, warmup: opts.warmup, wall: opts.wallClock, minTotalMs: opts.minTotalMs ?? d.minTotalMs };
  const method = rt.hasTimestamps && !opts.wallClock ? 'timestamp-query' : 'wall-clock';
  log(`timing with ${method === 'timestamp-query' ? 'GPU timestamp queries' : 'the wall clock (no timestamp-query)'}`);

  const limits = await measureLimits(rt, { copyMiB: opts.copyMiB ?? d.copyMiB!, sgemmN: opts.sgemmN ?? d.sgemmN!, ...time });
  log(`copy ${limits.copyGBs.toPrecision(3)} GB/s, SGEMM ${limits.sgemmShape.m}^3 ${limits.sgemmGflops.toPrecision(3)} GFLOP/s`);

  const all = cases(batch, layers, sgdParams).filter((c) => c.name.includes(only));
  if (all.length === 0) throw new Error(`bench kernels: no kernel matches --only '${only}'`);
  // SGEMM at each conv layer's equivalent GEMM (only for the layers whose forward is measured).
  const gemm: KernelBenchResult['gemm'] = [];
  for (const c of all) {
    if (c.conv?.kind !== 'forward' || gemm.some((g) => g.layer === c.conv!.layer)) continue;
    const s = await measureSgemm(rt, c.conv.gemm, time);
    gemm.push({ layer: c.conv.layer, shape: s.shape, gflops: s.gflops, timing: s.timing });
    log(`SGEMM at ${c.conv.layer}'s GEMM ${s.shape.m}x${s.shape.n}x${s.shape.k}: ${s.gflops.toPrecision(3)} GFLOP/s`);
  }

  // A copy of the same size for each memory-bound kernel: cache effects then hit both alike (a
  // small tensor can live in a CPU adapter's caches, where a 64 MiB copy cannot).
  const copies: KernelBenchResult['copies'] = [];
  for (const c of all) {
    if (c.copyValues === undefined || copies.some((x) => x.values === c.copyValues)) continue;
    const m = await measureCopy(rt, c.copyValues, time);
    copies.push({ values: c.copyValues, gbs: m.gbs, timing: m.timing });
    log(`copy of ${c.copyValues} values: ${m.gbs.toPrecision(3)} GB/s`);
  }

  const kernels: KernelEntry[] = [];
  const forwardMs = new Map<string, number>();
  for (const c of all) {
    const { record, release } = c.setup();
    let timing: Timing;
    let dispatches: string[];
    try {
      timing = await timeIt(rt, record, time);
      dispatches = await labelsOf(rt, record);
    } finally {
      release();
    }
    const value = c.work / (timing.medianMs * 1e6);
    const copy = copies.find((x) => x.values === c.copyValues);
    let reference = copy ? `copy ${copy.values} values` : `copy ${(limits.copyBytes / 2 ** 21).toFixed(0)} MiB`;
    let referenceValue = copy ? copy.gbs : limits.copyGBs;
    let t: Target | null = null;
    if (c.conv) {
      const g = gemm.find((x) => x.layer === c.conv!.layer);
      reference = g ? `SGEMM ${g.shape.m}x${g.shape.n}x${g.shape.k}` : `SGEMM ${limits.sgemmShape.m}^3`;
      referenceValue = g ? g.gflops : limits.sgemmGflops;
      if (c.conv.kind === 'forward') {
        forwardMs.set(c.conv.layer, timing.medianMs);
        t = target(`GFLOP/s >= ${CONV_TARGET} x SGEMM at the same GEMM`, value / referenceValue, CONV_TARGET, 'min');
      } else {
        const f = forwardMs.get(c.conv.layer);
        if (f !== undefined) t = target(`time <= ${CONV_BACKWARD_TARGET} x the forward's`, timing.medianMs / f, CONV_BACKWARD_TARGET, 'max');
      }
    } else if (c.bandwidthTarget) {
      t = target(`GB/s >= ${BANDWIDTH_TARGET} x copy`, value / referenceValue, BANDWIDTH_TARGET, 'min');
    }
    const entry: KernelEntry = {
      name: c.name,
      group: c.group,
      shape: c.shape,
      dispatches,
      timing,
      metric: c.metric,
      value,
      work: c.work,
      formula: c.formula,
      reference,
      referenceValue,
      ratio: value / referenceValue,
      target: t,
    };
    kernels.push(entry);
    log(`${c.name}: ${timing.medianMs.toPrecision(3)} ms, ${value.toPrecision(3)} ${c.metric} (${entry.ratio.toPrecision(3)} of ${reference})`);
  }
  return {
    kind: KERNELS_KIND,
    ...resultHeader(rt, opts, describeAdapter),
    method,
    config: { batch, reps: opts.reps, warmup: opts.warmup, quick: opts.quick, only, layers: layers.map(layerName), sgdParams },
    limits,
    gemm,
    copies,
    kernels,
  };
}
