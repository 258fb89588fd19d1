// The GPU side of conv2d (what the op means, its CPU reference and autograd: src/ops/conv2d.ts):
// three tiled implicit GEMMs, each composed from the tile shape's constants, the shared tile
// machinery shaders/conv2d_tile.wgsl with a column layout (conv2d_tile_blocked.wgsl or
// conv2d_tile_strided.wgsl) and the kernel's own file (conv2d_forward.wgsl,
// conv2d_backward_input.wgsl, conv2d_backward_filter.wgsl), plus conv2d_reduce.wgsl (the sum of
// the filter gradient's split-K partials); and, for narrow 3x3 stride-1 layers, the direct
// kernels (conv2d_direct.wgsl for the forward and the input gradient, conv2d_direct_filter.wgsl).
// Which of them runs, the tile shape and the grid come from the runtime's tuning profile
// (src/gpu/profile.ts; the measured alternatives: src/gpu/versions.ts).
import backwardFilterWgsl from '../../../shaders/conv2d_backward_filter.wgsl';
import backwardInputWgsl from '../../../shaders/conv2d_backward_input.wgsl';
import directWgsl from '../../../shaders/conv2d_direct.wgsl';
import directFilterWgsl from '../../../shaders/conv2d_direct_filter.wgsl';
import directFilterPlainWgsl from '../../../shaders/conv2d_direct_filter_plain.wgsl';
import directFilterSubgroupWgsl from '../../../shaders/conv2d_direct_filter_subgroup.wgsl';
import directWeightsPlainWgsl from '../../../shaders/conv2d_direct_weights_plain.wgsl';
import directWeightsSubgroupWgsl from '../../../shaders/conv2d_direct_weights_subgroup.wgsl';
import forwardWgsl from '../../../shaders/conv2d_forward.wgsl';
import reduceWgsl from '../../../shaders/conv2d_reduce.wgsl';
import tileWgsl from '../../../shaders/conv2d_tile.wgsl';
import tileBlockedWgsl from '../../../shaders/conv2d_tile_blocked.wgsl';
import tileStridedWgsl from '../../../shaders/conv2d_tile_strided.wgsl';
import type { ConvGeometry } from '../../ops/conv2d.js';
import { gpu } from '../../tensor.js';
import { cost, f32, type DispatchCost } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import { makeProfile, type ColumnLayout, type TileShape } from '../profile.js';
import { grid1d, type GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

export type { TileShape } from '../profile.js';

const CPU_ADAPTER = makeProfile('cpu-adapter').conv2d;
/** The tile shapes the WGSL supports, as the 'cpu-adapter' profile weighs them (see TileShape). */
export const TILE_SHAPES: readonly TileShape[] = CPU_ADAPTER.tiles;

/**
 * Overrides on top of the profile, for benchmarks and tests: `tile` runs every GEMM with one tile
 * shape, `maxWorkgroups` makes workgroups loop over several tiles on any adapter.
 */
export const conv2dTuning: { maxWorkgroups: number | null; tile: TileShape | null } = { maxWorkgroups: null, tile: null };

/**
 * The tile shape for a GEMM of rows x cols: the least padded work, ceil(rows / TM) * TM *
 * ceil(cols / TN) * TN entries of C, weighted by the shape's cost. With M = Cout = 16 (WRN width 1,
 * stage 1) the square tile would compute 4x the entries needed, the 16-row tile 1x at twice the cost.
 */
export function pickTile(rows: number, cols: number, tiles: readonly TileShape[] = TILE_SHAPES): TileShape {
  if (conv2dTuning.tile) return conv2dTuning.tile;
  let best = tiles[0];
  let bestCost = Infinity;
  for (const t of tiles) {
    const cost = Math.ceil(rows / t.tm) * t.tm * Math.ceil(cols / t.tn) * t.tn * t.cost;
    if (cost < bestCost) [best, bestCost] = [t, cost];
  }
  return best;
}

const tile = wgslFile('shaders/conv2d_tile.wgsl', tileWgsl);
const LAYOUTS: Record<ColumnLayout, ReturnType<typeof wgslFile>> = {
  blocked: wgslFile('shaders/conv2d_tile_blocked.wgsl', tileBlockedWgsl),
  strided: wgslFile('shaders/conv2d_tile_strided.wgsl', tileStridedWgsl),
};
type ConvKernelName = 'forward' | 'backward_input' | 'backward_filter';
const KERNELS: Record<ConvKernelName, { file: ReturnType<typeof wgslFile>; bindings: KernelSpec['bindings'] }> = {
  forward: { file: wgslFile('shaders/conv2d_forward.wgsl', forwardWgsl), bindings: { x: 'read', weight: 'read', bias: 'read', y: 'read_write', params: 'uniform' } },
  backward_input: { file: wgslFile('shaders/conv2d_backward_input.wgsl', backwardInputWgsl), bindings: { dy: 'read', weight: 'read', dx: 'read_write', params: 'uniform' } },
  backward_filter: { file: wgslFile('shaders/conv2d_backward_filter.wgsl', backwardFilterWgsl), bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } },
};
const specCache = new Map<string, KernelSpec>();

