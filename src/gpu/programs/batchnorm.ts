// The GPU side of batch normalization (what it means, its CPU reference and autograd:
// src/ops/batchnorm.ts). Each kernel is composed from shaders/batchnorm_layout.wgsl (how the
// kernels step through x viewed as [N, C, HW]) and its own file: batchnorm_stats.wgsl (training
// statistics, eval rstd), batchnorm.wgsl (normalize, + ReLU), batchnorm_backward.wgsl (the
// per-channel reduction and dx, + ReLU mask). How a channel is cut into slices and how many vec4s
// an invocation handles come from the runtime's tuning profile (src/gpu/profile.ts).
import batchnormWgsl from '../../../shaders/batchnorm.wgsl';
import backwardWgsl from '../../../shaders/batchnorm_backward.wgsl';
import dxEvalWgsl from '../../../shaders/batchnorm_dx_eval.wgsl';
import dxTrainWgsl from '../../../shaders/batchnorm_dx_train.wgsl';
import layoutWgsl from '../../../shaders/batchnorm_layout.wgsl';
import statsWgsl from '../../../shaders/batchnorm_stats.wgsl';
import addStatsWgsl from '../../../shaders/batchnorm_add_stats.wgsl';
import { gpu } from '../current.js';
import { cost, f32, type DispatchCost } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile, type WgslFile } from '../wgsl.js';

/** x viewed as [n, c, hw]. */
export interface BatchNormDims {
  n: number;
  c: number;
  hw: number;
}

export interface BatchNormStatsParams extends BatchNormDims {
  momentum: number;
  eps: number;
}

export interface BatchNormApplyParams extends BatchNormDims {
  /** ReLU fused after the normalization (forward), or its mask folded into the gradient (backward). */
  relu: boolean;
}

export interface BatchNormGradParams extends BatchNormApplyParams {
  /** Training mode: mean and rstd depend on x (the full closed form); eval: they are constants. */
  training: boolean;
}

const layout = wgslFile('shaders/batchnorm_layout.wgsl', layoutWgsl);
const withLayout = (file: WgslFile, name: string, entry: string, bindings: KernelSpec['bindings'], more: WgslFile[] = []): KernelSpec => ({
  name,
  category: 'bn',
  ...composeWgsl(file, { includes: [layout, ...more] }),
  entry,
  bindings,
});
const statsFile = wgslFile('shaders/batchnorm_stats.wgsl', statsWgsl);
const stats = (entry: string, bindings: KernelSpec['bindings']) => withLayout(statsFile, `batchnorm_stats.${entry}`, entry, bindings);
const STATS_PARTIALS = stats('partials', { x: 'read', part: 'read_write', params: 'uniform' });
const STATS_PARTIALS_VEC4 = stats('partials_vec4', { x: 'read', part: 'read_write', params: 'uniform' });
const STATS_MERGE = stats('merge', { part: 'read_write', mean: 'read_write', rstd: 'read_write', running_mean: 'read_write', running_var: 'read_write', params: 'uniform' });
const ADD_STATS = withLayout(wgslFile('shaders/batchnorm_add_stats.wgsl', addStatsWgsl), 'batchnorm_add_stats', 'main', { a: 'read', b: 'read', out: 'read_write', part: 'read_write', params: 'uniform' });
const EVAL_RSTD = stats('eval_rstd', { var_in: 'read', rstd: 'read_write', params: 'uniform' });
const NORMALIZE = withLayout(wgslFile('shaders/batchnorm.wgsl', batchnormWgsl), 'batchnorm.normalize', 'main', {
  x: 'read',
  mean: 'read',
  rstd: 'read',
  gamma: 'read',
  beta: 'read',
  y: 'read_write',
  params: 'uniform',
});
const backwardFile = wgslFile('shaders/batchnorm_backward.wgsl', backwardWgsl);
// dx in training or eval mode (the sums, or none), composed in; the reductions never read the sums.
const DX_TRAIN = wgslFile('shaders/batchnorm_dx_train.wgsl', dxTrainWgsl);
const DX_EVAL = wgslFile('shaders/batchnorm_dx_eval.wgsl', dxEvalWgsl);
const bwd = (entry: string, bindings: KernelSpec['bindings'], name = entry, dx = DX_TRAIN) => withLayout(backwardFile, `batchnorm_backward.${name}`, entry, bindings, [dx]);
const PER_CHANNEL_IN = { x: 'read', dy: 'read', mean: 'read', rstd: 'read', gamma: 'read', beta: 'read' } as const;
const GRAD_PARTIALS = bwd('reduce_partials', { ...PER_CHANNEL_IN, part: 'read_write', params: 'uniform' });
const GRAD_PARTIALS_VEC4 = bwd('reduce_partials_vec4', { ...PER_CHANNEL_IN, part: 'read_write', params: 'uniform' });
const GRAD_MERGE = bwd('reduce_merge', { part: 'read_write', dgamma: 'read_write', dbeta: 'read_write', params: 'uniform' });
const GRAD_X = bwd('grad_x', { ...PER_CHANNEL_IN, sum_dy_xhat: 'read', sum_dy: 'read', dx: 'read_write', params: 'uniform' });
const GRAD_X_EVAL = bwd('grad_x', { ...PER_CHANNEL_IN, dx: 'read_write', params: 'uniform' }, 'grad_x_eval', DX_EVAL);

