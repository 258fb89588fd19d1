// The GPU side of the sums over one axis and their backward (src/ops/reduce.ts):
// shaders/reduce.wgsl (a tree per output and chunk of the axis, or one invocation per output when
// there are many) and shaders/broadcast.wgsl.
import broadcastWgsl from '../../../shaders/broadcast.wgsl';
import reduceWgsl from '../../../shaders/reduce.wgsl';
import type { AxisReduce } from '../../ops/reduce.js';
import { gpu } from '../../tensor.js';
import type { KernelSpec } from '../kernel.js';
import { grid1d, type GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const reduce = composeWgsl(wgslFile('shaders/reduce.wgsl', reduceWgsl));
const SUM_AXIS: KernelSpec = { name: 'reduce.sum_axis', ...reduce, entry: 'sum_axis', bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const SUM_AXIS_SERIAL: KernelSpec = { ...SUM_AXIS, name: 'reduce.sum_axis_serial', entry: 'sum_axis_serial' };
const BROADCAST: KernelSpec = { name: 'broadcast', ...composeWgsl(wgslFile('shaders/broadcast.wgsl', broadcastWgsl)), bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const CHUNK = 4096; // values of the reduced axis per workgroup (tree) or invocation (serial)
const SERIAL_MIN_OUTPUTS = 1024; // from this many outputs on, one invocation per output

/** out[o, i] = scale * sum_j x[o, j, i]. */
export function sumAxisProgram([x]: GpuBuf[], [out]: GpuBuf[], { outer, k, inner, scale }: AxisReduce): void {
  const rt = gpu();
  const outputs = outer * inner;
  if (outputs === 0) return;
  const chunks = Math.ceil(k / CHUNK);
  const label = `[${outer},${k},${inner}]`;
  if (outputs >= SERIAL_MIN_OUTPUTS && chunks <= 1) {
    rt.dispatchItems(SUM_AXIS_SERIAL, { x, out }, { outer, k, inner, chunk: CHUNK, scale }, outputs, { label });
    return;
  }
  const [gx, gy] = grid1d(outputs, 1); // one workgroup per output
  if (chunks <= 1) {
    rt.dispatch(SUM_AXIS, { x, out }, { outer, k, inner, chunk: CHUNK, scale }, [gx, gy, 1], { label });
    return;
  }
  // Two passes: partials [chunks, outputs], then their sum.
  if (chunks > 65535) throw new Error(`sum: axis of ${k} values is too long (at most ${65535 * CHUNK})`);
  const partials = rt.alloc(4 * chunks * outputs);
  rt.dispatch(SUM_AXIS, { x, out: partials }, { outer, k, inner, chunk: CHUNK, scale: 1 }, [gx, gy, chunks], { label: `${label} partials` });
  rt.dispatch(SUM_AXIS, { x: partials, out }, { outer: 1, k: chunks, inner: outputs, chunk: CHUNK, scale }, [gx, gy, 1], { label: `[1,${chunks},${outputs}] final` });
  rt.release(partials);
}

/** out[o, j, i] = scale * x[o, i], one invocation per value of out. */
export function broadcastAxisProgram([x]: GpuBuf[], [out]: GpuBuf[], { outer, k, inner, scale }: AxisReduce): void {
  const n = outer * k * inner;
  gpu().dispatchItems(BROADCAST, { x, out }, { n, k, inner, scale }, n, { label: `[${outer},${k},${inner}]` });
}