/** The kernel's spec for one tile shape and column layout: the shape's constants, conv2d_tile.wgsl, the layout's file, then the kernel. */
export function convSpec(kernel: ConvKernelName, t: TileShape, layout: ColumnLayout = gpu().profile.conv2d.columnLayout): KernelSpec {
  const name = `conv2d.${kernel}.${t.tm}x${t.tn}.${layout}`;
  let spec = specCache.get(name);
  if (!spec) {
    const k = KERNELS[kernel];
    spec = { name, category: 'conv', ...composeWgsl(k.file, { constants: { TM: t.tm, TN: t.tn, TK: t.tk }, includes: [tile, LAYOUTS[layout]] }), bindings: k.bindings };
    specCache.set(name, spec);
  }
  return spec;
}
// One WGSL per way of reading the weights, two names each, so that profiles and reports tell the
// forward from the input gradient.
const directFile = wgslFile('shaders/conv2d_direct.wgsl', directWgsl);
const directBindings: KernelSpec['bindings'] = { src: 'read', weight: 'read', bias: 'read', out: 'read_write', params: 'uniform' };
type DirectKernel = 'forward' | 'backward_input';
// The direct kernels' block per invocation, composed into their WGSL (PX, CO): adjacent pixels
// of one row times output channels.
const DIRECT_PIXELS = 16;
const DIRECT_CHANNELS = 8;
export const DIRECT_BLOCK = { PX: DIRECT_PIXELS, CO: DIRECT_CHANNELS };
function directSpecs(suffix: string, weights: ReturnType<typeof wgslFile>): Record<DirectKernel, KernelSpec> {
  const source = composeWgsl(directFile, { constants: DIRECT_BLOCK, includes: [weights] });
  return {
    forward: { name: `conv2d.forward.${suffix}`, category: 'conv', ...source, bindings: directBindings },
    backward_input: { name: `conv2d.backward_input.${suffix}`, category: 'conv', ...source, bindings: directBindings },
  };
}
const DIRECT = {
  plain: directSpecs('direct', wgslFile('shaders/conv2d_direct_weights_plain.wgsl', directWeightsPlainWgsl)),
  subgroup: directSpecs('direct_subgroup', wgslFile('shaders/conv2d_direct_weights_subgroup.wgsl', directWeightsSubgroupWgsl)),
};

/** Whether the profile computes this 3x3 stride-1 convolution directly (`outChannels`: of the result). */
function runsDirect(g: ConvGeometry, outChannels: number, maxChannels = gpu().profile.conv2d.directMaxChannels): boolean {
  // pad <= 2: the input gradient is then a direct conv with pad 2 - pad.
  return g.kh === 3 && g.kw === 3 && g.stride === 1 && g.pad <= 2 && outChannels <= maxChannels;
}

