// Batch norm fused into the convolutions, as cuDNN's fused ops for ResNet training do (the
// bn-fused arm of the BN cost study): what each fused kernel means, its CPU reference (the unfused
// kernels composed: conv then BN, BN then conv) and autograd. The GPU side is
// src/gpu/programs/conv2d.ts (fusedConvForward, fusedConvBackwardInput, fusedConvBackwardFilter:
// the tiled GEMMs with the hooks shaders/conv2d_input_bn_relu.wgsl, conv2d_epilogue_stats.wgsl,
// conv2d_epilogue_bn_grad.wgsl) and src/gpu/programs/batchnorm.ts (batchNormAddStatsProgram:
// shaders/batchnorm_add_stats.wgsl; the merges).
//
//   forward   conv with its input ReLU(BN(x)) applied while gathering (the normalized activation
//             is never written), and with the next BN's statistics from its epilogue (the output
//             is not read back for them); the residual add likewise yields the next BN's statistics.
//   backward  the input gradient's epilogue sums the BN backward's sum(dz), sum(dz * xhat) (so
//             the BN backward's reduction pass is gone); dx is then batchNorm.gradInput; the filter
//             gradient recomputes ReLU(BN(x)) while gathering.
// BN's backward is linear in dL/dh, so where h = ReLU(BN(x)) feeds two convolutions (a block's
// conv1 and its projection) each does its own part and the tape adds the two dx (and dgamma,
// dbeta): exact, at the cost of one more elementwise pass.
import { input, registerChecks, type Input } from '../check.js';
import { batchNormAddStatsProgram, batchNormGradMergeProgram, batchNormMergeProgram } from '../gpu/programs/batchnorm.js';
import { fusedConvBackwardFilter, fusedConvBackwardInput, fusedConvForward, type BnConstants, type ConvGeometry } from '../gpu/programs/conv2d.js';
import type { GpuBuf } from '../gpu/runtime.js';
import { fmtShape, isGradEnabled, record, runKernel, sameDevice, Tensor, type CpuArray, type Kernel, type Shape } from '../tensor.js';
import { batchNormEvalRstdKernel, batchNormGradInputKernel, batchNormGradReduceKernel, batchNormNormalizeKernel, batchNormStatsKernel, REDUCE_TOL, type BatchNormState } from './batchnorm.js';
import { conv2dBackwardFilterKernel, conv2dBackwardInputKernel, conv2dForwardKernel, CONV_TOL, convGeometry, type Conv2dParams } from './conv2d.js';
import { expectRank } from './shapes.js';

// ---- kernels (the CPU reference beside the GPU program) -----------------------------------------

export interface BnConvParams extends Conv2dParams {
  /** The input is ReLU(BN(x)) with the BN's constants as inputs 3-6 (mean, rstd, gamma, beta). */
  bnInput: boolean;
  /** Outputs 2-5: the output's BN statistics (mean, rstd) and its running statistics updated in place. */
  stats: { momentum: number; eps: number } | null;
}


/** ReLU(BN(x)) on the CPU: the normalize kernel's reference. */
function bnReluCpu(x: CpuArray, [mean, rstd, gamma, beta]: CpuArray[], shape: Shape): CpuArray {
  const h = new (x.constructor as new (n: number) => CpuArray)(x.length); // float64 under gradCheck
  batchNormNormalizeKernel.cpu([x, mean, rstd, gamma, beta], [h], { n: shape[0], c: shape[1], hw: shape[2] * shape[3], relu: true }, []);
  return h;
}

/** A BN's constants, inputs mean, rstd, gamma, beta of a fused kernel, for its GPU program. */
const bnBuffers = ([mean, rstd, gamma, beta]: GpuBuf[]): BnConstants => ({ mean, rstd, gamma, beta });

/**
 * y = conv(x or ReLU(BN(x)), w), and optionally y's BN statistics. Inputs [x, w] (+ mean, rstd,
 * gamma, beta of the input's BN); outputs [y] (+ mean, rstd, running_mean, running_var of y's BN).
 */
