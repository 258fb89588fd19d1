// `wrn bench kernels`: every hot kernel of a WRN training step at WRN-16-4 layer shapes, timed,
// turned into GB/s or GFLOP/s, and set against the adapter's own limits measured in the same run
// (vec4 copy for memory-bound kernels, tiled SGEMM at the conv's equivalent GEMM for convs, and
// for convs also the FMA kernel's peak).
// Browser-safe (no node:*): the page runs this too (src/web/bench_task.ts).
import { checkCases, compareKernel, input, rand, type CheckCase, type KernelCase } from '../check.js';
import { gpu, runKernel, Tensor, type Kernel } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import type { TuningProfile } from '../gpu/profile.js';
import { conv2dBackwardFilterKernel, conv2dBackwardInputKernel, conv2dForwardKernel, CONV_TOL, type Conv2dParams } from '../ops/conv2d.js';
import {
  batchNormGradInputKernel,
  batchNormGradReduceKernel,
  batchNormNormalizeKernel,
  batchNormStatsKernel,
  ELEMENTWISE_TOL as BN_ELEMENTWISE_TOL,
  REDUCE_TOL as BN_REDUCE_TOL,
  type BatchNormDims,
} from '../ops/batchnorm.js';
import { addKernel, reluBackwardKernel, reluForwardKernel } from '../ops/elementwise.js';
import { D_ALPHA_TOL, ELEMENTWISE as SKIPADD_TOL, skipAddBackwardKernel, skipAddKernel } from '../ops/skipadd.js';
import { KERNEL_VERSIONS, VERSION_FAMILIES, versionsOf, withVersions, type KernelVersion, type VersionFamily, type VersionRequest } from '../gpu/versions.js';
import { sgdKernel } from '../ops/sgd.js';
import { FMA_GFLOP, measureCopy, measureLimits, measureSgemm, timeIt, type GemmShape, type TimeOptions, type Timing } from './harness.js';
import { fmt, KERNELS_KIND, resultHeader, table, type KernelBenchResult, type KernelEntry, type Target } from './report.js';
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

/**
 * WRN width 1's first two stages (32x32x16, 16x16x32: `wrn train`'s default net): with Cout = 16
 * or 32 the conv versions pick different tiles (at WRN-16-4's shapes every version picks 64x64),
 * so a run that compares or selects conv2d versions times the convs there too.
 */
export const WIDTH1_LAYERS: LayerShape[] = [
  { c: 16, h: 32 },
  { c: 32, h: 16 },
];

// The issue's targets.
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
  /** GFLOP the FMA yardstick starts from (grown until a repetition takes 10 ms; default FMA_GFLOP). */
  fmaGflop?: number;
  /** Time with the wall clock even when timestamp queries are available. */
  wallClock?: boolean;
  /** Repeat short kernels past `reps` until this much time is sampled (see TimeOptions). */
  minTotalMs?: number;
  /**
   * Kernel versions (src/gpu/versions.ts, --versions): the profile's own (default), a selection
   * for the whole run, or every version of some families side by side. Every version that runs is
   * first checked against the CPU reference (validateVersion); one that fails is not timed.
   */
  versions?: VersionRequest;
  runtime?: string;
  commit?: string | null;
  notes?: string[];
  log?: (line: string) => void;
  /** Called before each measurement: the references (limits, SGEMMs, copies), then each kernel case. */
  progress?: (p: KernelProgress) => void;
  /**
   * Polled before each measurement once the limits are measured: true stops the run there, and it
   * returns the kernels timed so far as a partial result (partial: true, stoppedAt).
   */
  cancelled?: () => boolean;
}

/** Where a kernel benchmark is, reported before each measurement. */
export interface KernelProgress {
  /** 'reference': the copy and SGEMM the kernels are compared with; 'case': a kernel */
  phase: 'reference' | 'case';
  /** 1-based within the phase, and the phase's count */
  index: number;
  count: number;
  name: string;
  /** measurements done in the whole run, and how many it will make */
  done: number;
  total: number;
  /** e.g. 'case 3 of 15: bn.fwd 8x8x8' */
  text: string;
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
  /** The kernel family with versions whose programs this case times. */
  family?: VersionFamily;
}