/**
 * How a channel's values are cut into slices for the reductions: each invocation walks one slice
 * of a channel serially (no barriers), about valuesPerSlice values (vec4s of them when H*W % 4 == 0,
 * a vec4 then never straddles two channels), at most maxSlices per channel.
 */
function slicing(n: number, hw: number): { aligned: boolean; unitHw: number; units: number; slices: number } {
  const { valuesPerSlice, maxSlices } = gpu().profile.batchnorm;
  const aligned = hw % 4 === 0;
  const unitHw = aligned ? hw / 4 : hw;
  const units = n * unitHw;
  const perSlice = aligned ? valuesPerSlice / 4 : valuesPerSlice;
  const slices = Math.max(1, Math.min(maxSlices, Math.ceil(units / perSlice)));
  return { aligned, unitHw, units, slices };
}

/**
 * vec4s per invocation in the elementwise kernels (normalize, grad_x): the largest of 8 and 4 that
 * the profile allows and whose span never leaves a channel (H*W % 32 == 0, H*W % 16 == 0), else 1.
 */
function vec4Span(hw: number): number {
  const { maxSpan } = gpu().profile.batchnorm;
  return [8, 4].find((s) => s <= maxSpan && hw % (4 * s) === 0) ?? 1;
}

const dimsLabel = ({ n, c, hw }: BatchNormDims) => `[N=${n}, C=${c}, HW=${hw}]`;

// The costs by the formulas (m = N*H*W values per channel, `vectors` per-channel f32 vectors read):
// statistics 3 flops a value (sum; square and sum), a Chan merge 8 a slice and 11 a channel
// (rstd, running mean and unbiased running variance); normalize (x - mean) * rstd * gamma + beta,
// 4 a value; the gradient sums xhat (2), dy * xhat and its sum (2), sum dy (1); dx from them 6 a
// value (training: xhat, then gamma * rstd * (dy - sum_dy / m - xhat * sum_dy_xhat / m)) or 1
// (eval: dy * gamma * rstd); a fused ReLU recomputes y = gamma * xhat + beta and selects, 3 more
// where xhat is at hand (eval: 5, xhat included).
const elementwiseCost = ({ n, c, hw }: BatchNormDims, tensorsRead: number, vectors: number, written: number, flopsPerValue: number): DispatchCost =>
  cost(f32(tensorsRead * n * c * hw + vectors * c), f32(written), flopsPerValue * n * c * hw);
const RELU_FLOPS = 3;