export const bnConvForwardKernel: Kernel<BnConvParams> = {
  name: 'conv2d.forward+bn',
  cpu(inputs, outputs, p, shapes) {
    const [x, w, ...bn] = inputs;
    const h = p.bnInput ? bnReluCpu(x, bn, shapes[0]) : x;
    const yShape = shapes[inputs.length];
    conv2dForwardKernel.cpu([h, w], [outputs[0]], p, [shapes[0], shapes[1], yShape]);
    if (p.stats) batchNormStatsKernel.cpu([outputs[0]], outputs.slice(1), { n: yShape[0], c: yShape[1], hw: yShape[2] * yShape[3], ...p.stats }, []);
  },
  webgpu(inputs, outputs, p, shapes) {
    const [x, weight, ...bn] = inputs;
    const g = convGeometry(shapes[0], shapes[1], p);
    const partials = fusedConvForward(g, { x, weight, y: outputs[0] }, p.bnInput ? bnBuffers(bn) : null, !!p.stats);
    if (p.stats && partials) batchNormMergeProgram(partials.part, partials.slots, outputs.slice(1), { n: g.batch, c: g.cout, hw: g.ho * g.wo, ...p.stats });
  },
};

/**
 * The input gradient of conv(ReLU(BN(x)), w) up to h: dL/dh, and the BN backward's per-channel
 * sums. Inputs [dy, w, x, mean, rstd, gamma, beta]; outputs [dL/dh (x's shape), sum(dz * xhat) (=
 * dgamma), sum(dz) (= dbeta)] with dz = dL/dh masked by the ReLU.
 */
export const bnConvBackwardInputKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_input+bn',
  cpu([dy, w, x, ...bn], [gh, dgamma, dbeta], p, shapes) {
    const xShape = shapes[2];
    conv2dBackwardInputKernel.cpu([dy, w], [gh], p, [shapes[0], shapes[1], xShape]);
    batchNormGradReduceKernel.cpu([x, gh, ...bn], [dgamma, dbeta], { n: xShape[0], c: xShape[1], hw: xShape[2] * xShape[3], relu: true }, []);
  },
  webgpu([dy, weight, x, ...bn], [gh, dgamma, dbeta], p, shapes) {
    const g = convGeometry(shapes[2], shapes[1], p);
    const { part, slots } = fusedConvBackwardInput(g, { dy, weight, dx: gh }, { ...bnBuffers(bn), x });
    batchNormGradMergeProgram(part, slots, [dgamma, dbeta], { n: g.batch, c: g.cin, hw: g.h * g.w });
  },
};

/** The filter gradient of conv(ReLU(BN(x)), w). Inputs [x, dy, mean, rstd, gamma, beta]; output dw. */
export const bnConvBackwardFilterKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_filter+bn',
  cpu([x, dy, ...bn], [dw], p, shapes) {
    conv2dBackwardFilterKernel.cpu([bnReluCpu(x, bn, shapes[0]), dy], [dw], p, [shapes[0], shapes[1], shapes[shapes.length - 1]]);
  },
  webgpu([x, dy, ...bn], [dw], p, shapes) {
    fusedConvBackwardFilter(convGeometry(shapes[0], shapes[shapes.length - 1], p), { x, dy, dw }, bnBuffers(bn));
  },
};

/** out = a + b and out's BN statistics. Inputs [a, b]; outputs [out, mean, rstd, running_mean, running_var]. */
export const addBnStatsKernel: Kernel<{ momentum: number; eps: number }> = {
  name: 'batchNorm.addStats',
  cpu([a, b], [out, ...stats], p, shapes) {
    for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
    const s = shapes[0];
    batchNormStatsKernel.cpu([out], stats, { n: s[0], c: s[1], hw: s[2] * s[3], ...p }, []);
  },
  webgpu(inputs, outputs, p, shapes) {
    const s = shapes[0];
    batchNormAddStatsProgram(inputs, outputs, { n: s[0], c: s[1], hw: s[2] * s[3], ...p });
  },
};

