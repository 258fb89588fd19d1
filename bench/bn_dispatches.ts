// Times each dispatch of batch norm's forward and backward (statistics partials and merge,
// normalize, gradient partials and merge, dx) and a ReLU, in units of a copy of the same tensor
// measured in the same profile (a copy moves 8 bytes per value), at WRN stage shapes. This is how
// the BN kernels were tuned: it shows which pass costs the time, where `wrn bench kernels` gives
// only each op's total.
//
//   npx esbuild bench/bn_dispatches.ts --bundle --platform=node --format=esm --loader:.wgsl=text \
//     --external:webgpu --outfile=node_modules/.cache/bn-dispatches.mjs \
//     && node node_modules/.cache/bn-dispatches.mjs [batch, default 2]
//
// GPU timestamps, median of 5 profiles. Units: time over the copy's time; the minimal bytes per
// value are 4 (statistics partials: read x), 12 (normalize: read x, write y; also the fused ReLU),
// 8 (gradient partials: read x, dy), 12 (dx: read x, dy, write dx).
import { initWebGPU, Tensor, runKernel } from '../src/index.js';
import { batchNormGradInputKernel, batchNormGradReduceKernel, batchNormNormalizeKernel, batchNormStatsKernel } from '../src/ops/batchnorm.js';
import { reluForwardKernel } from '../src/ops/elementwise.js';
import { rand } from '../src/check.js';
import { recordCopy } from './harness.js';

const rt = await initWebGPU({ timestamps: true });
const batch = Number(process.argv[2] ?? 2);
const tensor = (shape: number[], seed: number) => Tensor.from(rand(shape, seed, -0.5, 1.5), shape, 'webgpu');
console.log(`adapter: ${rt.adapterName}\nbatch ${batch}; each dispatch's GPU time over a copy's (8 B/value), median of 5`);
const NAMES = ['stats', 'merge', 'normalize+relu', 'grad-partials', 'grad-merge', 'dx+relu', 'relu'];
console.log('shape'.padEnd(30) + 'copy us'.padStart(7) + NAMES.map((n) => n.padStart(n.length + 2)).join(''));
for (const [c, h] of [[16, 32], [64, 32], [128, 16], [256, 8]]) {
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
  record();
  await rt.sync();
  const samples: number[][] = [];
  for (let r = 0; r < 5; r++) {
    rt.startProfile(16);
    record();
    (await rt.stopProfile()).forEach((e, i) => (samples[i] ??= []).push(e.ns));
  }
  const median = samples.map((v) => v.sort((a, b) => a - b)[2]);
  const cols = median.slice(1).map((ns, i) => (ns / median[0]).toFixed(2).padStart(NAMES[i].length + 2));
  console.log(`[${xs.join(', ')}]`.padEnd(30) + (median[0] / 1e3).toFixed(0).padStart(7) + cols.join(''));
  [x, dy, gamma, beta, rm, rv, mean, rstd, dg, db, y].forEach((t) => t.release());
}
rt.destroy();