/** Training statistics: per-channel slices (Welford), then their merge (Chan) with the running statistics. */
export function batchNormStatsProgram([x]: GpuBuf[], [mean, rstd, runningMean, runningVar]: GpuBuf[], p: BatchNormStatsParams): void {
  const { n, c, hw } = p;
  if (c === 0) return;
  const s = slicing(n, hw);
  if (s.units === 0) throw new Error(`batchNorm.stats: no values per channel (N*H*W = 0)`);
  const rt = gpu();
  const part = rt.alloc(16 * c * s.slices);
  rt.dispatchItems(s.aligned ? STATS_PARTIALS_VEC4 : STATS_PARTIALS, { x, part }, { c, hw: s.unitHw, m: s.units, slices: s.slices }, c * s.slices, {
    label: `${dimsLabel(p)} ${s.slices} slices/channel`,
    cost: elementwiseCost(p, 1, 0, 4 * c * s.slices, 3),
  });
  batchNormMergeProgram(part, s.slices, [mean, rstd, runningMean, runningVar], p);
}

/**
 * Merge `slices` partial statistics (count, mean, M2, shift) per channel, from any producer
 * (these slices, a convolution's stats epilogue, the residual add), into mean, rstd and the
 * running statistics; releases `part`.
 */
export function batchNormMergeProgram(part: GpuBuf, slices: number, [mean, rstd, runningMean, runningVar]: GpuBuf[], p: BatchNormStatsParams): void {
  const { c, momentum, eps } = p;
  const rt = gpu();
  rt.dispatchItems(STATS_MERGE, { part, mean, rstd, running_mean: runningMean, running_var: runningVar }, { c, slices, momentum, eps }, c, {
    label: `${dimsLabel(p)} ${slices} partials/channel`,
    cost: cost(f32(4 * c * slices + 2 * c), f32(4 * c), 8 * c * slices + 11 * c),
  });
  rt.release(part);
}

/** out = a + b with out's training statistics: the add's slices (Welford on the way), then the merge. */
export function batchNormAddStatsProgram([a, b]: GpuBuf[], [out, mean, rstd, runningMean, runningVar]: GpuBuf[], p: BatchNormStatsParams): void {
  const { n, c, hw } = p;
  if (c === 0) return;
  const rt = gpu();
  const { valuesPerSlice, maxSlices } = rt.profile.batchnorm;
  const m = n * hw;
  if (m === 0) throw new Error(`batchNorm.addStats: no values per channel (N*H*W = 0)`);
  const slices = Math.max(1, Math.min(maxSlices, Math.ceil(m / valuesPerSlice)));
  const part = rt.alloc(16 * c * slices);
  // Per value: the add (1) and the statistics (3).
  rt.dispatchItems(ADD_STATS, { a, b, out, part }, { c, hw, m, slices }, c * slices, {
    label: `${dimsLabel(p)} ${slices} slices/channel`,
    cost: cost(f32(2 * n * c * hw), f32(n * c * hw + 4 * c * slices), 4 * n * c * hw),
  });
  batchNormMergeProgram(part, slices, [mean, rstd, runningMean, runningVar], p);
}

/** Eval mode: rstd = 1/sqrt(running_var + eps), one invocation per channel. */
export function batchNormEvalRstdProgram([runningVar]: GpuBuf[], [rstd]: GpuBuf[], { c, eps }: { c: number; eps: number }): void {
  gpu().dispatchItems(EVAL_RSTD, { var_in: runningVar, rstd }, { c, eps }, c, { label: `C=${c}`, cost: cost(f32(c), f32(c), 2 * c) });
}

