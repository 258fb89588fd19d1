// `wrn bench bn-dispatches`: times each dispatch of batch norm's forward and backward (statistics
// partials and merge, normalize, gradient partials and merge, dx) and a ReLU, in units of a copy of
// the same tensor measured in the same profile (a copy moves 8 bytes per value), at WRN stage
// shapes. This is how the BN kernels were tuned: it shows which pass costs the time, where
// `wrn bench kernels` gives only each op's total.
//
// GPU timestamps, median of 5 profiles. Units: time over the copy's time; the minimal bytes per
// value are 4 (statistics partials: read x), 12 (normalize: read x, write y; also the fused ReLU),
// 8 (gradient partials: read x, dy), 12 (dx: read x, dy, write dx).
import { runKernel, Tensor } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { batchNormGradInputKernel, batchNormGradReduceKernel, batchNormNormalizeKernel, batchNormStatsKernel } from '../ops/batchnorm.js';
import { reluForwardKernel } from '../ops/elementwise.js';
import { rand } from '../check.js';
import { recordCopy } from './harness.js';

/** The columns after the copy: one per dispatch, in recording order. */
export const BN_DISPATCH_NAMES = ['stats', 'merge', 'normalize+relu', 'grad-partials', 'grad-merge', 'dx+relu', 'relu'];

/** WRN stage shapes as [C, H] (H = W): WRN-n-1's stage 1, WRN-16-4's three stages. */
export const BN_SHAPES: [number, number][] = [
  [16, 32],
  [64, 32],
  [128, 16],
  [256, 8],
];

const PROFILES = 5;

export interface BnDispatchRow {
  shape: number[];
  copyNs: number;
  /** Median GPU time of each dispatch of BN_DISPATCH_NAMES over the copy's. */
  ratios: number[];
}

/** Profile every shape at `batch`, printing the table through `log`. Needs GPU timestamps. */
export async function runBnDispatchBench(rt: GpuRuntime, o: { batch: number; shapes?: [number, number][] }, log: (line: string) => void = console.log): Promise<BnDispatchRow[]> {
  if (!rt.hasTimestamps) throw new Error('wrn bench bn-dispatches needs GPU timestamps, and this adapter (or device) has no timestamp-query');
  const { batch } = o;
  const tensor = (shape: number[], seed: number) => Tensor.from(rand(shape, seed, -0.5, 1.5), shape, 'webgpu');
  log(`batch ${batch}; each dispatch's GPU time over a copy's (8 B/value), median of ${PROFILES}`);
  log('shape'.padEnd(30) + 'copy us'.padStart(7) + BN_DISPATCH_NAMES.map((n) => n.padStart(n.length + 2)).join(''));
  const rows: BnDispatchRow[] = [];
  for (const [c, h] of o.shapes ?? BN_SHAPES) {
    const xs = [batch, c, h, h];
    const dims = { n: batch, c, hw: h * h };
    const [x, dy, gamma, beta] = [tensor(xs, 1), tensor(xs, 2), tensor([c], 3), tensor([c], 4)];
    const [rm, rv] = [Tensor.zeros([c], 'webgpu'), Tensor.full([c], 1, 'webgpu')];
    const [mean, rstd, dg, db] = [0, 1, 2, 3].map(() => Tensor.empty([c], 'webgpu'));
    const y = Tensor.empty(xs, 'webgpu');
    const record = () => {
      recordCopy(rt, x.gpuBuf(), y.gpuBuf(), (batch * c * h * h) / 4);
      runKernel(batchNormStatsKernel, [x], [mean, rstd, rm, rv], { ...dims, momentum: 0.1, eps: 1e-5 }); // 2 dispatches
      runKernel(batchNormNormalizeKernel, [x, mean, rstd, gamma, beta], [y], { ...dims, relu: true });
      runKernel(batchNormGradReduceKernel, [x, dy, mean, rstd, gamma, beta], [dg, db], { ...dims, relu: true }); // 2 dispatches
      runKernel(batchNormGradInputKernel, [x, dy, mean, rstd, gamma, beta, dg, db], [y], { ...dims, relu: true, training: true });
      runKernel(reluForwardKernel, [x], [y], undefined);
    };
    try {
      record();
      await rt.sync();
      const samples: number[][] = [];
      for (let r = 0; r < PROFILES; r++) {
        rt.startProfile(16);
        record();
        (await rt.stopProfile()).forEach((e, i) => (samples[i] ??= []).push(e.ns));
      }
      const median = samples.map((v) => v.sort((a, b) => a - b)[(PROFILES - 1) / 2]);
      const ratios = median.slice(1).map((ns) => ns / median[0]);
      const cols = ratios.map((r, i) => r.toFixed(2).padStart(BN_DISPATCH_NAMES[i].length + 2));
      log(`[${xs.join(', ')}]`.padEnd(30) + (median[0] / 1e3).toFixed(0).padStart(7) + cols.join(''));
      rows.push({ shape: xs, copyNs: median[0], ratios });
    } finally {
      [x, dy, gamma, beta, rm, rv, mean, rstd, dg, db, y].forEach((t) => t.release());
    }
  }
  return rows;
}
