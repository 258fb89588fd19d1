// Batch normalization over NCHW (or [N, C], seen as H = W = 1), per channel over M = N*H*W values,
// optionally fused with the ReLU that follows it in a pre-activation block: what it means, its CPU
// reference and autograd. The GPU side is src/gpu/programs/batchnorm.ts; the WGSL is
// shaders/batchnorm_stats.wgsl (training statistics, eval rstd), shaders/batchnorm.wgsl
// (normalize, + ReLU), shaders/batchnorm_backward.wgsl (per-channel reduction and dx, + ReLU mask),
// each composed after shaders/batchnorm_layout.wgsl (how they step through x).
//
//   training: mean, var over the batch (Welford + Chan, see the WGSL), rstd = 1/sqrt(var + eps);
//             running stats updated in place (running_var with the unbiased variance).
//   eval:     mean = running_mean, rstd = 1/sqrt(running_var + eps).
//   y = gamma * (x - mean) * rstd + beta, then max(y, 0) when fused with ReLU.
//   backward (Ioffe & Szegedy 2015, Alg. 1 differentiated): dbeta = sum(dy), dgamma = sum(dy * xhat),
//             dx = gamma * rstd / M * (M*dy - dbeta - xhat * dgamma) in training mode,
//             dx = gamma * rstd * dy in eval mode; with ReLU, dy is masked where y <= 0 first.
import { input, registerChecks, type Input } from '../check.js';
import {
  batchNormEvalRstdProgram,
  batchNormGradInputProgram,
  batchNormGradReduceProgram,
  batchNormNormalizeProgram,
  batchNormStatsProgram,
} from '../gpu/programs/batchnorm.js';
import { fmtShape, isGradEnabled, record, runKernel, sameDevice, Tensor, type Kernel, type Shape } from '../tensor.js';
import type { BatchNormDims, BatchNormStatsParams, BatchNormApplyParams, BatchNormGradParams } from '../gpu/programs/batchnorm.js';
export type { BatchNormDims, BatchNormStatsParams, BatchNormApplyParams, BatchNormGradParams } from '../gpu/programs/batchnorm.js';





// ---- kernels (the CPU reference beside the GPU program) -----------------------------------------

/**
 * Training statistics. Inputs: x. Outputs: mean [C], rstd [C], and running_mean [C],
 * running_var [C] updated in place (running = (1 - momentum) * running + momentum * batch, with
 * the unbiased variance for running_var; running_var is left as is when M = 1).
 */
export const batchNormStatsKernel: Kernel<BatchNormStatsParams> = {
  name: 'batchNorm.stats',
  cpu([x], [mean, rstd, runningMean, runningVar], { n, c, hw, momentum, eps }) {
    const m = n * hw;
    if (m === 0) throw new Error(`batchNorm.stats: no values per channel (N*H*W = 0)`);
    for (let ch = 0; ch < c; ch++) {
      // Two passes in float64: the exact reference the GPU's single pass is measured against.
      let s = 0;
      for (let i = 0; i < n; i++) for (let p = 0, base = (i * c + ch) * hw; p < hw; p++) s += x[base + p];
      const mu = s / m;
      let q = 0;
      for (let i = 0; i < n; i++) {
        for (let p = 0, base = (i * c + ch) * hw; p < hw; p++) {
          const d = x[base + p] - mu;
          q += d * d;
        }
      }
      mean[ch] = mu;
      rstd[ch] = 1 / Math.sqrt(q / m + eps);
      runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mu;
      if (m > 1) runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * (q / (m - 1));
    }
  },
  webgpu: batchNormStatsProgram,
};

/** Eval mode. Inputs: running_var [C]. Outputs: rstd = 1/sqrt(running_var + eps). */
export const batchNormEvalRstdKernel: Kernel<{ c: number; eps: number }> = {
  name: 'batchNorm.evalRstd',
  cpu([runningVar], [rstd], { c, eps }) {
    for (let ch = 0; ch < c; ch++) rstd[ch] = 1 / Math.sqrt(runningVar[ch] + eps);
  },
  webgpu: batchNormEvalRstdProgram,
};

