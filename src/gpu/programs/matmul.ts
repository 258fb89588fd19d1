// The GPU side of the matrix product and the bias add (src/ops/matmul.ts): shaders/matmul.wgsl
// composed with its tile shape (one workgroup per TM x TN tile of C), and shaders/bias_add.wgsl.
import biasAddWgsl from '../../../shaders/bias_add.wgsl';
import matmulWgsl from '../../../shaders/matmul.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

export interface MatmulParams {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/** The tile of C per workgroup (TM = TN: one loop stages both slices), and the K values staged per barrier pair. */
const TILE = { TM: 64, TN: 64, TK: 8 };
const MATMUL: KernelSpec = {
  name: 'matmul',
  category: 'pool/classifier/loss', // a WRN's only matmul is its classifier
  ...composeWgsl(wgslFile('shaders/matmul.wgsl', matmulWgsl), { constants: TILE }),
  bindings: { a: 'read', b: 'read', c: 'read_write', params: 'uniform' },
};
const BIAS_ADD: KernelSpec = { name: 'bias_add', category: 'pool/classifier/loss', ...composeWgsl(wgslFile('shaders/bias_add.wgsl', biasAddWgsl)), bindings: { x: 'read', bias: 'read', out: 'read_write', params: 'uniform' } };

/** C[m, n] = op(A) @ op(B), one workgroup per tile of C. */
export function matmulProgram([a, b]: GpuBuf[], [c]: GpuBuf[], { m, n, k, transA, transB }: MatmulParams): void {
  gpu().dispatch(MATMUL, { a, b, c }, { m, n, k }, [Math.ceil(n / TILE.TN), Math.ceil(m / TILE.TM)], {
    constants: { TRANS_A: transA ? 1 : 0, TRANS_B: transB ? 1 : 0 },
    label: `${m}x${k}${transA ? 'ᵀ' : ''} @ ${k}x${n}${transB ? 'ᵀ' : ''}`,
    cost: cost(f32(m * k + k * n), f32(m * n), 2 * m * n * k),
  });
}

/** out = x + bias[c] for x viewed as [outer, C, inner], one invocation per value. */
export function biasAddProgram([x, bias]: GpuBuf[], [out]: GpuBuf[], { channels, inner }: { channels: number; inner: number }): void {
  const n = out.bytes / 4;
  gpu().dispatchItems(BIAS_ADD, { x, bias, out }, { n, channels, inner }, n, { label: `n=${n} C=${channels}`, cost: cost(f32(n + channels), f32(n), n) });
}
