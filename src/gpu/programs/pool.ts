// The GPU side of global average pooling (src/ops/pool.ts), shaders/pool.wgsl: one invocation per
// plane forward, one per vec4 of dx backward.
import poolWgsl from '../../../shaders/pool.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const pool = composeWgsl(wgslFile('shaders/pool.wgsl', poolWgsl));
const FORWARD: KernelSpec = { name: 'pool.forward', category: 'pool/classifier/loss', ...pool, entry: 'forward', bindings: { x: 'read', y: 'read_write', params: 'uniform' } };
const BACKWARD: KernelSpec = { name: 'pool.backward', category: 'pool/classifier/loss', ...pool, entry: 'backward', bindings: { dy: 'read', dx: 'read_write', params: 'uniform' } };

/** y [N, C] = the mean of each plane of x [N, C, H, W]. */
export function globalAvgPoolProgram([x]: GpuBuf[], [y]: GpuBuf[], _p: void, shapes: readonly (readonly number[])[]): void {
  const [n, c, h, w] = shapes[0];
  const nc = n * c;
  gpu().dispatchItems(FORWARD, { x, y }, { nc, hw: h * w, inv_hw: 1 / (h * w) }, nc, { label: `[${shapes[0].join(', ')}]`, cost: cost(f32(nc * h * w), f32(nc), nc * h * w) });
}

/** dx [N, C, H, W] = dy / (H * W) over each plane. */
export function globalAvgPoolBackwardProgram([dy]: GpuBuf[], [dx]: GpuBuf[], _p: void, shapes: readonly (readonly number[])[]): void {
  const [n, c, h, w] = shapes[1];
  const n4 = Math.ceil((n * c * h * w) / 4);
  gpu().dispatchItems(BACKWARD, { dy, dx }, { nc: n * c, hw: h * w, n4, inv_hw: 1 / (h * w) }, n4, { label: `[${shapes[1].join(', ')}]`, cost: cost(f32(n * c), f32(n * c * h * w), n * c * h * w) });
}