/** Inputs: x, mean, rstd, gamma, beta. Output: y = gamma * (x - mean) * rstd + beta (then ReLU). */
export const batchNormNormalizeKernel: Kernel<BatchNormApplyParams> = {
  name: 'batchNorm.normalize',
  cpu([x, mean, rstd, gamma, beta], [y], { c, hw, relu }) {
    for (let i = 0; i < y.length; i++) {
      const ch = Math.floor(i / hw) % c;
      const z = (x[i] - mean[ch]) * rstd[ch] * gamma[ch] + beta[ch];
      y[i] = relu && !(z > 0) ? 0 : z;
    }
  },
  webgpu: batchNormNormalizeProgram,
};

/**
 * Backward reduction. Inputs: x, dy, mean, rstd, gamma, beta. Outputs: dgamma = sum(dy * xhat),
 * dbeta = sum(dy) per channel, dy masked by the fused ReLU (gamma * xhat + beta > 0) if relu.
 */
export const batchNormGradReduceKernel: Kernel<BatchNormApplyParams> = {
  name: 'batchNorm.gradReduce',
  cpu([x, dy, mean, rstd, gamma, beta], [dgamma, dbeta], { n, c, hw, relu }) {
    for (let ch = 0; ch < c; ch++) {
      let sDy = 0;
      let sDyXhat = 0;
      for (let i = 0; i < n; i++) {
        for (let p = 0, base = (i * c + ch) * hw; p < hw; p++) {
          const xhat = (x[base + p] - mean[ch]) * rstd[ch];
          const d = relu && !(xhat * gamma[ch] + beta[ch] > 0) ? 0 : dy[base + p];
          sDy += d;
          sDyXhat += d * xhat;
        }
      }
      dgamma[ch] = sDyXhat;
      dbeta[ch] = sDy;
    }
  },
  webgpu: batchNormGradReduceProgram,
};

/**
 * Backward elementwise. Inputs: x, dy, mean, rstd, gamma, beta, and in training mode dgamma, dbeta
 * (the sums from batchNormGradReduceKernel; eval mode has no sums). Output: dx.
 */
export const batchNormGradInputKernel: Kernel<BatchNormGradParams> = {
  name: 'batchNorm.gradInput',
  cpu([x, dy, mean, rstd, gamma, beta, dgamma, dbeta], [dx], { n, c, hw, relu, training }) {
    const m = n * hw;
    for (let i = 0; i < dx.length; i++) {
      const ch = Math.floor(i / hw) % c;
      const xhat = (x[i] - mean[ch]) * rstd[ch];
      let g = relu && !(xhat * gamma[ch] + beta[ch] > 0) ? 0 : dy[i];
      if (training) g -= (dbeta[ch] + xhat * dgamma[ch]) / m;
      dx[i] = gamma[ch] * rstd[ch] * g;
    }
  },
  webgpu: batchNormGradInputProgram,
};

// ---- the op -------------------------------------------------------------------------------------

/** Running statistics (kept tensors of shape [C], updated in place in training mode) and hyper-parameters. */
export interface BatchNormState {
  runningMean: Tensor;
  runningVar: Tensor;
  /** PyTorch convention: running = (1 - momentum) * running + momentum * batch. */
  momentum: number;
  eps: number;
}

export interface BatchNormOptions {
  /** Batch statistics (and update the running ones) if true; running statistics if false. */
  training: boolean;
  /** Fuse the ReLU that follows (pre-activation blocks): y = max(bn(x), 0). */
  relu?: boolean;
  /**
   * Training mode: the batch's mean and rstd already computed by the kernel that wrote x (the
   * bn-fused arm: src/ops/bn_fused.ts), with the running statistics updated there.
   */
  stats?: { mean: Tensor; rstd: Tensor };
}