/** The direct kernel: out [batch, outC, outH, outW] from src [batch, srcC, srcH, srcW], weight element (o, i, r, s) at wBase + o*wO + i*wI + r*wR + s*wS. */
function directConv(
  kernel: DirectKernel,
  g: ConvGeometry,
  bufs: { src: GpuBuf; weight: GpuBuf; bias?: GpuBuf; out: GpuBuf },
  d: { batch: number; srcC: number; srcH: number; srcW: number; outC: number; outH: number; outW: number; pad: number; wBase: number; wO: number; wI: number; wR: number; wS: number },
): void {
  const rt = gpu();
  const spec = (rt.profile.conv2d.directSubgroups && rt.hasSubgroups4 ? DIRECT.subgroup : DIRECT.plain)[kernel];
  // One grid layer (z) per channel group: a workgroup's invocations share their weights.
  const perGroup = d.batch * d.outH * Math.ceil(d.outW / DIRECT_PIXELS);
  const [x, y] = grid1d(perGroup, rt.workgroupSize(spec)[0]);
  const uniforms = { batch: d.batch, cin: d.srcC, h: d.srcH, w: d.srcW, cout: d.outC, ho: d.outH, wo: d.outW, pad: d.pad, wBase: d.wBase, wO: d.wO, wI: d.wI, wR: d.wR, wS: d.wS };
  const c = kernel === 'forward' ? forwardCost(g, !!bufs.bias) : backwardInputCost(g);
  rt.dispatch(spec, { ...bufs, bias: bufs.bias ?? bufs.weight }, uniforms, [x, y, Math.ceil(d.outC / DIRECT_CHANNELS)], { constants: { HAS_BIAS: bufs.bias ? 1 : 0 }, label: convLabel(g), cost: c });
}

const directFilterFile = wgslFile('shaders/conv2d_direct_filter.wgsl', directFilterWgsl);
const directFilterBindings: KernelSpec['bindings'] = { x: 'read', dy: 'read', partials: 'read_write', params: 'uniform' };
const DIRECT_FILTER: KernelSpec = {
  name: 'conv2d.backward_filter.direct',
  category: 'conv',
  ...composeWgsl(directFilterFile, { constants: { ...DIRECT_BLOCK, WG: 64 }, includes: [wgslFile('shaders/conv2d_direct_filter_plain.wgsl', directFilterPlainWgsl)] }),
  bindings: directFilterBindings,
};
const directFilterSubgroup = wgslFile('shaders/conv2d_direct_filter_subgroup.wgsl', directFilterSubgroupWgsl);
/** The subgroup layout's kernel: a workgroup of `cin` invocations (the input channels) per split and channel group. */
function directFilterSubgroupSpec(cin: number): KernelSpec {
  const name = `conv2d.backward_filter.direct_subgroup.${cin}`;
  let spec = specCache.get(name);
  if (!spec) {
    spec = { name, category: 'conv', ...composeWgsl(directFilterFile, { constants: { ...DIRECT_BLOCK, WG: cin }, includes: [directFilterSubgroup] }), bindings: directFilterBindings };
    specCache.set(name, spec);
  }
  return spec;
}

/** The direct filter gradient: the batch's output rows split so that about the profile's number of invocations run, then the splits summed. */
function directFilter(g: ConvGeometry, x: GpuBuf, dy: GpuBuf, dw: GpuBuf): void {
  const rt = gpu();
  const rows = g.batch * g.ho;
  const blocks = g.cin * Math.ceil(g.cout / DIRECT_CHANNELS);
  const wanted = Math.max(1, Math.min(rows, Math.ceil(rt.profile.conv2d.directFilterInvocations / blocks)));
  const chunk = Math.ceil(rows / wanted);
  const splits = Math.ceil(rows / chunk);
  const count = g.cout * g.cin * 9;
  const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * count);
  const { batch, cin, h, w, cout, ho, wo, pad } = g;
  const groups = Math.ceil(g.cout / DIRECT_CHANNELS);
  const bufs = { x, dy, partials: out };
  const uniforms = { batch, cin, h, w, cout, ho, wo, pad, chunk };
  const opts = { label: `${convLabel(g)} splits=${splits}`, cost: backwardFilterCost(g, splits) };
  // The subgroup layout needs a whole number of subgroups of 4 per workgroup (cin % 4 == 0) and
  // a workgroup of cin invocations.
  if (rt.profile.conv2d.directSubgroups && rt.hasSubgroups4 && cin % 4 === 0 && cin <= rt.limits.maxComputeInvocationsPerWorkgroup && splits <= 65535) {
    rt.dispatch(directFilterSubgroupSpec(cin), bufs, uniforms, [splits, groups], opts);
  } else {
    rt.dispatchItems(DIRECT_FILTER, bufs, uniforms, blocks * splits, opts);
  }
  if (splits > 1) reduceSplits(out, dw, count, splits);
}

