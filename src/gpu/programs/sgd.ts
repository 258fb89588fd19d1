// The GPU side of the SGD update (src/ops/sgd.ts), shaders/sgd.wgsl: one invocation per vec4 of
// the parameter, in place, with the finiteness flag.
import sgdWgsl from '../../../shaders/sgd.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
}

const SGD: KernelSpec = {
  name: 'sgd',
  category: 'optimizer',
  ...composeWgsl(wgslFile('shaders/sgd.wgsl', sgdWgsl)),
  bindings: { grad: 'read', param: 'read_write', velocity: 'read_write', status: 'read_write', params: 'uniform' },
};

const CHECK_FINITE: KernelSpec = {
  name: 'sgd.check_finite',
  category: 'optimizer', // the finiteness check of BN's running statistics
  entry: 'check_finite',
  ...composeWgsl(wgslFile('shaders/sgd.wgsl', sgdWgsl)),
  bindings: { param: 'read_write', status: 'read_write', params: 'uniform' },
};

/** status[1] = 1 if any value of `x` is NaN or +-Inf. */
export function checkFiniteProgram([x]: GpuBuf[], [status]: GpuBuf[]): void {
  const n = x.bytes / 4;
  const n4 = Math.ceil(n / 4);
  gpu().dispatchItems(CHECK_FINITE, { param: x, status }, { n, n4 }, n4, { label: `n=${n}`, cost: cost(f32(n), f32(1), 0) }); // bit tests, no float arithmetic; one flag written
}

export function sgdProgram([grad]: GpuBuf[], [param, velocity, status]: GpuBuf[], { lr, momentum, weightDecay }: SgdOptions): void {
  const n = param.bytes / 4;
  const n4 = Math.ceil(n / 4);
  // Reads grad, param and velocity, writes param and velocity (and the flag); per value
  // g + wd*p (2), v = mu*v + g (2), p -= lr*v (2).
  gpu().dispatchItems(SGD, { grad, param, velocity, status }, { n, n4, lr, momentum, weight_decay: weightDecay }, n4, { label: `n=${n}`, cost: cost(f32(3 * n), f32(2 * n + 1), 6 * n) });
}