/** Check the arguments and view x as [n, c, hw]. */
function batchNormDims(x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, opts: BatchNormOptions): BatchNormDims {
  const op = 'batchNorm';
  if (x.shape.length !== 2 && x.shape.length !== 4) {
    throw new Error(`${op}: x has shape ${fmtShape(x.shape)}; expected rank 4 ([N, C, H, W]) or rank 2 ([N, C])`);
  }
  const [n, c] = x.shape;
  const hw = x.shape.length === 4 ? x.shape[2] * x.shape[3] : 1;
  const perChannel: [string, Tensor | undefined][] = [
    ['gamma', gamma],
    ['beta', beta],
    ['state.runningMean', state?.runningMean],
    ['state.runningVar', state?.runningVar],
  ];
  for (const [name, t] of perChannel) {
    if (!(t instanceof Tensor)) throw new Error(`${op}: ${name} is missing; expected a tensor of shape [C] = [${c}]`);
    if (t.shape.length !== 1 || t.shape[0] !== c) {
      throw new Error(`${op}: ${name} has shape ${fmtShape(t.shape)}; expected [C] = [${c}] (one value per channel of x ${fmtShape(x.shape)})`);
    }
  }
  if (typeof state.momentum !== 'number' || !(state.momentum >= 0 && state.momentum <= 1)) {
    throw new Error(`${op}: state.momentum must be a number in [0, 1], got ${state.momentum}`);
  }
  if (typeof state.eps !== 'number' || !(state.eps >= 0 && Number.isFinite(state.eps))) {
    throw new Error(`${op}: state.eps must be a finite number >= 0, got ${state.eps}`);
  }
  if (typeof opts?.training !== 'boolean') throw new Error(`${op}: opts.training must be true or false, got ${opts?.training}`);
  if (opts.training && n * hw === 0) {
    throw new Error(`${op}: x ${fmtShape(x.shape)} has no values per channel (N*H*W = 0); batch statistics need at least one`);
  }
  sameDevice(op, [x, gamma, beta, state.runningMean, state.runningVar]);
  return { n, c, hw };
}

/**
 * Batch normalization of x [N, C, H, W] or [N, C], per channel over N*H*W values, optionally
 * fused with the following ReLU. Gradients flow to x, gamma and beta. In training mode the
 * running statistics in `state` are updated in place; in eval mode they are used instead of the
 * batch's. Batch size 1 normalizes over one image's pixels.
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, opts: BatchNormOptions): Tensor {
  const dims = batchNormDims(x, gamma, beta, state, opts);
  const { c } = dims;
  const relu = opts.relu === true;
  const training = opts.training;
  const { momentum, eps } = state;
  const taped = isGradEnabled() && [x, gamma, beta].some((t) => t.requiresGrad);
  let mean: Tensor;
  let rstd: Tensor;
  const saved: Tensor[] = [];
  if (training && opts.stats) {
    for (const [name, t] of [['mean', opts.stats.mean], ['rstd', opts.stats.rstd]] as const) {
      if (!(t instanceof Tensor) || t.shape.length !== 1 || t.shape[0] !== c) throw new Error(`batchNorm: opts.stats.${name} must be a tensor of shape [C] = [${c}]`);
    }
    ({ mean, rstd } = opts.stats);
  } else if (training) {
    [mean, rstd] = runKernel(batchNormStatsKernel, [x], [[c], [c], state.runningMean, state.runningVar], { ...dims, momentum, eps });
    saved.push(mean, rstd);
  } else {
    [rstd] = runKernel(batchNormEvalRstdKernel, [state.runningVar], [[c]], { c, eps });
    saved.push(rstd);
    // The tape keeps its own copy: a training step may update the running mean before backward.
    mean = taped ? state.runningMean.reshape([c]) : state.runningMean;
    if (taped) saved.push(mean);
  }
  const [y] = runKernel(batchNormNormalizeKernel, [x, mean, rstd, gamma, beta], [x.shape], { ...dims, relu });
  return record(relu ? 'batchNormRelu' : 'batchNorm', y, [x, gamma, beta], (g) => batchNormBackward(g, x, gamma, beta, mean, rstd, { ...dims, relu, training }), saved);
}

function batchNormBackward(g: Tensor, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, rstd: Tensor, p: BatchNormGradParams): (Tensor | null)[] {
  const perChannel: Shape = [p.c];
  // Training-mode dx needs the two sums; eval-mode dx does not, only dgamma and dbeta do.
  const sums = p.training || gamma.requiresGrad || beta.requiresGrad ? runKernel(batchNormGradReduceKernel, [x, g, mean, rstd, gamma, beta], [perChannel, perChannel], p) : null;
  let dx: Tensor | null = null;
  if (x.requiresGrad) {
    // Eval mode reads no sums (nothing fills their bindings).
    [dx] = runKernel(batchNormGradInputKernel, p.training ? [x, g, mean, rstd, gamma, beta, ...sums!] : [x, g, mean, rstd, gamma, beta], [x.shape], p);
  }
  const [dgamma, dbeta] = sums ?? [null, null];
  if (dgamma && !gamma.requiresGrad) dgamma.release();
  if (dbeta && !beta.requiresGrad) dbeta.release();
  return [dx, gamma.requiresGrad ? dgamma : null, beta.requiresGrad ? dbeta : null];
}

// ---- checks for `wrn check` (odd channel counts, H*W not a multiple of 4, several slices) ---------

/** Per-channel inputs for the kernels: mean, rstd (> 0), gamma, beta (0 keeps the ReLU mask exact). */
function channelInputs(c: number, seed: number, zeroBeta: boolean): Input[] {
  return [input([c], seed, -0.2, 0.2), input([c], seed + 1, 0.5, 2), input([c], seed + 2, -1.5, 1.5), zeroBeta ? { shape: [c], data: new Float32Array(c) } : input([c], seed + 3, -0.5, 0.5)];
}