// ---- ops ----------------------------------------------------------------------------------------

/** A BN (then ReLU) that its consumer applies while reading: its affine parameters and the statistics it normalizes with. */
export interface BnActivation {
  gamma: Tensor;
  beta: Tensor;
  /** The batch's statistics (training) or the running mean and 1/sqrt(running_var + eps) (eval). */
  mean: Tensor;
  rstd: Tensor;
  /** Batch statistics: dx then has the closed form's mean terms (batchNorm.gradInput's training mode). */
  training: boolean;
}

/** The statistics of a BN input, produced by the kernel that wrote it. */
export interface BnStats {
  mean: Tensor;
  rstd: Tensor;
}

/**
 * The statistics a BN normalizes with when its producer did not compute them: in eval mode the
 * running ones (a copy of the mean where a tape keeps it: a training step may update it first).
 */
export function runningStats(state: BatchNormState): BnStats {
  const c = state.runningVar.shape[0];
  const [rstd] = runKernel(batchNormEvalRstdKernel, [state.runningVar], [[c]], { c, eps: state.eps });
  return { mean: isGradEnabled() ? state.runningMean.reshape([c]) : state.runningMean, rstd };
}

function checkBn(op: string, x: Tensor, bn: BnActivation): void {
  const c = x.shape[1];
  for (const [name, t] of [['gamma', bn.gamma], ['beta', bn.beta], ['mean', bn.mean], ['rstd', bn.rstd]] as const) {
    if (!(t instanceof Tensor) || t.shape.length !== 1 || t.shape[0] !== c) {
      throw new Error(`${op}: bn.${name} ${t instanceof Tensor ? fmtShape(t.shape) : 'is missing'}; expected [C] = [${c}] for x ${fmtShape(x.shape)}`);
    }
  }
}

function checkState(op: string, c: number, state: BatchNormState): void {
  for (const [name, t] of [['runningMean', state.runningMean], ['runningVar', state.runningVar]] as const) {
    if (!(t instanceof Tensor) || t.shape.length !== 1 || t.shape[0] !== c) throw new Error(`${op}: statsFor.${name} must be [C] = [${c}]`);
  }
}

/**
 * conv2d(ReLU(BN(x)), w) with the BN applied while the convolution reads x (bn), or conv2d(x, w)
 * (bn null); with `statsFor`, also the batch statistics of the output for that BN (its running
 * statistics updated in place). Zero padding is applied after the BN, as in the unfused model.
 * Gradients flow to x, w and the BN's gamma and beta.
 */
export function bnReluConv2d(x: Tensor, bn: BnActivation | null, w: Tensor, opts: Conv2dParams, statsFor?: BatchNormState): { y: Tensor; stats: BnStats | null } {
  const op = 'bnReluConv2d';
  expectRank(op, 'x', x, 4, '[N, Cin, H, W]');
  expectRank(op, 'weight', w, 4, '[Cout, Cin, KH, KW]');
  if (x.shape[1] !== w.shape[1]) throw new Error(`${op}: x ${fmtShape(x.shape)} has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${w.shape[1]}`);
  if (bn) checkBn(op, x, bn);
  sameDevice(op, bn ? [x, w, bn.gamma, bn.beta, bn.mean, bn.rstd] : [x, w]);
  const g = convGeometry(x.shape, w.shape, opts);
  if (g.ho < 1 || g.wo < 1) throw new Error(`${op}: a ${g.kh}x${g.kw} kernel with stride ${g.stride} and pad ${g.pad} does not fit x ${fmtShape(x.shape)}`);
  if (statsFor) checkState(op, g.cout, statsFor);
  const p: BnConvParams = { stride: opts.stride, pad: opts.pad, bnInput: !!bn, stats: statsFor ? { momentum: statsFor.momentum, eps: statsFor.eps } : null };
  const statOutputs = statsFor ? [[g.cout], [g.cout], statsFor.runningMean, statsFor.runningVar] : [];
  const [y, mean, rstd] = runKernel(bnConvForwardKernel, bn ? [x, w, bn.mean, bn.rstd, bn.gamma, bn.beta] : [x, w], [[g.batch, g.cout, g.ho, g.wo], ...statOutputs], p);
  const conv = { stride: opts.stride, pad: opts.pad };
  const out = bn
    ? record('bnReluConv2d', y, [x, w, bn.gamma, bn.beta], (dy) => bnReluConvBackward(dy, x, w, bn, conv))
    : record('conv2d', y, [x, w], (dy) => [
        x.requiresGrad ? runKernel(conv2dBackwardInputKernel, [dy, w], [x.shape], conv)[0] : null,
        w.requiresGrad ? runKernel(conv2dBackwardFilterKernel, [x, dy], [w.shape], conv)[0] : null,
      ]);
  return { y: out, stats: statsFor ? { mean, rstd } : null };
}