/** A kernel entry of a run that compares versions: `version` names it ('conv2d v1'), and the name ends in [conv2d v1]. */
export interface VersionedKernelEntry extends KernelEntry {
  version?: string;
}

/** One version's check against the CPU reference before it was timed. */
export interface VersionValidation {
  family: VersionFamily;
  version: string;
  checks: number;
  ok: boolean;
  maxAbsErr: number;
  maxRelErr: number;
  /** The first failing check's message ('' when ok). */
  message: string;
}

/** The kernel benchmark's result: the versions every family ran, and their validation. */
export interface VersionedKernelBenchResult extends KernelBenchResult {
  /** The versions each family ran (one each, unless the run compared versions). */
  versions: Record<VersionFamily, string[]>;
  validation: VersionValidation[];
  kernels: VersionedKernelEntry[];
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
      family: 'conv2d',
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
    const mem = (name: string, group: string, bytesPerValue: number, formula: string, setup: Case['setup'], target = true, family?: VersionFamily): Case => ({
      name: `${name} ${shape}`,
      group,
      family: family ?? (group.startsWith('bn') ? 'batchnorm' : undefined),
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
      }, true, 'skipadd'),
      // d_alpha = sum(g * branch) rides along in the same pass (one partial per workgroup)
      mem('skipadd.bwd', 'skipadd', 16, 'read g 4, branch 4 + write d_skip 4, d_branch 4', () => {
        const [g, branch] = [randTensor(xs, 22), randTensor(xs, 23)];
        const alpha = Tensor.from([0.3], [1], 'webgpu');
        const outs = [Tensor.empty(xs, 'webgpu'), Tensor.empty(xs, 'webgpu'), Tensor.empty([1], 'webgpu')];
        return { record: () => run(skipAddBackwardKernel, [g, branch, alpha], outs, undefined), release: () => [g, branch, alpha, ...outs].forEach((t) => t.release()) };
      }, true, 'skipadd'),
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

// ---- kernel versions: validation against the CPU reference ---------------------------------

/** The `wrn check` cases of each family with versions, by their name's prefix. */
const CHECK_PREFIX: Record<VersionFamily, string> = { conv2d: 'conv2d.', batchnorm: 'batchNorm.', skipadd: 'skipAdd' };

/**
 * What a version must pass before it is timed: its family's `wrn check` cases (awkward shapes)
 * and the family's kernels at each benchmarked layer shape at batch 1 (where the version's tile or
 * span choice is the one timed), each against its CPU reference with `wrn check`'s tolerances.
 */
export function versionChecks(family: VersionFamily, layers: readonly LayerShape[]): CheckCase[] {
  const out = checkCases().filter((c) => c.name.startsWith(CHECK_PREFIX[family]));
  for (const l of layers) {
    const x = [1, l.c, l.h, l.h];
    const w = [l.c, l.c, 3, 3];
    const c = l.c;
    const at = `${layerName(l)} (batch 1)`;
    const conv: Conv2dParams = { stride: 1, pad: 1 };
    const dims = { n: 1, c, hw: l.h * l.h };
    // beta = 0 keeps the ReLU mask exact in f32 and f64 (as in wrn check)
    const per = () => [input([c], 5, -0.2, 0.2), input([c], 6, 0.5, 2), input([c], 7, -1.5, 1.5), { shape: [c], data: new Float32Array(c) }];
    const add = (name: string, make: () => KernelCase<any>) => out.push({ name: `${name} ${at}`, make }); // eslint-disable-line @typescript-eslint/no-explicit-any
    if (family === 'conv2d') {
      add('conv2d.forward', () => ({ kernel: conv2dForwardKernel, inputs: [input(x, 1), input(w, 2, -0.1, 0.1)], outputs: [x], params: conv, tol: CONV_TOL }));
      add('conv2d.backward_input', () => ({ kernel: conv2dBackwardInputKernel, inputs: [input(x, 3), input(w, 2, -0.1, 0.1)], outputs: [x], params: conv, tol: CONV_TOL }));
      add('conv2d.backward_filter', () => ({ kernel: conv2dBackwardFilterKernel, inputs: [input(x, 1), input(x, 3)], outputs: [w], params: conv, tol: CONV_TOL }));
    } else if (family === 'batchnorm') {
      add('batchNorm.stats', () => ({ kernel: batchNormStatsKernel, inputs: [input(x, 4, -2, 3)], outputs: [[c], [c], input([c], 8), input([c], 9, 0.5, 1.5)], params: { ...dims, momentum: 0.1, eps: 1e-5 }, tol: BN_REDUCE_TOL }));
      add('batchNorm.normalize+relu', () => ({ kernel: batchNormNormalizeKernel, inputs: [input(x, 4), ...per()], outputs: [x], params: { ...dims, relu: true }, tol: BN_ELEMENTWISE_TOL }));
      add('batchNorm.gradReduce+relu', () => ({ kernel: batchNormGradReduceKernel, inputs: [input(x, 4), input(x, 10), ...per()], outputs: [[c], [c]], params: { ...dims, relu: true }, tol: BN_REDUCE_TOL }));
      add('batchNorm.gradInput+relu', () => ({
        kernel: batchNormGradInputKernel,
        inputs: [input(x, 4), input(x, 10), ...per(), input([c], 11), input([c], 12)],
        outputs: [x],
        params: { ...dims, relu: true, training: true },
        tol: BN_ELEMENTWISE_TOL,
      }));
    } else {
      const alpha = { shape: [1], data: [-0.37] };
      add('skipAdd', () => ({ kernel: skipAddKernel, inputs: [input(x, 1), input(x, 2), alpha], outputs: [x], params: undefined, tol: SKIPADD_TOL }));
      add('skipAdd.backward', () => ({ kernel: skipAddBackwardKernel, inputs: [input(x, 3), input(x, 2), alpha], outputs: [x, x, [1]], params: undefined, tol: D_ALPHA_TOL }));
    }
  }
  return out;
}

/**
 * Run versionChecks(k.family, layers) under `profile` (default: the runtime's with `k` applied),
 * then put the runtime's profile back. A check that throws (a WGSL error, a bad dispatch) fails.
 */
export async function validateVersion(rt: GpuRuntime, k: KernelVersion, layers: readonly LayerShape[], profile: TuningProfile = withVersions(rt.profile, [k])): Promise<VersionValidation> {
  const v: VersionValidation = { family: k.family, version: k.name, checks: 0, ok: true, maxAbsErr: 0, maxRelErr: 0, message: '' };
  const prev = rt.setProfile(profile);
  try {
    for (const c of versionChecks(k.family, layers)) {
      v.checks++;
      let r;
      try {
        r = await compareKernel(c.make());
      } catch (e) {
        r = { ok: false, maxAbsErr: NaN, maxRelErr: NaN, message: (e as Error).message };
      }
      v.maxAbsErr = Math.max(v.maxAbsErr, r.maxAbsErr);
      v.maxRelErr = Math.max(v.maxRelErr, r.maxRelErr);
      if (!r.ok) {
        Object.assign(v, { ok: false, message: `${c.name}: ${r.message}` });
        break;
      }
    }
  } finally {
    rt.setProfile(prev);
  }
  return v;
}

/** One pass over some of the cases under one profile: the run's own versions, or one version of one family (tag 'conv2d v1'). */
interface VersionRun {
  profile: TuningProfile;
  tag: string | null;
  family: VersionFamily | null;
  selects: (c: Case) => boolean;
  validate: KernelVersion[];
}

function versionRuns(base: TuningProfile, request: VersionRequest): VersionRun[] {
  if (request.kind !== 'compare') {
    const vs = request.kind === 'select' ? request.versions : [];
    return [{ profile: withVersions(base, vs), tag: null, family: null, selects: () => true, validate: vs }];
  }
  const runs: VersionRun[] = [{ profile: base, tag: null, family: null, selects: (c) => !c.family || !request.families.includes(c.family), validate: [] }];
  for (const f of request.families) {
    for (const k of KERNEL_VERSIONS[f]) runs.push({ profile: withVersions(base, [k]), tag: `${f} ${k.name}`, family: f, selects: (c) => c.family === f, validate: [k] });
  }
  return runs;
}

export async function runKernelBench(rt: GpuRuntime, opts: KernelBenchOptions): Promise<VersionedKernelBenchResult> {
  if (gpu() !== rt) throw new Error('bench kernels: rt must be the runtime behind webgpu tensors (open it with initWebGPU)');
  const d = kernelDefaults(opts.quick);
  const batch = opts.batch;
  const request: VersionRequest = opts.versions ?? { kind: 'default' };
  const convVersions = request.kind === 'select' ? request.versions.some((k) => k.family === 'conv2d') : request.kind === 'compare' && request.families.includes('conv2d');
  const width1 = !opts.layers && convVersions;
  const layers = opts.layers ?? (width1 ? [...WRN16_4_LAYERS, ...WIDTH1_LAYERS] : WRN16_4_LAYERS);
  const width1Names = width1 ? WIDTH1_LAYERS.map(layerName) : [];
  const layersOf = (f: VersionFamily) => layers.filter((l) => f === 'conv2d' || !width1Names.includes(layerName(l)));
  const sgdParams = opts.sgdParams ?? d.sgdParams!;
  const only = opts.only ?? '';
  const log = opts.log ?? (() => {});
  for (const [k, v] of Object.entries({ batch, reps: opts.reps, sgdParams })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`bench kernels: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(opts.warmup) || opts.warmup < 0) throw new Error(`bench kernels: warmup must be an integer >= 0, got ${opts.warmup}`);
  const time: TimeOptions = { reps: opts.reps, warmup: opts.warmup, wall: opts.wallClock, minTotalMs: opts.minTotalMs ?? d.minTotalMs };
  const method = rt.hasTimestamps && !opts.wallClock ? 'timestamp-query' : 'wall-clock';

  // The width-1 layers only for the convs (the other kernels' versions do not depend on the channel count).
  const all = cases(batch, layers, sgdParams).filter((c) => c.name.includes(only) && (!width1Names.includes(c.shape) || c.family === 'conv2d'));
  if (all.length === 0) throw new Error(`bench kernels: no kernel matches --only '${only}'`);
  log(`timing with ${method === 'timestamp-query' ? 'GPU timestamp queries' : 'the wall clock (no timestamp-query)'}`);

  const base = rt.profile;
  const runs = versionRuns(base, request);
  const versions = Object.fromEntries(VERSION_FAMILIES.map((f) => [f, [] as string[]])) as Record<VersionFamily, string[]>;
  for (const f of VERSION_FAMILIES) {
    const timed = runs.filter((r) => all.some((c) => c.family === f && r.selects(c)));
    for (const r of timed.length ? timed : runs.slice(0, 1)) {
      const name = versionsOf(r.profile)[f];
      if (!versions[f].includes(name)) versions[f].push(name);
    }
  }
  const validation: VersionValidation[] = [];
  const kernels: VersionedKernelEntry[] = [];
  // Progress and the stop poll: the references (the limits, an SGEMM per conv layer, a copy per
  // tensor size), then the kernel cases of every pass.
  const gemmLayers = new Set(all.filter((c) => c.conv?.kind === 'forward').map((c) => c.conv!.layer));
  const copySizes = new Set(all.filter((c) => c.copyValues !== undefined).map((c) => c.copyValues!));
  const refCount = 1 + gemmLayers.size + copySizes.size;
  const caseCount = runs.reduce((s, r) => s + all.filter(r.selects).length, 0);
  const counter = { done: 0, ref: 0, case: 0 };
  let stoppedAt: string | null = null;
  /** Report the next measurement, then poll for a stop (not before the limits: a result needs them). */
  const before = (phase: KernelProgress['phase'], name: string): boolean => {
    const [index, count] = phase === 'reference' ? [++counter.ref, refCount] : [++counter.case, caseCount];
    const text = `${phase} ${index} of ${count}: ${name}`;
    if (counter.done > 0 && opts.cancelled?.()) {
      stoppedAt = text;
      return true;
    }
    opts.progress?.({ phase, index, count, name, done: counter.done, total: refCount + caseCount, text });
    counter.done++; // not in the optional call's arguments: those are skipped without a callback
    return false;
  };
  try {
    before('reference', 'the copy, SGEMM and FMA limits');
    const limits = await measureLimits(rt, { copyMiB: opts.copyMiB ?? d.copyMiB!, sgemmN: opts.sgemmN ?? d.sgemmN!, fmaGflop: opts.fmaGflop ?? FMA_GFLOP, ...time });
    log(`copy ${limits.copyGBs.toPrecision(3)} GB/s, SGEMM ${limits.sgemmShape.m}^3 ${limits.sgemmGflops.toPrecision(3)} GFLOP/s, FMA peak ${limits.fmaGflops!.toPrecision(3)} GFLOP/s`);

    // SGEMM at each conv layer's equivalent GEMM (only for the layers whose forward is measured).
    const gemm: KernelBenchResult['gemm'] = [];
    const copies: KernelBenchResult['copies'] = [];
    const forwardMs = new Map<string, number>();
    measure: {
      for (const c of all) {
        if (c.conv?.kind !== 'forward' || gemm.some((g) => g.layer === c.conv!.layer)) continue;
        if (before('reference', `SGEMM at ${c.conv.layer}'s GEMM`)) break measure;
        const s = await measureSgemm(rt, c.conv.gemm, time);
        gemm.push({ layer: c.conv.layer, shape: s.shape, gflops: s.gflops, timing: s.timing });
        log(`SGEMM at ${c.conv.layer}'s GEMM ${s.shape.m}x${s.shape.n}x${s.shape.k}: ${s.gflops.toPrecision(3)} GFLOP/s`);
      }

      // A copy of the same size for each memory-bound kernel: cache effects then hit both alike (a
      // small tensor can live in a CPU adapter's caches, where a 64 MiB copy cannot).
      for (const c of all) {
        if (c.copyValues === undefined || copies.some((x) => x.values === c.copyValues)) continue;
        if (before('reference', `copy of ${c.copyValues} values`)) break measure;
        const m = await measureCopy(rt, c.copyValues, time);
        copies.push({ values: c.copyValues, gbs: m.gbs, timing: m.timing });
        log(`copy of ${c.copyValues} values: ${m.gbs.toPrecision(3)} GB/s`);
      }

      for (const run of runs) {
        const mine = all.filter(run.selects);
        if (mine.length === 0) continue;
        // Every version this pass times meets the CPU reference first; one that does not is not timed.
        for (const k of run.validate) {
          if (opts.cancelled?.()) {
            stoppedAt = `validating ${k.family} ${k.name}`;
            break measure;
          }
          const v = await validateVersion(rt, k, layersOf(k.family), run.profile);
          validation.push(v);
          if (!v.ok) throw new Error(`bench kernels: ${k.family} ${k.name} fails its check against the CPU reference, so it is not timed: ${v.message}`);
          log(`${k.family} ${k.name}: ${v.checks} checks against the CPU reference passed (max abs err ${v.maxAbsErr.toExponential(2)})`);
        }
        rt.setProfile(run.profile);
        for (const c of mine) {
          if (before('case', run.tag ? `${c.name} [${run.tag}]` : c.name)) break measure;
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
            const key = `${c.conv.layer} ${run.tag ?? ''}`;
            if (c.conv.kind === 'forward') {
              forwardMs.set(key, timing.medianMs);
              t = target(`GFLOP/s >= ${CONV_TARGET} x SGEMM at the same GEMM`, value / referenceValue, CONV_TARGET, 'min');
            } else {
              const f = forwardMs.get(key);
              if (f !== undefined) t = target(`time <= ${CONV_BACKWARD_TARGET} x the forward's`, timing.medianMs / f, CONV_BACKWARD_TARGET, 'max');
            }
          } else if (c.bandwidthTarget) {
            t = target(`GB/s >= ${BANDWIDTH_TARGET} x copy`, value / referenceValue, BANDWIDTH_TARGET, 'min');
          }
          const entry: VersionedKernelEntry = {
            name: run.tag ? `${c.name} [${run.tag}]` : c.name,
            ...(run.tag ? { version: run.tag } : {}),
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
            // compute-bound kernels against the adapter's peak too (the SGEMM is only a program)
            ...(c.metric === 'GFLOP/s' && limits.fmaGflops ? { fmaRatio: value / limits.fmaGflops } : {}),
            target: t,
          };
          kernels.push(entry);
          log(`${entry.name}: ${timing.medianMs.toPrecision(3)} ms, ${value.toPrecision(3)} ${c.metric} (${entry.ratio.toPrecision(3)} of ${reference}${entry.fmaRatio !== undefined ? `, ${entry.fmaRatio.toPrecision(3)} of FMA peak` : ''})`);
        }
      }
    }
    if (stoppedAt !== null) log(`stopped before ${stoppedAt}: ${kernels.length} of ${caseCount} kernels timed, reported as a partial result`);
    return {
      kind: KERNELS_KIND,
      ...resultHeader(rt, opts, describeAdapter),
      ...(stoppedAt !== null ? { partial: true as const, stoppedAt } : {}),
      method,
      config: { batch, reps: opts.reps, warmup: opts.warmup, quick: opts.quick, only, layers: layers.map(layerName), sgdParams },
      versions,
      validation,
      limits,
      gemm,
      copies,
      kernels,
    };
  } finally {
    rt.setProfile(base);
  }
}