// Reductions over ~8000 values per channel, f32 slices vs float64: a few 1e-6 relative.
export const REDUCE_TOL = { atol: 1e-4, rtol: 1e-4 };
export const ELEMENTWISE_TOL = { atol: 1e-5, rtol: 1e-5 }; // a handful of f32 roundings per value
registerChecks(
  {
    name: 'batchNorm.stats [8, 3, 33, 31] (scalar path, 32 slices/channel)',
    make: () => ({
      kernel: batchNormStatsKernel,
      inputs: [input([8, 3, 33, 31], 1, 2, 5)],
      outputs: [[3], [3], input([3], 2), input([3], 3, 0.5, 1.5)],
      params: { n: 8, c: 3, hw: 33 * 31, momentum: 0.1, eps: 1e-5 },
      tol: REDUCE_TOL,
    }),
  },
  {
    name: 'batchNorm.stats [4, 5, 16, 16] (vec4 path)',
    make: () => ({
      kernel: batchNormStatsKernel,
      inputs: [input([4, 5, 16, 16], 1, -3, 1)],
      outputs: [[5], [5], input([5], 2), input([5], 3, 0.5, 1.5)],
      params: { n: 4, c: 5, hw: 256, momentum: 0.1, eps: 1e-5 },
      tol: REDUCE_TOL,
    }),
  },
  {
    name: 'batchNorm.normalize+relu [2, 3, 5, 7]',
    make: () => ({
      kernel: batchNormNormalizeKernel,
      inputs: [input([2, 3, 5, 7], 1), ...channelInputs(3, 2, false)],
      outputs: [[2, 3, 5, 7]],
      params: { n: 2, c: 3, hw: 35, relu: true },
      tol: ELEMENTWISE_TOL,
    }),
  },
  {
    name: 'batchNorm.gradReduce+relu [8, 3, 33, 31]',
    make: () => ({
      kernel: batchNormGradReduceKernel,
      inputs: [input([8, 3, 33, 31], 1), input([8, 3, 33, 31], 2), ...channelInputs(3, 3, true)],
      outputs: [[3], [3]],
      params: { n: 8, c: 3, hw: 33 * 31, relu: true },
      tol: REDUCE_TOL,
    }),
  },
  {
    name: 'batchNorm.gradInput+relu [2, 5, 4, 4]',
    make: () => ({
      kernel: batchNormGradInputKernel,
      inputs: [input([2, 5, 4, 4], 1), input([2, 5, 4, 4], 2), ...channelInputs(5, 3, true), input([5], 7), input([5], 8)],
      outputs: [[2, 5, 4, 4]],
      params: { n: 2, c: 5, hw: 16, relu: true, training: true },
      tol: ELEMENTWISE_TOL,
    }),
  },
  {
    name: 'batchNorm.gradInput eval+relu [2, 5, 4, 4] (no sums bound)',
    make: () => ({
      kernel: batchNormGradInputKernel,
      inputs: [input([2, 5, 4, 4], 1), input([2, 5, 4, 4], 2), ...channelInputs(5, 3, true)],
      outputs: [[2, 5, 4, 4]],
      params: { n: 2, c: 5, hw: 16, relu: true, training: false },
      tol: ELEMENTWISE_TOL,
    }),
  },
);