/** y = gamma * (x - mean) * rstd + beta (then ReLU), a span of vec4s of one channel per invocation. */
export function batchNormNormalizeProgram([x, mean, rstd, gamma, beta]: GpuBuf[], [y]: GpuBuf[], p: BatchNormApplyParams): void {
  const { n, c, hw, relu } = p;
  const n4 = Math.ceil((n * c * hw) / 4);
  const span = vec4Span(hw);
  gpu().dispatchItems(NORMALIZE, { x, mean, rstd, gamma, beta, y }, { n4, c, hw }, n4 / span, {
    constants: { RELU: relu ? 1 : 0, ALIGNED: hw % 4 === 0 ? 1 : 0, SPAN: span },
    label: `${dimsLabel(p)}${relu ? ' +relu' : ''}`,
    cost: elementwiseCost(p, 1, 4, n * c * hw, relu ? 5 : 4), // max(y, 0): 1 more
  });
}

/** dgamma = sum(dy * xhat), dbeta = sum(dy) per channel (dy masked by the fused ReLU): slices, then their sum. */
export function batchNormGradReduceProgram([x, dy, mean, rstd, gamma, beta]: GpuBuf[], [dgamma, dbeta]: GpuBuf[], p: BatchNormApplyParams): void {
  const { n, c, hw, relu } = p;
  if (c === 0) return;
  const s = slicing(n, hw);
  const rt = gpu();
  const part = rt.alloc(8 * c * s.slices);
  const label = `${dimsLabel(p)} ${s.slices} slices/channel${relu ? ' +relu' : ''}`;
  rt.dispatchItems(s.aligned ? GRAD_PARTIALS_VEC4 : GRAD_PARTIALS, { x, dy, mean, rstd, gamma, beta, part }, { c, hw: s.unitHw, m: s.units, slices: s.slices }, c * s.slices, {
    constants: { RELU: relu ? 1 : 0 },
    label,
    cost: elementwiseCost(p, 2, 4, 2 * c * s.slices, 5 + (relu ? RELU_FLOPS : 0)),
  });
  batchNormGradMergeProgram(part, s.slices, [dgamma, dbeta], p);
}

/** dgamma, dbeta = the sums of `slices` partials (sum dy, sum dy * xhat) per channel, from any producer; releases `part`. */
export function batchNormGradMergeProgram(part: GpuBuf, slices: number, [dgamma, dbeta]: GpuBuf[], p: BatchNormDims): void {
  const { c } = p;
  const rt = gpu();
  rt.dispatchItems(GRAD_MERGE, { part, dgamma, dbeta }, { c, slices }, c, { label: `${dimsLabel(p)} ${slices} partials/channel`, cost: cost(f32(2 * c * slices), f32(2 * c), 2 * c * slices) });
  rt.release(part);
}

/** dx from the sums (training: inputs 7 and 8) or without them (eval), a span of vec4s of one channel per invocation. */
export function batchNormGradInputProgram([x, dy, mean, rstd, gamma, beta, dgamma, dbeta]: GpuBuf[], [dx]: GpuBuf[], p: BatchNormGradParams): void {
  const { n, c, hw, relu, training } = p;
  if (training && (!dgamma || !dbeta)) throw new Error('batchNorm.gradInput: training mode needs the sums dgamma and dbeta as inputs 7 and 8');
  const n4 = Math.ceil((n * c * hw) / 4);
  const span = vec4Span(hw);
  const perChannel = { x, dy, mean, rstd, gamma, beta, dx };
  gpu().dispatchItems(training ? GRAD_X : GRAD_X_EVAL, training ? { ...perChannel, sum_dy_xhat: dgamma, sum_dy: dbeta } : perChannel, { c, hw, n4, inv_m: n * hw > 0 ? 1 / (n * hw) : 0 }, n4 / span, {
    constants: { RELU: relu ? 1 : 0, ALIGNED: hw % 4 === 0 ? 1 : 0, SPAN: span },
    label: `${dimsLabel(p)}${relu ? ' +relu' : ''}${training ? '' : ' eval'}`,
    cost: elementwiseCost(p, 2, training ? 6 : 4, n * c * hw, (training ? 6 : 1) + (relu ? (training ? RELU_FLOPS : 5) : 0)),
  });
}
