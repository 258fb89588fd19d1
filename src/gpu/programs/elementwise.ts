// The GPU side of the elementwise ops (src/ops/elementwise.ts): add, mul, scale, fill
// (shaders/elementwise.wgsl) and ReLU forward and backward (shaders/relu.wgsl), four values per
// invocation (vec4 loads and stores). add and scale are booked as skip-add: in a WRN step they are
// the plain residual join, its backward (two copies via scale(g, 1)) and the gradient sums where a
// tensor feeds both the skip and the branch; fill seeds the loss's gradient.
import elementwiseWgsl from '../../../shaders/elementwise.wgsl';
import reluWgsl from '../../../shaders/relu.wgsl';
import { gpu } from '../current.js';
import { cost, f32, type Category } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const elementwise = composeWgsl(wgslFile('shaders/elementwise.wgsl', elementwiseWgsl));
const ew = (entry: string, category: Category, bindings: KernelSpec['bindings']): KernelSpec => ({ name: `elementwise.${entry}`, category, ...elementwise, entry, bindings });
const ADD = ew('add', 'skip-add', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const MUL = ew('mul', 'other', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const SCALE = ew('scale', 'skip-add', { a: 'read', out: 'read_write', params: 'uniform' });
const FILL = ew('fill', 'pool/classifier/loss', { out: 'read_write', params: 'uniform' });
const relu = composeWgsl(wgslFile('shaders/relu.wgsl', reluWgsl));
const RELU_FWD: KernelSpec = { name: 'relu.forward', category: 'relu', ...relu, entry: 'forward', bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const RELU_BWD: KernelSpec = { name: 'relu.backward', category: 'relu', ...relu, entry: 'backward', bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } };

/**
 * One invocation per vec4 of `out`'s values; per value the kernel reads `inputs` values, writes
 * one and does `flops` operations.
 */
function overVec4s(spec: KernelSpec, buffers: Record<string, GpuBuf>, out: GpuBuf, inputs: number, flops: number, extra: Record<string, number> = {}): void {
  const n = out.bytes / 4;
  const n4 = Math.ceil(n / 4);
  gpu().dispatchItems(spec, buffers, { n4, ...extra }, n4, { label: `n=${n}`, cost: cost(f32(inputs * n), f32(n), flops * n) });
}

export const addProgram = ([a, b]: GpuBuf[], [out]: GpuBuf[]) => overVec4s(ADD, { a, b, out }, out, 2, 1);
export const mulProgram = ([a, b]: GpuBuf[], [out]: GpuBuf[]) => overVec4s(MUL, { a, b, out }, out, 2, 1);
export const scaleProgram = ([a]: GpuBuf[], [out]: GpuBuf[], { alpha }: { alpha: number }) => overVec4s(SCALE, { a, out }, out, 1, 1, { alpha });
export const fillProgram = (_: GpuBuf[], [out]: GpuBuf[], { value }: { value: number }) => overVec4s(FILL, { out }, out, 0, 0, { alpha: value });
// max(x, 0) is one operation; the backward's select is one.
export const reluForwardProgram = ([x]: GpuBuf[], [y]: GpuBuf[]) => overVec4s(RELU_FWD, { x, out: y }, y, 1, 1);
export const reluBackwardProgram = ([x, dy]: GpuBuf[], [dx]: GpuBuf[]) => overVec4s(RELU_BWD, { x, dy, out: dx }, dx, 2, 1);
