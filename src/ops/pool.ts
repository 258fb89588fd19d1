// Global average pooling: x [N, C, H, W] -> [N, C], the mean of each channel's plane (what it
// means, CPU reference, autograd). The GPU side is src/gpu/programs/pool.ts; the WGSL is
// shaders/pool.wgsl.
import { globalAvgPoolBackwardProgram, globalAvgPoolProgram } from '../gpu/programs/pool.js';
import { fmtShape, record, runKernel, Tensor, type Kernel, type Shape } from '../tensor.js';
import { expectRank } from './shapes.js';
import { input, registerChecks } from '../check.js';

/** Planes x [nc, hw] -> y [nc]: each plane's mean. Shapes: x [N, C, H, W], y [N, C]. */
export const globalAvgPoolKernel: Kernel<void> = {
  name: 'globalAvgPool',
  cpu([x], [y], _p, shapes) {
    const [, , h, w] = shapes[0];
    const hw = h * w;
    for (let plane = 0; plane < y.length; plane++) {
      let acc = 0; // float64 accumulation
      for (let j = 0; j < hw; j++) acc += x[plane * hw + j];
      y[plane] = acc / hw;
    }
  },
  webgpu: globalAvgPoolProgram,
};

/** dy [N, C] -> dx [N, C, H, W] = dy / (H * W) over each plane. */
export const globalAvgPoolBackwardKernel: Kernel<void> = {
  name: 'globalAvgPool.backward',
  cpu([dy], [dx], _p, shapes) {
    const [, , h, w] = shapes[1];
    const hw = h * w;
    for (let i = 0; i < dx.length; i++) dx[i] = dy[Math.floor(i / hw)] / hw;
  },
  webgpu: globalAvgPoolBackwardProgram,
};

/** Global average pool: x [N, C, H, W] -> [N, C]. */
export function globalAvgPool(x: Tensor): Tensor {
  expectRank('globalAvgPool', 'x', x, 4, '[N, C, H, W]');
  const [n, c, h, w] = x.shape;
  if (h * w === 0) throw new Error(`globalAvgPool: x ${fmtShape(x.shape)} has empty planes (H * W = 0); expected [N, C, H, W] with H, W >= 1`);
  const [y] = runKernel(globalAvgPoolKernel, [x], [[n, c]], undefined);
  return record('globalAvgPool', y, [x], (g) => [globalAvgPoolBackward(g, x.shape)]);
}

/** dx [N, C, H, W] from dy [N, C]. */
export function globalAvgPoolBackward(dy: Tensor, xShape: Shape): Tensor {
  const [n, c] = xShape;
  if (dy.shape.length !== 2 || dy.shape[0] !== n || dy.shape[1] !== c) {
    throw new Error(`globalAvgPool backward: dy ${fmtShape(dy.shape)} must be [N, C] = [${n}, ${c}] for x ${fmtShape(xShape)}`);
  }
  return runKernel(globalAvgPoolBackwardKernel, [dy], [xShape], undefined)[0];
}

// ---- checks for `wrn check` (odd C, several workgroups of planes, a vec4 tail) --------------------

const POOL_TOL = { atol: 1e-6, rtol: 1e-5 }; // f32 sums of <= 25 values in [-1, 1] vs f64
registerChecks(
  { name: 'globalAvgPool', make: () => ({ kernel: globalAvgPoolKernel, inputs: [input([13, 7, 5, 5], 1)], outputs: [[13, 7]], params: undefined, tol: POOL_TOL }) },
  { name: 'globalAvgPool.backward', make: () => ({ kernel: globalAvgPoolBackwardKernel, inputs: [input([13, 7], 1)], outputs: [[13, 7, 5, 5]], params: undefined, tol: POOL_TOL }) },
);
