// The GPU side of the sums over one axis and their backward (src/ops/reduce.ts):
// shaders/reduce.wgsl (a tree per output and chunk of the axis, or one invocation per output when
// there are many) and shaders/broadcast.wgsl.
import broadcastWgsl from '../../../shaders/broadcast.wgsl';
import reduceWgsl from '../../../shaders/reduce.wgsl';
import reduceChannelsWgsl from '../../../shaders/reduce_channels.wgsl';
import layoutWgsl from '../../../shaders/batchnorm_layout.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import { grid1d, type GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

export interface AxisReduce {
  outer: number;
  k: number;
  inner: number;
  scale: number;
}

const reduce = composeWgsl(wgslFile('shaders/reduce.wgsl', reduceWgsl));
// In a WRN step: the classifier's bias gradient.
const SUM_AXIS: KernelSpec = { name: 'reduce.sum_axis', category: 'pool/classifier/loss', ...reduce, entry: 'sum_axis', bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
const SUM_AXIS_SERIAL: KernelSpec = { ...SUM_AXIS, name: 'reduce.sum_axis_serial', entry: 'sum_axis_serial' };
const BROADCAST: KernelSpec = { name: 'broadcast', category: 'other', ...composeWgsl(wgslFile('shaders/broadcast.wgsl', broadcastWgsl)), bindings: { x: 'read', out: 'read_write', params: 'uniform' } };
// Per-channel sums (bias and scalar gradients): composed after BN's layout (its slice walk).
// Booked as sum_axis is: in a bn or skipinit step the only one is the classifier's bias gradient.
const channels = composeWgsl(wgslFile('shaders/reduce_channels.wgsl', reduceChannelsWgsl), { includes: [wgslFile('shaders/batchnorm_layout.wgsl', layoutWgsl)] });
const CHANNEL_PARTIALS: KernelSpec = { name: 'reduce.channel_partials', category: 'pool/classifier/loss', ...channels, entry: 'partials', bindings: { x: 'read', part: 'read_write', params: 'uniform' } };
const CHANNEL_MERGE: KernelSpec = { name: 'reduce.channel_merge', category: 'pool/classifier/loss', ...channels, entry: 'merge', bindings: { part: 'read_write', out: 'read_write', params: 'uniform' } };
const CHUNK = 4096; // values of the reduced axis per workgroup (tree) or invocation (serial)
const SERIAL_MIN_OUTPUTS = 1024; // from this many outputs on, one invocation per output

/** out[o, i] = scale * sum_j x[o, j, i]. */
export function sumAxisProgram([x]: GpuBuf[], [out]: GpuBuf[], { outer, k, inner, scale }: AxisReduce): void {
  const rt = gpu();
  const outputs = outer * inner;
  if (outputs === 0) return;
  const chunks = Math.ceil(k / CHUNK);
  const label = `[${outer},${k},${inner}]`;
  // k values summed and scaled per output.
  const whole = cost(f32(outputs * k), f32(outputs), outputs * k);
  if (outputs >= SERIAL_MIN_OUTPUTS && chunks <= 1) {
    rt.dispatchItems(SUM_AXIS_SERIAL, { x, out }, { outer, k, inner, chunk: CHUNK, scale }, outputs, { label, cost: whole });
    return;
  }
  const [gx, gy] = grid1d(outputs, 1); // one workgroup per output
  if (chunks <= 1) {
    rt.dispatch(SUM_AXIS, { x, out }, { outer, k, inner, chunk: CHUNK, scale }, [gx, gy, 1], { label, cost: whole });
    return;
  }
  // Two passes: partials [chunks, outputs], then their sum.
  if (chunks > 65535) throw new Error(`sum: axis of ${k} values is too long (at most ${65535 * CHUNK})`);
  const partials = rt.alloc(4 * chunks * outputs);
  rt.dispatch(SUM_AXIS, { x, out: partials }, { outer, k, inner, chunk: CHUNK, scale: 1 }, [gx, gy, chunks], { label: `${label} partials`, cost: cost(f32(outputs * k), f32(chunks * outputs), outputs * (k - chunks)) });
  rt.dispatch(SUM_AXIS, { x: partials, out }, { outer: 1, k: chunks, inner: outputs, chunk: CHUNK, scale }, [gx, gy, 1], { label: `[1,${chunks},${outputs}] final`, cost: cost(f32(chunks * outputs), f32(outputs), outputs * chunks) });
  rt.release(partials);
}

/** out[o, j, i] = scale * x[o, i], one invocation per value of out. */
export function broadcastAxisProgram([x]: GpuBuf[], [out]: GpuBuf[], { outer, k, inner, scale }: AxisReduce): void {
  const n = outer * k * inner;
  gpu().dispatchItems(BROADCAST, { x, out }, { n, k, inner, scale }, n, { label: `[${outer},${k},${inner}]`, cost: cost(f32(outer * inner), f32(n), n) });
}

/** x viewed as [n, c, hw]: the sum of each channel's n * hw values, times scale. */
export interface ChannelReduce {
  n: number;
  c: number;
  hw: number;
  scale: number;
}

/**
 * out[c] = scale * sum of channel c's values: slices of about the profile's BN valuesPerSlice
 * walked serially per invocation (at most maxSlices per channel), then one invocation per channel
 * adds its slices. No barriers: where sum_axis would run a tree per output (few outputs, as in
 * the scalar and per-channel bias gradients), this is one pass over x.
 */
export function sumChannelsProgram([x]: GpuBuf[], [out]: GpuBuf[], { n, c, hw, scale }: ChannelReduce): void {
  if (c === 0) return;
  const rt = gpu();
  const m = n * hw;
  const { valuesPerSlice, maxSlices } = rt.profile.batchnorm;
  const slices = Math.max(1, Math.min(maxSlices, Math.ceil(m / valuesPerSlice)));
  const part = rt.alloc(4 * c * slices);
  const label = `[N=${n}, C=${c}, HW=${hw}] ${slices} slices/channel`;
  rt.dispatchItems(CHANNEL_PARTIALS, { x, part }, { c, hw, m, slices }, c * slices, { label, cost: cost(f32(c * m), f32(c * slices), c * m) });
  rt.dispatchItems(CHANNEL_MERGE, { part, out }, { c, slices, scale }, c, { label, cost: cost(f32(c * slices), f32(c), c * slices + c) });
  rt.release(part);
}
