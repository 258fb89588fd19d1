// The GPU side of the elementwise ops (src/ops/elementwise.ts): add, mul, scale, fill
// (shaders/elementwise.wgsl) and ReLU forward and backward (shaders/relu.wgsl), four values per
// invocation (vec4 loads and stores).
import elementwiseWgsl from '../../../shaders/elementwise.wgsl';
import reluWgsl from '../../../shaders/relu.wgsl';
import { gpu } from '../../tensor.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const elementwise = composeWgsl(wgslFile('shaders/elementwise.wgsl', elementwiseWgsl));
const ew = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({ name: `elementwise.${entry}`, ...elementwise, entry, bindings });
const ADD = ew('add', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const MUL = ew('mul', { a: 'read', b: 'read', out: 'read_write', params: 'uniform' });
const SCALE = ew('scale', { a: 'read', out: 'read_write', params: 'uniform' });
const FILL = ew('fill', { out: 'read_write', params: 'uniform' });
const relu = composeWgsl(wgslFile('shaders/relu.wgsl', reluWgsl));
const RELU_FWD: KernelSpec = { name: 'relu.forward', ...relu, entry: 'forward', bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const RELU_BWD: KernelSpec = { name: 'relu.backward', ...relu, entry: 'backward', bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } };

/** One invocation per vec4 of `out`'s values. */
function overVec4s(spec: KernelSpec, buffers: Record<string, GpuBuf>, out: GpuBuf, extra: Record<string, number> = {}): void {
  const n = out.bytes / 4;
  const n4 = Math.ceil(n / 4);
  gpu().dispatchItems(spec, buffers, { n4, ...extra }, n4, { label: `n=${n}` });
}

export const addProgram = ([a, b]: GpuBuf[], [out]: GpuBuf[]) => overVec4s(ADD, { a, b, out }, out);
export const mulProgram = ([a, b]: GpuBuf[], [out]: GpuBuf[]) => overVec4s(MUL, { a, b, out }, out);
export const scaleProgram = ([a]: GpuBuf[], [out]: GpuBuf[], { alpha }: { alpha: number }) => overVec4s(SCALE, { a, out }, out, { alpha });
export const fillProgram = (_: GpuBuf[], [out]: GpuBuf[], { value }: { value: number }) => overVec4s(FILL, { out }, out, { alpha: value });
export const reluForwardProgram = ([x]: GpuBuf[], [y]: GpuBuf[]) => overVec4s(RELU_FWD, { x, out: y }, y);
export const reluBackwardProgram = ([x, dy]: GpuBuf[], [dx]: GpuBuf[]) => overVec4s(RELU_BWD, { x, dy, out: dx }, dx);
