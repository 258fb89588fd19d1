// The GPU side of dropout (src/ops/dropout.ts, which also holds the hash's CPU twin),
// shaders/dropout.wgsl: one invocation per vec4.
import dropoutWgsl from '../../../shaders/dropout.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

export interface DropoutParams {
  p: number;
  seed: number;
}

const DROPOUT: KernelSpec = { name: 'dropout', category: 'pool/classifier/loss', ...composeWgsl(wgslFile('shaders/dropout.wgsl', dropoutWgsl)), bindings: { x: 'read', y: 'read_write', params: 'uniform' } };

/** y = x * mask / (1 - p); `threshold` is dropThreshold(p) (the op computes it, as for its CPU reference). */
export function dropoutProgram([x]: GpuBuf[], [y]: GpuBuf[], { p, seed }: DropoutParams, threshold: number): void {
  const n = y.bytes / 4;
  const n4 = Math.ceil(n / 4);
  gpu().dispatchItems(DROPOUT, { x, y }, { n4, seed, threshold, scale: 1 / (1 - p) }, n4, { label: `n=${n} p=${p}`, cost: cost(f32(n), f32(n), n) }); // the hash is integer work; one multiply per value
}
