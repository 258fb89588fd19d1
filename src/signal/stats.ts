// Per-block statistics of the signal-propagation analysis, computed on the tensor's device with
// the engine's ops, and read back in chunks (a pending read makes Dawn busy-poll, so never per block).
//
// For activations x [N, C, H, W] (or [N, C]) and each channel c, with m_c the mean of x over the
// batch and pixels of channel c:
//   squared mean = mean_c m_c^2,   variance = mean_c mean_{n,h,w} (x - m_c)^2.
// Their sum is the mean of x^2, the second moment: the variance over inputs *and* random init
// (whose mean is 0) that the analysis predicts.
//
// f32 overflow is part of what is measured (an unnormalized net's variance reaches f32's maximum
// near block 128), so a statistic must overflow exactly when its value does, not earlier: x is
// scaled by 1/sqrt(M*C) (M = N*H*W values per channel) before anything is squared and summed, and
// the scale is undone by a last multiplication in f32 on the device.
//
// The reductions use batch norm's statistics kernel (Welford slices merged with Chan's formula,
// no workgroup barrier) rather than sum()/mean(): those reduce a few outputs with one tree-shaped
// workgroup each, and on a CPU adapter (SwiftShader) their barriers made the statistics of one
// [128, 128] tensor take ~300 ms; these take ~10 barrier-free dispatches.
import { fmtShape, runKernel, Tensor } from '../tensor.js';
import { mul, scale } from '../ops/elementwise.js';
import { batchNormStatsKernel } from '../ops/batchnorm.js';

/** The two statistics of one tensor, as one-element tensors on its device (not yet read). */
// A type alias, not an interface, so scope() accepts it as a plain object of tensors.
export type ChannelStatsTensors = {
  sqMean: Tensor;
  variance: Tensor;
};

/**
 * Per-channel mean and unbiased variance of x viewed as [n, c, hw] (momentum 1 makes the
 * "running" variance the batch's unbiased one; it is left at 0 when n * hw = 1).
 */
function channelMoments(x: Tensor, n: number, c: number, hw: number): { mean: Tensor; unbiasedVar: Tensor } {
  const dev = x.device;
  const [mean, rstd, runningMean, runningVar] = runKernel(batchNormStatsKernel, [x], [[c], [c], Tensor.zeros([c], dev), Tensor.zeros([c], dev)], {
    n,
    c,
    hw,
    momentum: 1,
    eps: 0,
  });
  rstd.release();
  runningMean.release();
  return { mean, unbiasedVar: runningVar };
}

/** The mean of the values of v [C]. */
function meanOf(v: Tensor): Tensor {
  return channelMoments(v, 1, 1, v.size).mean;
}

/** Channel-averaged squared mean and variance of x [N, C, ...] (see the file comment). */
export function channelStats(x: Tensor): ChannelStatsTensors {
  if (x.shape.length < 2) throw new Error(`channelStats: x has shape ${fmtShape(x.shape)}; expected [N, C] or [N, C, H, W]`);
  const [n, c] = x.shape;
  const hw = x.size / (n * c);
  const m = n * hw;
  if (c === 0 || m === 0) throw new Error(`channelStats: x ${fmtShape(x.shape)} has no values per channel`);
  const { mean, unbiasedVar } = channelMoments(scale(x, 1 / Math.sqrt(m * c)), n, c, hw);
  // unbiasedVar_c = var_c / (M C) * M / (M - 1), so mean_c var_c = C (M - 1) mean(unbiasedVar).
  const variance = scale(meanOf(unbiasedVar), c * (m - 1));
  // mean_c^2 / (M C), so mean_c (mean_c^2) = M C mean(...).
  const sqMean = scale(meanOf(mul(mean, mean)), m * c);
  return { sqMean, variance };
}

/** Statistics read back to the CPU. */
export interface ChannelStats {
  sqMean: number;
  variance: number;
}

/** Read one-element tensors in order, one small read each, after all of them were recorded. */
export async function readScalars(ts: Tensor[]): Promise<number[]> {
  const out: number[] = [];
  for (const t of ts) {
    out.push((await t.toArray())[0]);
    t.release();
  }
  return out;
}

/** Read a list of recorded statistics (and release their tensors). */
export async function readStats(list: ChannelStatsTensors[]): Promise<ChannelStats[]> {
  const v = await readScalars(list.flatMap((s) => [s.sqMean, s.variance]));
  return list.map((_, i) => ({ sqMean: v[2 * i], variance: v[2 * i + 1] }));
}