function bnReluConvBackward(dy: Tensor, x: Tensor, w: Tensor, bn: BnActivation, conv: Conv2dParams): (Tensor | null)[] {
  const constants = [bn.mean, bn.rstd, bn.gamma, bn.beta];
  const c = x.shape[1];
  const dw = w.requiresGrad ? runKernel(bnConvBackwardFilterKernel, [x, dy, ...constants], [w.shape], conv)[0] : null;
  if (!x.requiresGrad && !bn.gamma.requiresGrad && !bn.beta.requiresGrad) return [null, dw, null, null];
  const [gh, dgamma, dbeta] = runKernel(bnConvBackwardInputKernel, [dy, w, x, ...constants], [x.shape, [c], [c]], conv);
  const [n, , hh, ww] = x.shape;
  const dx = x.requiresGrad
    ? runKernel(batchNormGradInputKernel, bn.training ? [x, gh, ...constants, dgamma, dbeta] : [x, gh, ...constants], [x.shape], { n, c, hw: hh * ww, relu: true, training: bn.training })[0]
    : null;
  gh.release();
  if (!bn.gamma.requiresGrad) dgamma.release();
  if (!bn.beta.requiresGrad) dbeta.release();
  return [dx, dw, bn.gamma.requiresGrad ? dgamma : null, bn.beta.requiresGrad ? dbeta : null];
}

/** out = a + b (the residual join) with the batch statistics of the BN that reads out (its running statistics updated in place). */
export function addBnStats(a: Tensor, b: Tensor, statsFor: BatchNormState): { out: Tensor; stats: BnStats } {
  const op = 'addBnStats';
  expectRank(op, 'a', a, 4, '[N, C, H, W]');
  if (b.shape.length !== 4 || b.shape.some((d, i) => d !== a.shape[i])) throw new Error(`${op}: b ${fmtShape(b.shape)} must match a ${fmtShape(a.shape)}`);
  sameDevice(op, [a, b]);
  checkState(op, a.shape[1], statsFor);
  const c = a.shape[1];
  const [out, mean, rstd] = runKernel(addBnStatsKernel, [a, b], [a.shape, [c], [c], statsFor.runningMean, statsFor.runningVar], { momentum: statsFor.momentum, eps: statsFor.eps });
  return { out: record('addBnStats', out, [a, b], (g) => [a.requiresGrad ? g.reshape(g.shape) : null, b.requiresGrad ? g.reshape(g.shape) : null]), stats: { mean, rstd } };
}

// ---- checks for `wrn check` and the browser page: each fused kernel against conv-then-BN on the CPU