/**
 * The versions of each family a run compared, side by side: median ms per version and each older
 * version's time over the newest's (> 1: the newest is faster), then how each was validated.
 * Empty when the run compared none.
 */
export function formatVersionComparison(r: VersionedKernelBenchResult): string {
  const blocks: string[] = [];
  for (const f of VERSION_FAMILIES) {
    const names = r.versions[f];
    const entries = r.kernels.filter((k) => k.version?.startsWith(`${f} `));
    if (names.length < 2 || entries.length === 0) continue;
    const newest = names[names.length - 1];
    const ms = (base: string, n: string) => entries.find((k) => k.name === `${base} [${f} ${n}]`)?.timing.medianMs;
    const bases = [...new Set(entries.map((k) => k.name.slice(0, k.name.lastIndexOf(' ['))))];
    const rows = bases.map((b) => [b, ...names.map((n) => fmt(ms(b, n))), ...names.slice(0, -1).map((n) => `${fmt((ms(b, n) ?? NaN) / (ms(b, newest) ?? NaN))}x`)]);
    blocks.push(`${f} versions, median ms (${names.map((n) => `${n}: ${KERNEL_VERSIONS[f].find((k) => k.name === n)?.summary ?? n}`).join('; ')})`);
    blocks.push(table([['kernel', ...names.map((n) => `${n} ms`), ...names.slice(0, -1).map((n) => `${n}/${newest}`)], ...rows]), '');
  }
  if (blocks.length && r.validation.length) {
    blocks.push(`validated against the CPU reference before timing: ${r.validation.map((v) => `${v.family} ${v.version} (${v.checks} checks, max abs err ${fmt(v.maxAbsErr)})`).join(', ')}`);
  }
  return blocks.join('\n').trimEnd();
}
