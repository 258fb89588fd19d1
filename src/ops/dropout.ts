// Inverted dropout with a seeded counter-based mask. GPU side: src/gpu/programs/dropout.ts; WGSL:
// shaders/dropout.wgsl.
// Value i is kept when pcg(pcg(i) ^ pcg(seed)) >= floor(p * 2^32); kept values are scaled by
// 1 / (1 - p). The hash is u32 arithmetic done identically here (Math.imul, >>> 0) and in the
// WGSL, so both backends drop the same values, and the backward recomputes the mask from the seed.
import { dropoutProgram } from '../gpu/programs/dropout.js';
import { record, runKernel, Tensor, type Kernel } from '../tensor.js';
import { input, registerChecks } from '../check.js';
import type { DropoutParams } from '../gpu/programs/dropout.js';
export type { DropoutParams } from '../gpu/programs/dropout.js';

/** PCG-RXS-M-XS output hash of a u32 (Jarzynski & Olano 2020); the same as pcg() in the WGSL. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Hashes below this are dropped: floor(p * 2^32), at most 2^32 - 1. */
export function dropThreshold(p: number): number {
  return Math.min(0xffffffff, Math.floor(p * 4294967296));
}

/** Whether value `index` survives dropout with probability p under `seed`. */
export function dropoutKeeps(seed: number, index: number, p: number): boolean {
  return pcgHash((pcgHash(index) ^ pcgHash(seed)) >>> 0) >= dropThreshold(p);
}


/** y = x * mask / (1 - p). Also the backward (the same mask applied to the gradient). */
export const dropoutKernel: Kernel<DropoutParams> = {
  name: 'dropout',
  cpu([x], [y], { p, seed }) {
    const threshold = dropThreshold(p);
    const key = pcgHash(seed);
    const scale = 1 / (1 - p);
    for (let i = 0; i < y.length; i++) y[i] = pcgHash((pcgHash(i) ^ key) >>> 0) >= threshold ? x[i] * scale : 0;
  },
  webgpu: (inputs, outputs, params) => dropoutProgram(inputs, outputs, params, dropThreshold(params.p)),
};

/**
 * Inverted dropout: each value is zeroed with probability p and the rest scaled by 1 / (1 - p),
 * with a mask that depends only on (seed, element index). Use a fresh seed every step. With
 * p = 0 or training = false it is the identity and returns x itself (no copy).
 */
export function dropout(x: Tensor, p: number, seed: number, training = true): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`dropout: p must be a probability in [0, 1), got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`dropout: seed must be an integer in [0, 2^32), got ${seed}`);
  if (p === 0 || !training) return x;
  const params = { p, seed };
  const [y] = runKernel(dropoutKernel, [x], [x.shape], params);
  return record('dropout', y, [x], (g) => [runKernel(dropoutKernel, [g], [g.shape], params)[0]]);
}

// ---- checks for `wrn check` (odd size, several workgroups; the same mask on both backends) ------

registerChecks({ name: 'dropout', make: () => ({ kernel: dropoutKernel, inputs: [input([3, 7, 9, 11], 1)], outputs: [[3, 7, 9, 11]], params: { p: 0.3, seed: 12345 }, tol: { atol: 0, rtol: 1e-6 } }) });