/** A BN's constants for the checks: mean, rstd (> 0), gamma, beta (0: keeps the ReLU masks exact). */
function bnConstants(c: number, seed: number): Input[] {
  return [input([c], seed, -0.3, 0.3), input([c], seed + 1, 0.5, 2), input([c], seed + 2, -1.5, 1.5), { shape: [c], data: new Float32Array(c) }];
}
const STATS = { momentum: 0.1, eps: 1e-5 };
// The convolutions' tolerance (dot products of up to 63 terms, f32 against f64) and the
// reductions' (the statistics and sums of those outputs): both 1e-4.
const FUSED_TOL = { atol: Math.max(CONV_TOL.atol, REDUCE_TOL.atol), rtol: Math.max(CONV_TOL.rtol, REDUCE_TOL.rtol) };
/** The running statistics updated in place: inputs-as-outputs. */
const running = (c: number, seed: number): Input[] => [input([c], seed), input([c], seed + 1, 0.5, 1.5)];
// Awkward shapes: N = 1, odd channel counts, a stride-2 layer (a GEMM that is not a multiple of
// any tile), H = W = 1, and one 3x3 layer of 40 channels (the 64-row tile with rows to spare).
const FUSED_SHAPES = [
  { name: 'N=2 Cin=5 7x9 -> Cout=6 3x3 s1 p1', x: [2, 5, 7, 9], w: [6, 5, 3, 3], p: { stride: 1, pad: 1 } },
  { name: 'N=1 Cin=3 9x7 -> Cout=40 3x3 s2 p1', x: [1, 3, 9, 7], w: [40, 3, 3, 3], p: { stride: 2, pad: 1 } },
  { name: 'N=3 Cin=7 1x1 -> Cout=5 1x1 s1 p0', x: [3, 7, 1, 1], w: [5, 7, 1, 1], p: { stride: 1, pad: 0 } },
  { name: 'N=2 Cin=4 6x6 -> Cout=9 1x1 s2 p0', x: [2, 4, 6, 6], w: [9, 4, 1, 1], p: { stride: 2, pad: 0 } },
];
export const FUSED_CHECKS = FUSED_SHAPES.flatMap(({ name, x, w, p }) => {
  const g = convGeometry(x, w, p);
  const y = [g.batch, g.cout, g.ho, g.wo];
  return [
    {
      name: `conv2d.forward+bn: bn-relu in, stats out (${name})`,
      make: () => ({
        kernel: bnConvForwardKernel,
        inputs: [input(x, 1), input(w, 2), ...bnConstants(g.cin, 3)],
        outputs: [y, [g.cout], [g.cout], ...running(g.cout, 7)],
        params: { ...p, bnInput: true, stats: STATS },
        tol: FUSED_TOL,
      }),
    },
    {
      name: `conv2d.forward+bn: stats out only (${name})`,
      make: () => ({
        kernel: bnConvForwardKernel,
        inputs: [input(x, 1, 2, 5), input(w, 2)],
        outputs: [y, [g.cout], [g.cout], ...running(g.cout, 7)],
        params: { ...p, bnInput: false, stats: STATS },
        tol: FUSED_TOL,
      }),
    },
    {
      name: `conv2d.forward+bn: bn-relu in only (${name})`,
      make: () => ({ kernel: bnConvForwardKernel, inputs: [input(x, 1), input(w, 2), ...bnConstants(g.cin, 3)], outputs: [y], params: { ...p, bnInput: true, stats: null }, tol: FUSED_TOL }),
    },
    {
      name: `conv2d.backward_input+bn: sums in the epilogue (${name})`,
      make: () => ({ kernel: bnConvBackwardInputKernel, inputs: [input(y, 4), input(w, 2), input(x, 1), ...bnConstants(g.cin, 3)], outputs: [x, [g.cin], [g.cin]], params: p, tol: FUSED_TOL }),
    },
    {
      name: `conv2d.backward_filter+bn: bn-relu in (${name})`,
      make: () => ({ kernel: bnConvBackwardFilterKernel, inputs: [input(x, 1), input(y, 4), ...bnConstants(g.cin, 3)], outputs: [w], params: p, tol: FUSED_TOL }),
    },
  ];
});
registerChecks(...FUSED_CHECKS, {
  name: 'batchNorm.addStats [3, 5, 7, 9]',
  make: () => ({ kernel: addBnStatsKernel, inputs: [input([3, 5, 7, 9], 1, 1, 3), input([3, 5, 7, 9], 2)], outputs: [[3, 5, 7, 9], [5], [5], ...running(5, 3)], params: STATS, tol: FUSED_TOL }),
});