/** dw = the sum of the filter gradient's `splits` partials (then released). */
function reduceSplits(partials: GpuBuf, dw: GpuBuf, count: number, splits: number): void {
  const rt = gpu();
  rt.dispatchItems(REDUCE_SPLITS, { partials, dw }, { count, splits }, count, { label: `${count}x${splits}`, cost: cost(f32(splits * count), f32(count), (splits - 1) * count) });
  rt.release(partials);
}

const REDUCE_SPLITS: KernelSpec = {
  name: 'conv2d.reduce_splits',
  category: 'conv',
  ...composeWgsl(wgslFile('shaders/conv2d_reduce.wgsl', reduceWgsl)),
  bindings: { partials: 'read', dw: 'read_write', params: 'uniform' },
};

function uniforms(g: ConvGeometry): Record<string, number> {
  const { batch, cin, h, w, cout, ho, wo, kh, kw, stride, pad } = g;
  return { batch, cin, h, w, cout, ho, wo, kh, kw, stride, pad };
}

/** A convolution's multiply-adds, x2: the same for the forward and each gradient (the work a program must do, not what padded tiles compute). */
export const convFlops = (g: ConvGeometry) => 2 * g.batch * g.cout * g.ho * g.wo * g.cin * g.kh * g.kw;

const inputValues = (g: ConvGeometry) => g.batch * g.cin * g.h * g.w;
const outputValues = (g: ConvGeometry) => g.batch * g.cout * g.ho * g.wo;
const weightValues = (g: ConvGeometry) => g.cout * g.cin * g.kh * g.kw;
/** Reads x, the weights (and the bias), writes y; the bias adds one operation per output. */
export const forwardCost = (g: ConvGeometry, bias: boolean): DispatchCost =>
  cost(f32(inputValues(g) + weightValues(g) + (bias ? g.cout : 0)), f32(outputValues(g)), convFlops(g) + (bias ? outputValues(g) : 0));
/** Reads dy and the weights, writes dx. */
export const backwardInputCost = (g: ConvGeometry): DispatchCost => cost(f32(outputValues(g) + weightValues(g)), f32(inputValues(g)), convFlops(g));
/** Reads x and dy, writes `splits` partial filter gradients (1: dw itself). */
export const backwardFilterCost = (g: ConvGeometry, splits: number): DispatchCost => cost(f32(inputValues(g) + outputValues(g)), f32(splits * weightValues(g)), convFlops(g));

const convLabel = (g: ConvGeometry) => `x[${g.batch},${g.cin},${g.h},${g.w}] w[${g.cout},${g.cin},${g.kh},${g.kw}] s${g.stride} p${g.pad}`;

/** Workgroups worth launching at once: the profile's, unless a benchmark or test overrides it. */
function maxWorkgroups(): number {
  return conv2dTuning.maxWorkgroups ?? gpu().profile.conv2d.maxWorkgroups;
}

/**
 * Workgroup grid for a GEMM of rows x cols in tiles of shape t, `layers` deep (phases or splits,
 * grid z): one workgroup per tile, or at most maxWorkgroups() in all, each looping over its share.
 */
function tileGrid(t: TileShape, rows: number, cols: number, layers: number): [number, number, number] {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const [x, y] = grid1d(Math.max(1, Math.min(tiles, Math.ceil(maxWorkgroups() / layers))), 1);
  return [x, y, layers];
}

const profileTile = (rows: number, cols: number) => pickTile(rows, cols, gpu().profile.conv2d.tiles);

/** y = conv(x, weight) (+ bias): M = Cout, N = batch*Ho*Wo. */
export function conv2dForwardProgram(g: ConvGeometry, x: GpuBuf, weight: GpuBuf, bias: GpuBuf | undefined, y: GpuBuf): void {
  if (runsDirect(g, g.cout)) {
    const d = { batch: g.batch, srcC: g.cin, srcH: g.h, srcW: g.w, outC: g.cout, outH: g.ho, outW: g.wo, pad: g.pad };
    return directConv('forward', g, { src: x, weight, bias, out: y }, { ...d, wBase: 0, wO: g.cin * 9, wI: 9, wR: 3, wS: 1 });
  }
  const [rows, cols] = [g.cout, g.batch * g.ho * g.wo];
  const t = profileTile(rows, cols);
  gpu().dispatch(convSpec('forward', t), { x, weight, bias: bias ?? weight, y }, uniforms(g), tileGrid(t, rows, cols, 1), {
    constants: { HAS_BIAS: bias ? 1 : 0 },
    label: convLabel(g),
    cost: forwardCost(g, !!bias),
  });
}

/** dx from dy and weight: one GEMM per stride phase (grid z), M = Cin, N = batch * phase-0 pixels. */
export function conv2dBackwardInputProgram(g: ConvGeometry, dy: GpuBuf, weight: GpuBuf, dx: GpuBuf): void {
  if (runsDirect(g, g.cin)) {
    // dx = conv(dy, w transposed and flipped: element (ci, co, r, s) = w[co, ci, 2 - r, 2 - s]), pad 2 - pad.
    const d = { batch: g.batch, srcC: g.cout, srcH: g.ho, srcW: g.wo, outC: g.cin, outH: g.h, outW: g.w, pad: 2 - g.pad };
    return directConv('backward_input', g, { src: dy, weight, out: dx }, { ...d, wBase: 8, wO: 9, wI: g.cin * 9, wR: -3, wS: -1 });
  }
  const phases = g.stride * g.stride; // one GEMM per (ih mod stride, iw mod stride); phase 0 is the largest
  const phase0Pixels = Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
  const [rows, cols] = [g.cin, g.batch * phase0Pixels];
  const t = profileTile(rows, cols);
  gpu().dispatch(convSpec('backward_input', t), { dy, weight, dx }, uniforms(g), tileGrid(t, rows, cols, phases), { label: convLabel(g), cost: backwardInputCost(g) });
}

/** dw from x and dy: M = Cout, N = Cin*KH*KW, K = batch*Ho*Wo split across workgroups, then summed. */
export function conv2dBackwardFilterProgram(g: ConvGeometry, x: GpuBuf, dy: GpuBuf, dw: GpuBuf): void {
  if (runsDirect(g, g.cout, gpu().profile.conv2d.directFilterMaxChannels)) return directFilter(g, x, dy, dw);
  const rt = gpu();
  const { filterTargetWorkgroups, minSplitK } = rt.profile.conv2d;
  const rows = g.cout;
  const cols = g.cin * g.kh * g.kw;
  const k = g.batch * g.ho * g.wo;
  const t = profileTile(rows, cols);
  const { splits, chunk } = filterSplits(t, rows, cols, k, Math.min(filterTargetWorkgroups, maxWorkgroups()), minSplitK);
  const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * rows * cols);
  rt.dispatch(convSpec('backward_filter', t), { x, dy, out }, { ...uniforms(g), chunk }, tileGrid(t, rows, cols, splits), { label: `${convLabel(g)} splits=${splits}`, cost: backwardFilterCost(g, splits) });
  if (splits > 1) reduceSplits(out, dw, rows * cols, splits);
}

/**
 * How the filter gradient's K = batch*Ho*Wo is split across workgroups: about targetWorkgroups in
 * all, each split at least minSplitK values of K (shorter splits cost more in partial traffic and
 * workgroup starts than they gain), a whole number of K-steps per split.
 */
export function filterSplits(t: TileShape, rows: number, cols: number, k: number, targetWorkgroups = CPU_ADAPTER.filterTargetWorkgroups, minSplitK = CPU_ADAPTER.minSplitK): { splits: number; chunk: number } {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const wanted = Math.max(1, Math.min(Math.ceil(targetWorkgroups / tiles), Math.floor(k / minSplitK), 65535));
  const chunk = Math.ceil(Math.ceil(k / wanted) / t.tk) * t.tk;
  return { splits: Math.max(1, Math.ceil(k / chunk)), chunk };
}
