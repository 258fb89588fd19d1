// The GPU side of conv2d (what the op means, its CPU reference and autograd: src/ops/conv2d.ts):
// three tiled implicit GEMMs, each composed from the tile shape's constants, the shared tile
// machinery shaders/conv2d_tile.wgsl with a column layout (conv2d_tile_blocked.wgsl or
// conv2d_tile_strided.wgsl) and the kernel's own file (conv2d_forward.wgsl,
// conv2d_backward_input.wgsl, conv2d_backward_filter.wgsl), plus conv2d_reduce.wgsl (the sum of
// the filter gradient's split-K partials); and, for narrow 3x3 stride-1 layers, the direct
// kernels (conv2d_direct.wgsl for the forward and the input gradient, conv2d_direct_filter.wgsl);
// and Winograd F(2x2, 3x3) for 3x3 stride-1 forwards and input gradients (conv2d_winograd_filter,
// _input and _output.wgsl), the direct 3x3 stride-2 forward (conv2d_direct_s2.wgsl) and the 1x1
// kernels (conv2d_pointwise.wgsl, conv2d_pointwise_filter.wgsl): implementations no profile
// selects yet (unmeasured).
// Which of them runs, the tile shape and the grid come from the runtime's tuning profile
// (src/gpu/profile.ts; the measured alternatives: src/gpu/versions.ts).
import backwardFilterWgsl from '../../../shaders/conv2d_backward_filter.wgsl';
import backwardInputWgsl from '../../../shaders/conv2d_backward_input.wgsl';
import biasWgsl from '../../../shaders/conv2d_bias.wgsl';
import noBiasWgsl from '../../../shaders/conv2d_no_bias.wgsl';
import directWgsl from '../../../shaders/conv2d_direct.wgsl';
import directFilterWgsl from '../../../shaders/conv2d_direct_filter.wgsl';
import directFilterPlainWgsl from '../../../shaders/conv2d_direct_filter_plain.wgsl';
import directFilterSubgroupWgsl from '../../../shaders/conv2d_direct_filter_subgroup.wgsl';
import directWeightsPlainWgsl from '../../../shaders/conv2d_direct_weights_plain.wgsl';
import directWeightsSubgroupWgsl from '../../../shaders/conv2d_direct_weights_subgroup.wgsl';
import epiloguePlainWgsl from '../../../shaders/conv2d_epilogue_plain.wgsl';
import epilogueStatsWgsl from '../../../shaders/conv2d_epilogue_stats.wgsl';
import epilogueBnGradWgsl from '../../../shaders/conv2d_epilogue_bn_grad.wgsl';
import forwardWgsl from '../../../shaders/conv2d_forward.wgsl';
import inputPlainWgsl from '../../../shaders/conv2d_input_plain.wgsl';
import inputBnReluWgsl from '../../../shaders/conv2d_input_bn_relu.wgsl';
import reduceWgsl from '../../../shaders/conv2d_reduce.wgsl';
import tileWgsl from '../../../shaders/conv2d_tile.wgsl';
import tileBlockedWgsl from '../../../shaders/conv2d_tile_blocked.wgsl';
import tileStridedWgsl from '../../../shaders/conv2d_tile_strided.wgsl';
import winogradFilterWgsl from '../../../shaders/conv2d_winograd_filter.wgsl';
import winogradInputWgsl from '../../../shaders/conv2d_winograd_input.wgsl';
import winogradGemmWgsl from '../../../shaders/conv2d_winograd_gemm.wgsl';
import winogradOutputWgsl from '../../../shaders/conv2d_winograd_output.wgsl';
import directS2Wgsl from '../../../shaders/conv2d_direct_s2.wgsl';
import pointwiseWgsl from '../../../shaders/conv2d_pointwise.wgsl';
import directStoreWgsl from '../../../shaders/conv2d_direct_store.wgsl';
import pointwiseFilterWgsl from '../../../shaders/conv2d_pointwise_filter.wgsl';
import { gpu } from '../current.js';
import { addCost, cost, f32, ZERO_COST, type DispatchCost } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import { TILES, type ConvChoice, type ConvImplementationName, type ConvPreference, type TileShape, type TuningProfile } from '../profile.js';
import { grid1d, type GpuBuf, type GpuRuntime } from '../runtime.js';
import { composeWgsl, wgslFile, type WgslFile } from '../wgsl.js';
import { fnv1a } from '../hash.js';
import { sizeClass } from '../pool.js';

/** The geometry of one convolution. */
export interface ConvGeometry {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  ho: number;
  wo: number;
  stride: number;
  pad: number;
}

export type { TileShape } from '../profile.js';

/** The tile shapes the WGSL supports, with their measured relative costs (src/gpu/profile.ts). */
export const TILE_SHAPES: readonly TileShape[] = TILES;

/**
 * The tile shape for a GEMM of rows x cols: the least padded work, ceil(rows / TM) * TM *
 * ceil(cols / TN) * TN entries of C, weighted by the shape's cost. With M = Cout = 16 (WRN width 1,
 * stage 1) the square tile would compute 4x the entries needed, the 16-row tile 1x at twice the cost.
 */
export function pickTile(rows: number, cols: number, tiles: readonly TileShape[]): TileShape {
  let best = tiles[0];
  let bestCost = Infinity;
  for (const t of tiles) {
    const cost = Math.ceil(rows / t.tm) * t.tm * Math.ceil(cols / t.tn) * t.tn * t.cost;
    if (cost < bestCost) [best, bestCost] = [t, cost];
  }
  return best;
}

const tile = wgslFile('shaders/conv2d_tile.wgsl', tileWgsl);
/**
 * How a tile's columns are spread over the invocations (shaders/conv2d_tile_<layout>.wgsl):
 * 'blocked', runs of 4 adjacent columns per invocation; 'strided', adjacent invocations on
 * adjacent columns (what a CPU adapter's SIMD lanes want).
 */
export type ColumnLayout = 'blocked' | 'strided';
const LAYOUTS: Record<ColumnLayout, ReturnType<typeof wgslFile>> = {
  blocked: wgslFile('shaders/conv2d_tile_blocked.wgsl', tileBlockedWgsl),
  strided: wgslFile('shaders/conv2d_tile_strided.wgsl', tileStridedWgsl),
};
export type ConvKernel = 'forward' | 'backward_input' | 'backward_filter';
export const CONV_KERNELS: readonly ConvKernel[] = ['forward', 'backward_input', 'backward_filter'];
const KERNELS: Record<ConvKernel, { file: ReturnType<typeof wgslFile>; bindings: KernelSpec['bindings'] }> = {
  forward: { file: wgslFile('shaders/conv2d_forward.wgsl', forwardWgsl), bindings: { x: 'read', weight: 'read', y: 'read_write', params: 'uniform' } },
  backward_input: { file: wgslFile('shaders/conv2d_backward_input.wgsl', backwardInputWgsl), bindings: { dy: 'read', weight: 'read', dx: 'read_write', params: 'uniform' } },
  backward_filter: { file: wgslFile('shaders/conv2d_backward_filter.wgsl', backwardFilterWgsl), bindings: { x: 'read', dy: 'read', out: 'read_write', params: 'uniform' } },
};
const specCache = new Map<string, KernelSpec>();
// The bias, composed in where a forward adds one: a kernel binds only the buffers it reads.
const BIAS = { file: wgslFile('shaders/conv2d_bias.wgsl', biasWgsl), bindings: { bias: 'read' } as KernelSpec['bindings'] };
const NO_BIAS = wgslFile('shaders/conv2d_no_bias.wgsl', noBiasWgsl);

/**
 * What a tiled kernel reads as its input (the forward's and the filter gradient's x): x itself, or
 * ReLU(BN(x)) computed while gathering (the bn-fused arm's prologue).
 */
export type ConvInput = 'plain' | 'bn-relu';
/**
 * What a tiled kernel does as it stores its tile (the forward's y, the input gradient's dx):
 * nothing more, the next BN's statistics ('stats', forward), or the sums of the backward of the
 * BN-ReLU that fed the convolution ('bn-grad', input gradient).
 */
export type ConvEpilogue = 'plain' | 'stats' | 'bn-grad';
export interface ConvFusion {
  input?: ConvInput;
  epilogue?: ConvEpilogue;
}
const BN_CONSTANTS = { bn_mean: 'read', bn_rstd: 'read', bn_gamma: 'read', bn_beta: 'read' } as const;
const INPUTS: Record<ConvInput, { file: WgslFile; bindings: KernelSpec['bindings'] }> = {
  plain: { file: wgslFile('shaders/conv2d_input_plain.wgsl', inputPlainWgsl), bindings: {} },
  'bn-relu': { file: wgslFile('shaders/conv2d_input_bn_relu.wgsl', inputBnReluWgsl), bindings: BN_CONSTANTS },
};
const EPILOGUES: Record<ConvEpilogue, { file: WgslFile; bindings: KernelSpec['bindings'] }> = {
  plain: { file: wgslFile('shaders/conv2d_epilogue_plain.wgsl', epiloguePlainWgsl), bindings: {} },
  stats: { file: wgslFile('shaders/conv2d_epilogue_stats.wgsl', epilogueStatsWgsl), bindings: { part: 'read_write' } },
  'bn-grad': { file: wgslFile('shaders/conv2d_epilogue_bn_grad.wgsl', epilogueBnGradWgsl), bindings: { ...BN_CONSTANTS, part: 'read_write', bn_x: 'read' } },
};
// Which hooks each kernel has: the forward and the filter gradient gather x; the forward and the
// input gradient store a tensor of activations (y, dx).
const HAS_INPUT: Record<ConvKernel, boolean> = { forward: true, backward_input: false, backward_filter: true };
const HAS_EPILOGUE: Record<ConvKernel, boolean> = { forward: true, backward_input: true, backward_filter: false };

/**
 * The kernel's spec for one tile shape and column layout (a bias, and the bn-fused arm's hooks):
 * the shape's constants, conv2d_tile.wgsl, the layout's file, the bias, the input and epilogue
 * hooks, then the kernel.
 */
export function convSpec(kernel: ConvKernel, t: TileShape, layout: ColumnLayout, bias = false, fusion: ConvFusion = {}): KernelSpec {
  const input = fusion.input ?? 'plain';
  const epilogue = fusion.epilogue ?? 'plain';
  if (input !== 'plain' && !HAS_INPUT[kernel]) throw new Error(`conv2d.${kernel} has no input hook (input '${input}')`);
  if (epilogue !== 'plain' && !HAS_EPILOGUE[kernel]) throw new Error(`conv2d.${kernel} has no epilogue hook (epilogue '${epilogue}')`);
  if (epilogue === 'stats' && (bias || kernel !== 'forward')) throw new Error(`conv2d.${kernel}: the stats epilogue is for a forward without bias`);
  if (epilogue === 'bn-grad' && kernel !== 'backward_input') throw new Error(`conv2d.${kernel}: the bn-grad epilogue is for the input gradient`);
  const fused = `${input === 'plain' ? '' : `.${input}`}${epilogue === 'plain' ? '' : `.${epilogue}`}`;
  const name = `conv2d.${kernel}.${t.tm}x${t.tn}.${layout}${bias ? '.bias' : ''}${fused}`;
  let spec = specCache.get(name);
  if (!spec) {
    const k = KERNELS[kernel];
    const hooks = [...(HAS_INPUT[kernel] ? [INPUTS[input]] : []), ...(HAS_EPILOGUE[kernel] ? [EPILOGUES[epilogue]] : [])];
    const includes = [tile, LAYOUTS[layout], bias ? BIAS.file : NO_BIAS, ...hooks.map((h) => h.file)];
    const bindings = Object.assign({}, k.bindings, bias ? BIAS.bindings : {}, ...hooks.map((h) => h.bindings));
    spec = { name, category: 'conv', ...composeWgsl(k.file, { constants: { TM: t.tm, TN: t.tn, TK: t.tk }, includes }), bindings };
    specCache.set(name, spec);
  }
  return spec;
}
// One WGSL per way of reading the weights, two names each, so that profiles and reports tell the
// forward from the input gradient.
const directFile = wgslFile('shaders/conv2d_direct.wgsl', directWgsl);
/** store4 of the direct-style kernels (direct, direct-s2, pointwise). */
const DIRECT_STORE = wgslFile('shaders/conv2d_direct_store.wgsl', directStoreWgsl);
const directBindings: KernelSpec['bindings'] = { src: 'read', weight: 'read', out: 'read_write', params: 'uniform' };
type DirectKernel = 'forward' | 'forward_bias' | 'backward_input';
// The direct kernels' block per invocation, composed into their WGSL (PX, CO): adjacent pixels
// of one row times output channels.
const DIRECT_PIXELS = 16;
const DIRECT_CHANNELS = 8;
export const DIRECT_BLOCK = { PX: DIRECT_PIXELS, CO: DIRECT_CHANNELS };
function directSpecs(suffix: string, weights: ReturnType<typeof wgslFile>): Record<DirectKernel, KernelSpec> {
  const source = composeWgsl(directFile, { constants: DIRECT_BLOCK, includes: [weights, NO_BIAS, DIRECT_STORE] });
  const withBias = composeWgsl(directFile, { constants: DIRECT_BLOCK, includes: [weights, BIAS.file, DIRECT_STORE] });
  return {
    forward: { name: `conv2d.forward.${suffix}`, category: 'conv', ...source, bindings: directBindings },
    forward_bias: { name: `conv2d.forward.${suffix}.bias`, category: 'conv', ...withBias, bindings: { ...directBindings, ...BIAS.bindings } },
    backward_input: { name: `conv2d.backward_input.${suffix}`, category: 'conv', ...source, bindings: directBindings },
  };
}
const DIRECT = {
  plain: directSpecs('direct', wgslFile('shaders/conv2d_direct_weights_plain.wgsl', directWeightsPlainWgsl)),
  subgroup: directSpecs('direct_subgroup', wgslFile('shaders/conv2d_direct_weights_subgroup.wgsl', directWeightsSubgroupWgsl)),
};

/** The direct kernels compute 3x3 stride-1 convolutions; pad <= 2: the input gradient is then a direct conv with pad 2 - pad. */
const directGeometry = (g: ConvGeometry) => g.kh === 3 && g.kw === 3 && g.stride === 1 && g.pad <= 2;

/** The direct kernel: out [batch, outC, outH, outW] from src [batch, srcC, srcH, srcW], weight element (o, i, r, s) at wBase + o*wO + i*wI + r*wR + s*wS. */
function directConv(
  weights: keyof typeof DIRECT,
  kernel: 'forward' | 'backward_input',
  g: ConvGeometry,
  bufs: { src: GpuBuf; weight: GpuBuf; bias?: GpuBuf; out: GpuBuf },
  d: { batch: number; srcC: number; srcH: number; srcW: number; outC: number; outH: number; outW: number; pad: number; wBase: number; wO: number; wI: number; wR: number; wS: number },
): void {
  const rt = gpu();
  const spec = DIRECT[weights][kernel === 'forward' && bufs.bias ? 'forward_bias' : kernel];
  // One grid layer (z) per channel group: a workgroup's invocations share their weights.
  const perGroup = d.batch * d.outH * Math.ceil(d.outW / DIRECT_PIXELS);
  const [x, y] = grid1d(perGroup, rt.workgroupSize(spec)[0]);
  const uniforms = { batch: d.batch, cin: d.srcC, h: d.srcH, w: d.srcW, cout: d.outC, ho: d.outH, wo: d.outW, pad: d.pad, wBase: d.wBase, wO: d.wO, wI: d.wI, wR: d.wR, wS: d.wS };
  const c = kernel === 'forward' ? forwardCost(g, !!bufs.bias) : backwardInputCost(g);
  const { src, weight, bias, out } = bufs;
  rt.dispatch(spec, bias ? { src, weight, bias, out } : { src, weight, out }, uniforms, [x, y, Math.ceil(d.outC / DIRECT_CHANNELS)], { label: convLabel(g), cost: c });
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

/** How the direct filter gradient splits the batch's output rows: so that about the profile's number of invocations run. */
function directFilterSplits(g: ConvGeometry, rt: GpuRuntime): { chunk: number; splits: number } {
  const rows = g.batch * g.ho;
  const blocks = g.cin * Math.ceil(g.cout / DIRECT_CHANNELS);
  const wanted = Math.max(1, Math.min(rows, Math.ceil(rt.profile.conv2d.directFilterInvocations / blocks)));
  const chunk = Math.ceil(rows / wanted);
  return { chunk, splits: Math.ceil(rows / chunk) };
}

/**
 * The subgroup layout of the direct filter gradient needs subgroups of >= 4, a whole number of
 * them per workgroup (cin % 4 == 0) and a workgroup of cin invocations.
 */
function directFilterSubgroupSupports(g: ConvGeometry, rt: GpuRuntime): boolean {
  return rt.hasSubgroups4 && g.cin % 4 === 0 && g.cin <= rt.limits.maxComputeInvocationsPerWorkgroup && directFilterSplits(g, rt).splits <= 65535;
}

/** The direct filter gradient: the batch's output rows split (directFilterSplits), then the splits summed. */
function directFilter(subgroup: boolean, g: ConvGeometry, x: GpuBuf, dy: GpuBuf, dw: GpuBuf): void {
  const rt = gpu();
  const { chunk, splits } = directFilterSplits(g, rt);
  const blocks = g.cin * Math.ceil(g.cout / DIRECT_CHANNELS);
  const count = g.cout * g.cin * 9;
  const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * count);
  const { batch, cin, h, w, cout, ho, wo, pad } = g;
  const groups = Math.ceil(g.cout / DIRECT_CHANNELS);
  const bufs = { x, dy, partials: out };
  const uniforms = { batch, cin, h, w, cout, ho, wo, pad, chunk };
  const opts = { label: `${convLabel(g)} splits=${splits}`, cost: backwardFilterCost(g, splits) };
  if (subgroup) {
    rt.dispatch(directFilterSubgroupSpec(cin), bufs, uniforms, [splits, groups], opts);
  } else {
    rt.dispatchItems(DIRECT_FILTER, bufs, uniforms, blocks * splits, opts);
  }
  if (splits > 1) reduceSplits(out, dw, count, splits);
}

// ---- Winograd F(2x2, 3x3): 3x3 stride 1, forward and input gradient -------------------------------
// Four dispatches per call: the filter transform U = G g G^T (16 values per channel pair, once
// per call), the input tile transform V = B^T d B (16 values per 2x2 output block and channel),
// the 16 GEMMs over the channels, M[xi] = U[xi] V[xi] per transformed position xi, on the conv
// tile machinery (the tile shape the profile picks for outC rows; 2.25x fewer multiplies than
// the direct sum), and the output transform A^T M A with the bias. The input gradient is the same
// on dy with the flipped, transposed filter and pad 2 - pad, as for the direct kernels. The filter
// gradient has no Winograd implementation (it would be F(3x3, 2x2), other transforms): it keeps
// the others.
type WinogradKernel = 'forward' | 'backward_input';
const winogradFilterFile = wgslFile('shaders/conv2d_winograd_filter.wgsl', winogradFilterWgsl);
const winogradInputFile = wgslFile('shaders/conv2d_winograd_input.wgsl', winogradInputWgsl);
const winogradGemmFile = wgslFile('shaders/conv2d_winograd_gemm.wgsl', winogradGemmWgsl);
const winogradOutputFile = wgslFile('shaders/conv2d_winograd_output.wgsl', winogradOutputWgsl);
function winogradSpecs(kernel: WinogradKernel): { filter: KernelSpec; input: KernelSpec; output: KernelSpec; outputBias: KernelSpec } {
  const name = `conv2d.${kernel}.winograd_f2`;
  const outBindings: KernelSpec['bindings'] = { m: 'read', out: 'read_write', params: 'uniform' };
  return {
    filter: { name: `${name}.filter`, category: 'conv', ...composeWgsl(winogradFilterFile), bindings: { weight: 'read', u: 'read_write', params: 'uniform' } },
    input: { name: `${name}.input`, category: 'conv', ...composeWgsl(winogradInputFile), bindings: { src: 'read', v: 'read_write', params: 'uniform' } },
    output: { name: `${name}.output`, category: 'conv', ...composeWgsl(winogradOutputFile, { includes: [NO_BIAS] }), bindings: outBindings },
    outputBias: { name: `${name}.output.bias`, category: 'conv', ...composeWgsl(winogradOutputFile, { includes: [BIAS.file] }), bindings: { ...outBindings, ...BIAS.bindings } },
  };
}
const WINOGRAD: Record<WinogradKernel, ReturnType<typeof winogradSpecs>> = { forward: winogradSpecs('forward'), backward_input: winogradSpecs('backward_input') };
/** The batched GEMM of one kernel for one tile shape (the blocked column layout). */
function winogradGemmSpec(kernel: WinogradKernel, t: TileShape): KernelSpec {
  const name = `conv2d.${kernel}.winograd_f2.${t.tm}x${t.tn}`;
  let spec = specCache.get(name);
  if (!spec) {
    spec = { name, category: 'conv', ...composeWgsl(winogradGemmFile, { constants: { TM: t.tm, TN: t.tn, TK: t.tk }, includes: [tile, LAYOUTS.blocked] }), bindings: { u: 'read', v: 'read', m: 'read_write', params: 'uniform' } };
    specCache.set(name, spec);
  }
  return spec;
}

/** What Winograd transforms for `kernel`: its source's channels, its output's channels and size, and the bytes of U, V and M. */
function winogradShape(kernel: WinogradKernel, g: ConvGeometry) {
  const [srcC, outC, outH, outW] = kernel === 'forward' ? [g.cin, g.cout, g.ho, g.wo] : [g.cout, g.cin, g.h, g.w];
  const tilesH = Math.ceil(outH / 2);
  const tilesW = Math.ceil(outW / 2);
  const tiles = g.batch * tilesH * tilesW;
  return { srcC, outC, outH, outW, tilesH, tilesW, tiles, uBytes: 64 * srcC * outC, vBytes: 64 * srcC * tiles, mBytes: 64 * outC * tiles };
}

/** 3x3 stride 1 pad <= 2 (as the direct kernels), with U, V and M within the device's buffer limits (V and M are 16/4 = 4x the source and output at least). */
const winogradSupports = (kernel: WinogradKernel) => (g: ConvGeometry, rt: GpuRuntime): boolean => {
  if (!directGeometry(g)) return false;
  const { uBytes, vBytes, mBytes } = winogradShape(kernel, g);
  const { maxStorageBufferBindingSize, maxBufferSize } = rt.limits;
  return [uBytes, vBytes, mBytes].every((b) => b <= maxStorageBufferBindingSize && sizeClass(b) <= maxBufferSize);
};

/**
 * How far Winograd F(2x2, 3x3)'s f32 result may lie from the float64 reference, for sources and
 * weights in [-1, 1] (what the checks, the tests and the tuner feed), summing over `channels`.
 * The transforms' coefficients are 0, +-1, +-1/2, so they add few roundings but magnify what is
 * summed: per channel an output is sum_xi (A^T)(A^T) U V with |U| <= (|G| |g| |G^T|) and
 * |V| <= (|B^T| |d| |B|); along one axis |A^T| diag(|G| 1) |B^T| sums to 8 per output (3 for a
 * direct 3-tap sum), so in 2D the absolute terms sum to at most S = 64 * channels (+1 for the
 * bias), against the direct convolution's 9 * channels. Each term meets at most n = channels + 11
 * roundings (V: 2, U: 4, the product: 1, the channel sum: channels - 1, A^T M A: 4, the bias: 1).
 * With the same model as the direct tolerance (CONV_TOL: independent roundings, error about
 * sqrt(n) * 2^-24 * sum|terms|), plus the reference's own rounding to f32 (2^-24 * |y|, |y| <=
 * 9 * channels + 1): atol = sqrt(n) * 2^-24 * S + 2^-24 * (9 * channels + 1), no rtol (the error
 * scales with S, not with |y|). That is 4.5e-5 at 3 channels, 1.1e-3 at 40, 6.3e-2 at 640. On
 * SwiftShader the errors are 67-1000x below it, and below the tiled and direct kernels' own at the
 * same shapes (1.1e-5 against 3.1e-5 at 70 channels: an output sums `channels` products, not 9x
 * as many); a wrong sign in a transform errs by ~8 (tested), an indexing bug by ~0.1-10.
 */
export function winogradTolerance(channels: number): { atol: number; rtol: number } {
  const u = 2 ** -24;
  return { atol: Math.sqrt(channels + 11) * u * (64 * channels + 1) + u * (9 * channels + 1), rtol: 0 };
}

/** The Winograd convolution of src into out (the direct kernels' d: sizes, pad and weight strides). */
function winogradConv(
  kernel: WinogradKernel,
  g: ConvGeometry,
  bufs: { src: GpuBuf; weight: GpuBuf; bias?: GpuBuf; out: GpuBuf },
  d: { pad: number; wBase: number; wO: number; wI: number; wR: number; wS: number },
): void {
  const rt = gpu();
  const specs = WINOGRAD[kernel];
  const { srcC, outC, outH, outW, tilesH, tilesW, tiles, uBytes, vBytes, mBytes } = winogradShape(kernel, g);
  const [srcH, srcW] = kernel === 'forward' ? [g.h, g.w] : [g.ho, g.wo];
  const { src, weight, bias, out } = bufs;
  const u = rt.alloc(uBytes);
  const v = rt.alloc(vBytes);
  const m = rt.alloc(mBytes);
  const label = convLabel(g);
  // The conv's work is booked once, on the GEMMs, as convFlops (what every implementation books,
  // so their rates compare); the transforms book their traffic.
  const work = kernel === 'forward' ? forwardCost(g, !!bias) : backwardInputCost(g);
  rt.dispatchItems(specs.filter, { weight, u }, { outC, inC: srcC, wBase: d.wBase, wO: d.wO, wI: d.wI, wR: d.wR, wS: d.wS }, outC * srcC, { label, cost: cost(f32(weightValues(g)), uBytes) });
  rt.dispatchItems(specs.input, { src, v }, { batch: g.batch, c: srcC, h: srcH, w: srcW, pad: d.pad, tilesH, tilesW }, srcC * tiles, { label, cost: cost(f32(g.batch * srcC * srcH * srcW), vBytes) });
  const t = profileTile(outC, tiles);
  rt.dispatch(winogradGemmSpec(kernel, t), { u, v, m }, { outC, srcC, tiles }, tileGrid(t, outC, tiles, 16), { label, cost: cost(uBytes + vBytes, mBytes, work.flops) });
  const spec = bias ? specs.outputBias : specs.output;
  const uniforms = { batch: g.batch, outC, ho: outH, wo: outW, tilesH, tilesW };
  rt.dispatchItems(spec, bias ? { m, bias, out } : { m, out }, uniforms, outC * tiles, { label, cost: cost(mBytes + (bias ? f32(g.cout) : 0), work.written) });
  rt.release(u);
  rt.release(v);
  rt.release(m);
}

// ---- direct 3x3 stride 2 (forward) and 1x1 (all three kernels) ---------------------------------
// The WRN's other convolutions: the 3x3 stride-2 first conv of stages 2 and 3, and the 1x1
// projection shortcut (stride 1 or 2). Like the stride-1 direct kernels: no GEMM tile, no
// workgroup memory, each invocation a run of pixels of one row times 8 output channels.
const S2_BLOCK = { PX: 8, CO: 8 };
const POINTWISE_BLOCK = { PX: 8, CO: 8 };
const s2File = wgslFile('shaders/conv2d_direct_s2.wgsl', directS2Wgsl);
const pointwiseFile = wgslFile('shaders/conv2d_pointwise.wgsl', pointwiseWgsl);
const pointwiseBindings: KernelSpec['bindings'] = { src: 'read', weight: 'read', out: 'read_write', params: 'uniform' };
const DIRECT_S2 = {
  plain: { name: 'conv2d.forward.direct_s2', category: 'conv', ...composeWgsl(s2File, { constants: S2_BLOCK, includes: [NO_BIAS, DIRECT_STORE] }), bindings: { x: 'read', weight: 'read', out: 'read_write', params: 'uniform' } } as KernelSpec,
  bias: { name: 'conv2d.forward.direct_s2.bias', category: 'conv', ...composeWgsl(s2File, { constants: S2_BLOCK, includes: [BIAS.file, DIRECT_STORE] }), bindings: { x: 'read', weight: 'read', ...BIAS.bindings, out: 'read_write', params: 'uniform' } } as KernelSpec,
};
const POINTWISE = {
  forward: { name: 'conv2d.forward.pointwise', category: 'conv', ...composeWgsl(pointwiseFile, { constants: POINTWISE_BLOCK, includes: [NO_BIAS, DIRECT_STORE] }), bindings: pointwiseBindings } as KernelSpec,
  forward_bias: { name: 'conv2d.forward.pointwise.bias', category: 'conv', ...composeWgsl(pointwiseFile, { constants: POINTWISE_BLOCK, includes: [BIAS.file, DIRECT_STORE] }), bindings: { ...pointwiseBindings, ...BIAS.bindings } } as KernelSpec,
  backward_input: { name: 'conv2d.backward_input.pointwise', category: 'conv', ...composeWgsl(pointwiseFile, { constants: POINTWISE_BLOCK, includes: [NO_BIAS, DIRECT_STORE] }), bindings: pointwiseBindings } as KernelSpec,
  backward_filter: {
    name: 'conv2d.backward_filter.pointwise',
    category: 'conv',
    ...composeWgsl(wgslFile('shaders/conv2d_pointwise_filter.wgsl', pointwiseFilterWgsl), { constants: { CO: POINTWISE_BLOCK.CO } }),
    bindings: { x: 'read', dy: 'read', partials: 'read_write', params: 'uniform' },
  } as KernelSpec,
};

/** The stride-2 direct forward: 3x3, stride 2, any pad (the loads are masked on both sides). */
const directS2Geometry = (g: ConvGeometry) => g.kh === 3 && g.kw === 3 && g.stride === 2;
/** The pointwise kernels: 1x1, any stride and pad (a term outside the source, or skipped by the stride, is 0). */
const pointwiseGeometry = (g: ConvGeometry) => g.kh === 1 && g.kw === 1;

/** Grid of a direct kernel: items of `px` pixels of a row, a z layer per group of `co` output channels. */
function runGrid(rt: GpuRuntime, spec: KernelSpec, batch: number, outH: number, outW: number, outC: number, block: { PX: number; CO: number }): [number, number, number] {
  const [x, y] = grid1d(batch * outH * Math.ceil(outW / block.PX), rt.workgroupSize(spec)[0]);
  return [x, y, Math.ceil(outC / block.CO)];
}

function directS2Forward(g: ConvGeometry, { x, weight, bias, y }: ConvBuffers['forward']): void {
  const rt = gpu();
  const spec = bias ? DIRECT_S2.bias : DIRECT_S2.plain;
  const uniforms = { batch: g.batch, cin: g.cin, h: g.h, w: g.w, cout: g.cout, ho: g.ho, wo: g.wo, pad: g.pad };
  rt.dispatch(spec, bias ? { x, weight, bias, out: y } : { x, weight, out: y }, uniforms, runGrid(rt, spec, g.batch, g.ho, g.wo, g.cout, S2_BLOCK), { label: convLabel(g), cost: forwardCost(g, !!bias) });
}

// Forward: src x, source coordinate oh * stride - pad; weight (o, i) at o * Cin + i.
function pointwiseForward(g: ConvGeometry, { x, weight, bias, y }: ConvBuffers['forward']): void {
  const rt = gpu();
  const spec = bias ? POINTWISE.forward_bias : POINTWISE.forward;
  const uniforms = { batch: g.batch, cin: g.cin, h: g.h, w: g.w, cout: g.cout, ho: g.ho, wo: g.wo, mul: g.stride, add: -g.pad, div: 1, wO: g.cin, wI: 1 };
  const bufs: Record<string, GpuBuf> = bias ? { src: x, weight, bias, out: y } : { src: x, weight, out: y };
  rt.dispatch(spec, bufs, uniforms, runGrid(rt, spec, g.batch, g.ho, g.wo, g.cout, POINTWISE_BLOCK), { label: convLabel(g), cost: forwardCost(g, !!bias) });
}

// Input gradient: src dy, dx[ih] takes dy[(ih + pad) / stride] where that divides; out channel i
// reads weight (o, i) at o * Cin + i (transposed).
function pointwiseBackwardInput(g: ConvGeometry, { dy, weight, dx }: ConvBuffers['backward_input']): void {
  const rt = gpu();
  const spec = POINTWISE.backward_input;
  const uniforms = { batch: g.batch, cin: g.cout, h: g.ho, w: g.wo, cout: g.cin, ho: g.h, wo: g.w, mul: 1, add: g.pad, div: g.stride, wO: 1, wI: g.cin };
  rt.dispatch(spec, { src: dy, weight, out: dx }, uniforms, runGrid(rt, spec, g.batch, g.h, g.w, g.cin, POINTWISE_BLOCK), { label: convLabel(g), cost: backwardInputCost(g) });
}

/** The pointwise filter gradient: the batch's output rows split as the direct one's (directFilterSplits), then the splits summed. */
function pointwiseBackwardFilter(g: ConvGeometry, { x, dy, dw }: ConvBuffers['backward_filter']): void {
  const rt = gpu();
  const { chunk, splits } = directFilterSplits(g, rt);
  const count = g.cout * g.cin;
  const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * count);
  const { batch, cin, h, w, cout, ho, wo, stride, pad } = g;
  const items = cin * Math.ceil(cout / POINTWISE_BLOCK.CO) * splits;
  rt.dispatchItems(POINTWISE.backward_filter, { x, dy, partials: out }, { batch, cin, h, w, cout, ho, wo, stride, pad, chunk }, items, { label: `${convLabel(g)} splits=${splits}`, cost: backwardFilterCost(g, splits) });
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

/** Workgroups worth launching at once: the profile's. */
const maxWorkgroups = (): number => gpu().profile.conv2d.maxWorkgroups;

/**
 * Workgroup grid for a GEMM of rows x cols in tiles of shape t, `layers` deep (phases or splits,
 * grid z): one workgroup per tile, or at most maxWorkgroups() in all, each looping over its share.
 */
function tileGrid(t: TileShape, rows: number, cols: number, layers: number): [number, number, number] {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const [x, y] = grid1d(Math.max(1, Math.min(tiles, Math.ceil(maxWorkgroups() / layers))), 1);
  return [x, y, layers];
}

const profileTile = (rows: number, cols: number, tiles = gpu().profile.conv2d.tiles) => pickTile(rows, cols, tiles);

/** Tiled: y = conv(x, weight) (+ bias) as a GEMM, M = Cout, N = batch*Ho*Wo. */
function tiledForward(layout: ColumnLayout, g: ConvGeometry, { x, weight, bias, y }: ConvBuffers['forward'], tiles?: readonly TileShape[]): void {
  const [rows, cols] = [g.cout, g.batch * g.ho * g.wo];
  const t = profileTile(rows, cols, tiles);
  gpu().dispatch(convSpec('forward', t, layout, !!bias), bias ? { x, weight, bias, y } : { x, weight, y }, uniforms(g), tileGrid(t, rows, cols, 1), {
    label: convLabel(g),
    cost: forwardCost(g, !!bias),
  });
}

/** Tiled: dx from dy and weight, one GEMM per stride phase (grid z), M = Cin, N = batch * phase-0 pixels. */
function tiledBackwardInput(layout: ColumnLayout, g: ConvGeometry, { dy, weight, dx }: ConvBuffers['backward_input'], tiles?: readonly TileShape[]): void {
  const phases = g.stride * g.stride; // one GEMM per (ih mod stride, iw mod stride); phase 0 is the largest
  const phase0Pixels = Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
  const [rows, cols] = [g.cin, g.batch * phase0Pixels];
  const t = profileTile(rows, cols, tiles);
  gpu().dispatch(convSpec('backward_input', t, layout), { dy, weight, dx }, uniforms(g), tileGrid(t, rows, cols, phases), { label: convLabel(g), cost: backwardInputCost(g) });
}

/** Tiled: dw from x and dy, M = Cout, N = Cin*KH*KW, K = batch*Ho*Wo split across workgroups, then summed. */
function tiledBackwardFilter(layout: ColumnLayout, g: ConvGeometry, { x, dy, dw }: ConvBuffers['backward_filter'], tiles?: readonly TileShape[], bn?: BnConstants): void {
  const rt = gpu();
  const { filterTargetWorkgroups, minSplitK } = rt.profile.conv2d;
  const rows = g.cout;
  const cols = g.cin * g.kh * g.kw;
  const k = g.batch * g.ho * g.wo;
  const t = profileTile(rows, cols, tiles);
  const { splits, chunk } = filterSplits(t, rows, cols, k, Math.min(filterTargetWorkgroups, maxWorkgroups()), minSplitK);
  const out: GpuBuf = splits === 1 ? dw : rt.alloc(4 * splits * rows * cols);
  const spec = convSpec('backward_filter', t, layout, false, { input: bn ? 'bn-relu' : 'plain' });
  const c = bn ? sumCosts(backwardFilterCost(g, splits), inputHookCost(g, t)) : backwardFilterCost(g, splits);
  rt.dispatch(spec, { x, dy, out, ...(bn ? bnBindings(bn) : {}) }, { ...uniforms(g), chunk }, tileGrid(t, rows, cols, splits), { label: `${convLabel(g)} splits=${splits}${bn ? ' +bn-relu in' : ''}`, cost: c });
  if (splits > 1) reduceSplits(out, dw, rows * cols, splits);
}

// ---- the bn-fused arm: the tiled kernels with their hooks -----------------------------------------

/** A BN's per-channel constants, read by the bn-relu input hook and the bn-grad epilogue. */
export interface BnConstants {
  mean: GpuBuf;
  rstd: GpuBuf;
  gamma: GpuBuf;
  beta: GpuBuf;
}
const bnBindings = (bn: BnConstants) => ({ bn_mean: bn.mean, bn_rstd: bn.rstd, bn_gamma: bn.gamma, bn_beta: bn.beta });
/** An epilogue's output: `slots` partials per channel, merged by the BN programs. */
export interface EpiloguePartials {
  part: GpuBuf;
  slots: number;
}
// The hooks' costs. The input hook normalizes every value it gathers, and the GEMM gathers its
// im2col matrix (Cin*KH*KW x batch*Ho*Wo) once per row tile: 5 operations each (xhat, the affine,
// the ReLU) and the 4 channel vectors read. The stats epilogue: 5 operations per stored value
// (shift, sum, square, sum, count) and one (count, mean, M2) partial per channel and slot written;
// the bn-grad epilogue reads x once, 8 operations per value (xhat 2, the mask 3, dz, dz * xhat,
// their sums) and writes two sums per channel and slot.
const im2colValues = (g: ConvGeometry) => g.cin * g.kh * g.kw * g.batch * g.ho * g.wo;
const inputHookCost = (g: ConvGeometry, t: TileShape): DispatchCost => cost(f32(4 * g.cin), 0, 5 * Math.ceil(g.cout / t.tm) * im2colValues(g));
const sumCosts = (...c: DispatchCost[]): DispatchCost => c.reduce(addCost);

/** What a fused kernel runs as: the profile's implementation where it is tiled, else its first tiled preference, else tile-blocked. */
export function chooseTiled<K extends ConvKernel>(kernel: K, g: ConvGeometry, rt: GpuRuntime = gpu()): ConvImplementation<K> & { tiled: TiledConfig } {
  const chosen = chooseConv(kernel, g, rt);
  if (chosen.tiled) return chosen as ConvImplementation<K> & { tiled: TiledConfig };
  const tiled = rt.profile.conv2d[PREFERENCES[kernel]].map((p) => convImplementation(kernel, p.use)).find((i) => i.tiled && i.supports(g, rt));
  return (tiled ?? convImplementation(kernel, 'tile-blocked')) as ConvImplementation<K> & { tiled: TiledConfig };
}

/**
 * `profile` with every convolution on the implementation chooseTiled would pick: the tuned
 * choices that are tiled, and the preference lists cut to their tiled entries (tile-blocked
 * where none is). The step benchmark's bn-tiled arm: BN unfused on the fused arm's kernels.
 */
export function withTiledConvs(profile: TuningProfile): TuningProfile {
  const c = profile.conv2d;
  const tiledOnly = (kernel: ConvKernel, prefs: readonly ConvPreference[]): readonly ConvPreference[] => {
    const kept = prefs.filter((p) => convImplementation(kernel, p.use).tiled).map((p) => ({ use: p.use }));
    return kept.length ? kept : [{ use: 'tile-blocked' }];
  };
  const chosen = c.chosen ? Object.fromEntries(Object.entries(c.chosen).filter(([bucket, use]) => findImplementation(bucket.split(' ')[0] as ConvKernel, use)?.tiled)) : undefined;
  return {
    ...profile,
    conv2d: { ...c, forward: tiledOnly('forward', c.forward), backwardInput: tiledOnly('backward_input', c.backwardInput), backwardFilter: tiledOnly('backward_filter', c.backwardFilter), chosen },
  };
}

/**
 * y = conv(input, weight), tiled, where the input is x or ReLU(BN(x)) with `bn`'s constants (the
 * normalized input never written), and with `stats` the epilogue's partial statistics of y per
 * output channel (count, mean, M2) for batchnorm's merge. No bias (a conv before a BN has none).
 */
export function fusedConvForward(g: ConvGeometry, { x, weight, y }: { x: GpuBuf; weight: GpuBuf; y: GpuBuf }, bn: BnConstants | null, stats: boolean, impl = chooseTiled('forward', g)): EpiloguePartials | null {
  const rt = gpu();
  const { layout, tiles } = impl.tiled;
  const [rows, cols] = [g.cout, g.batch * g.ho * g.wo];
  const t = profileTile(rows, cols, tiles);
  const slots = Math.ceil(cols / t.tn);
  needStorageBuffers(rt, 3 + (bn ? 4 : 0) + (stats ? 1 : 0), 'the forward with its BN hooks');
  const part = stats ? rt.alloc(16 * rows * slots) : null;
  const spec = convSpec('forward', t, layout, false, { input: bn ? 'bn-relu' : 'plain', epilogue: stats ? 'stats' : 'plain' });
  const c = sumCosts(forwardCost(g, false), bn ? inputHookCost(g, t) : ZERO_COST, stats ? cost(0, f32(4 * rows * slots), 5 * outputValues(g)) : ZERO_COST);
  rt.dispatch(spec, { x, weight, y, ...(bn ? bnBindings(bn) : {}), ...(part ? { part } : {}) }, { ...uniforms(g), ...(stats ? { slots } : {}) }, tileGrid(t, rows, cols, 1), {
    label: `${convLabel(g)}${bn ? ' +bn-relu in' : ''}${stats ? ' +stats out' : ''}`,
    cost: c,
  });
  return part ? { part, slots } : null;
}

/** The fused kernels bind up to 9 storage buffers; WebGPU's default limit is 8 (adapters offer 10 or more). */
function needStorageBuffers(rt: GpuRuntime, count: number, what: string): void {
  const have = rt.limits.maxStorageBuffersPerShaderStage;
  if (have < count) throw new Error(`bn-fused: ${what} binds ${count} storage buffers; this device allows ${have} per shader stage (maxStorageBuffersPerShaderStage): use unfused BN`);
}

/** Pixels of stride phase p along an axis of `size` (conv2d_backward_input.wgsl's phaseOf). */
const phasePixels = (p: number, size: number, stride: number) => (p < size ? Math.ceil((size - p) / stride) : 0);

/**
 * dL/dh from dy and weight, tiled, for a conv whose input was h = ReLU(BN(x)); the epilogue sums
 * the BN backward's (sum dz, sum dz * xhat) per input channel into partials for batchnorm's
 * gradient merge (dz: dL/dh masked by the ReLU, xhat recomputed from x).
 */
export function fusedConvBackwardInput(g: ConvGeometry, { dy, weight, dx }: { dy: GpuBuf; weight: GpuBuf; dx: GpuBuf }, bn: BnConstants & { x: GpuBuf }, impl = chooseTiled('backward_input', g)): EpiloguePartials {
  const rt = gpu();
  const { layout, tiles } = impl.tiled;
  const phases = g.stride * g.stride;
  const phase0Pixels = Math.ceil(g.h / g.stride) * Math.ceil(g.w / g.stride);
  const [rows, cols] = [g.cin, g.batch * phase0Pixels];
  const t = profileTile(rows, cols, tiles);
  let slots = 0;
  for (let z = 0; z < phases; z++) slots += Math.ceil((g.batch * phasePixels(Math.floor(z / g.stride), g.h, g.stride) * phasePixels(z % g.stride, g.w, g.stride)) / t.tn);
  needStorageBuffers(rt, 9, 'the input gradient with the BN backward\'s sums');
  const part = rt.alloc(8 * rows * Math.max(1, slots));
  const spec = convSpec('backward_input', t, layout, false, { epilogue: 'bn-grad' });
  const c = sumCosts(backwardInputCost(g), cost(f32(inputValues(g) + 4 * g.cin), f32(2 * rows * slots), 8 * inputValues(g)));
  rt.dispatch(spec, { dy, weight, dx, ...bnBindings(bn), bn_x: bn.x, part }, { ...uniforms(g), slots }, tileGrid(t, rows, cols, phases), { label: `${convLabel(g)} +bn-grad sums`, cost: c });
  return { part, slots };
}

/** dw from ReLU(BN(x)) (recomputed while gathering, with `bn`'s constants) and dy, tiled, split K then summed. */
export function fusedConvBackwardFilter(g: ConvGeometry, { x, dy, dw }: ConvBuffers['backward_filter'], bn: BnConstants, impl = chooseTiled('backward_filter', g)): void {
  tiledBackwardFilter(impl.tiled.layout, g, { x, dy, dw }, impl.tiled.tiles, bn);
}

// ---- the implementations, and how a profile chooses among them ---------------------------------

/** The buffers of each kernel. */
export interface ConvBuffers {
  forward: { x: GpuBuf; weight: GpuBuf; bias?: GpuBuf; y: GpuBuf };
  backward_input: { dy: GpuBuf; weight: GpuBuf; dx: GpuBuf };
  backward_filter: { x: GpuBuf; dy: GpuBuf; dw: GpuBuf };
}

/**
 * One way to compute one convolution kernel: the geometries (and device capabilities) it is
 * correct for, and its program. Which one runs is the profile's choice (ConvChoice); adding one is
 * an entry here (and its WGSL), nothing else.
 */
export interface ConvImplementation<K extends ConvKernel = ConvKernel> {
  name: ConvImplementationName;
  kernel: K;
  summary: string;
  supports: (g: ConvGeometry, rt: GpuRuntime) => boolean;
  run: (g: ConvGeometry, b: ConvBuffers[K]) => void;
  /** A tiled implementation's layout and tile shapes (undefined: the profile's): what the bn-fused kernels run as. */
  tiled?: TiledConfig;
  /**
   * How far its result may be from the float64 reference for inputs in [-1, 1], where its
   * rounding differs from a direct sum's (Winograd); undefined: the op's CONV_TOL.
   */
  tolerance?: (g: ConvGeometry) => { atol: number; rtol: number };
}

export interface TiledConfig {
  layout: ColumnLayout;
  tiles?: readonly TileShape[];
}

const everywhere = () => true;
const directForward = (weights: keyof typeof DIRECT) => (g: ConvGeometry, { x, weight, bias, y }: ConvBuffers['forward']) => {
  const d = { batch: g.batch, srcC: g.cin, srcH: g.h, srcW: g.w, outC: g.cout, outH: g.ho, outW: g.wo, pad: g.pad };
  directConv(weights, 'forward', g, { src: x, weight, bias, out: y }, { ...d, wBase: 0, wO: g.cin * 9, wI: 9, wR: 3, wS: 1 });
};
// dx = conv(dy, w transposed and flipped: element (ci, co, r, s) = w[co, ci, 2 - r, 2 - s]), pad 2 - pad.
const directBackwardInput = (weights: keyof typeof DIRECT) => (g: ConvGeometry, { dy, weight, dx }: ConvBuffers['backward_input']) => {
  const d = { batch: g.batch, srcC: g.cout, srcH: g.ho, srcW: g.wo, outC: g.cin, outH: g.h, outW: g.w, pad: 2 - g.pad };
  directConv(weights, 'backward_input', g, { src: dy, weight, out: dx }, { ...d, wBase: 8, wO: 9, wI: g.cin * 9, wR: -3, wS: -1 });
};
const winogradForward = (g: ConvGeometry, { x, weight, bias, y }: ConvBuffers['forward']) =>
  winogradConv('forward', g, { src: x, weight, bias, out: y }, { pad: g.pad, wBase: 0, wO: g.cin * 9, wI: 9, wR: 3, wS: 1 });
const winogradBackwardInput = (g: ConvGeometry, { dy, weight, dx }: ConvBuffers['backward_input']) =>
  winogradConv('backward_input', g, { src: dy, weight, out: dx }, { pad: 2 - g.pad, wBase: 8, wO: 9, wI: g.cin * 9, wR: -3, wS: -1 });
const WINOGRAD_SUMMARY = 'Winograd F(2x2, 3x3), 3x3 stride 1: U = G g G^T once per call, V = B^T d B per 2x2 output block, 16 GEMMs over the channels with A^T M A fused';
const TILED = 'an implicit GEMM in tiles of the profile\'s shapes (pickTile)';
const BLOCKED = 'columns in runs of 4 per invocation';
const STRIDED = 'columns strided over the invocations';
// The square tile whatever the profile's list: on a GPU with many cores the narrow tiles that
// SwiftShader's costs favour may lose (a candidate for wrn tune there; no static profile prefers it).
const SQUARE = [TILES[0]];
const SQUARE_SUMMARY = 'the 64x64 tile for every GEMM (columns in runs of 4), whatever tiles the profile lists';

/** Every implementation of every convolution kernel. */
export const CONV_IMPLEMENTATIONS: { readonly [K in ConvKernel]: readonly ConvImplementation<K>[] } = {
  forward: [
    { name: 'tile-blocked', kernel: 'forward', summary: `${TILED}, ${BLOCKED}`, supports: everywhere, run: (g, b) => tiledForward('blocked', g, b), tiled: { layout: 'blocked' } },
    { name: 'tile-strided', kernel: 'forward', summary: `${TILED}, ${STRIDED}`, supports: everywhere, run: (g, b) => tiledForward('strided', g, b), tiled: { layout: 'strided' } },
    { name: 'direct', kernel: 'forward', summary: '3x3 stride 1: 16 pixels x 8 channels per invocation, no workgroup memory', supports: directGeometry, run: directForward('plain') },
    { name: 'direct-subgroup', kernel: 'forward', summary: "direct, each tap's weights read once per subgroup of >= 4", supports: (g, rt) => directGeometry(g) && rt.hasSubgroups4, run: directForward('subgroup') },
    { name: 'tile-64', kernel: 'forward', summary: SQUARE_SUMMARY, supports: everywhere, run: (g, b) => tiledForward('blocked', g, b, SQUARE), tiled: { layout: 'blocked', tiles: SQUARE } },
    // Not in any profile's preferences (unmeasured): forced by a profile, a tuned choice or wrn tune.
    { name: 'winograd-f2', kernel: 'forward', summary: WINOGRAD_SUMMARY, supports: winogradSupports('forward'), run: winogradForward, tolerance: (g) => winogradTolerance(g.cin) },
    // Likewise unmeasured: the stride-2 3x3 and the 1x1 convolutions without a GEMM tile.
    { name: 'direct-s2', kernel: 'forward', summary: '3x3 stride 2: 8 pixels x 8 channels per invocation, no workgroup memory', supports: directS2Geometry, run: directS2Forward },
    { name: 'pointwise', kernel: 'forward', summary: '1x1 (the projection shortcut): 8 pixels x 8 channels per invocation, no workgroup memory', supports: pointwiseGeometry, run: pointwiseForward },
  ],
  backward_input: [
    { name: 'tile-blocked', kernel: 'backward_input', summary: `${TILED} per stride phase, ${BLOCKED}`, supports: everywhere, run: (g, b) => tiledBackwardInput('blocked', g, b), tiled: { layout: 'blocked' } },
    { name: 'tile-strided', kernel: 'backward_input', summary: `${TILED} per stride phase, ${STRIDED}`, supports: everywhere, run: (g, b) => tiledBackwardInput('strided', g, b), tiled: { layout: 'strided' } },
    { name: 'direct', kernel: 'backward_input', summary: 'the direct forward kernel on dy with the flipped filter, pad 2 - pad', supports: directGeometry, run: directBackwardInput('plain') },
    { name: 'direct-subgroup', kernel: 'backward_input', summary: 'direct, weights shared through subgroups of >= 4', supports: (g, rt) => directGeometry(g) && rt.hasSubgroups4, run: directBackwardInput('subgroup') },
    { name: 'tile-64', kernel: 'backward_input', summary: SQUARE_SUMMARY, supports: everywhere, run: (g, b) => tiledBackwardInput('blocked', g, b, SQUARE), tiled: { layout: 'blocked', tiles: SQUARE } },
    { name: 'winograd-f2', kernel: 'backward_input', summary: `${WINOGRAD_SUMMARY}, on dy with the flipped filter`, supports: winogradSupports('backward_input'), run: winogradBackwardInput, tolerance: (g) => winogradTolerance(g.cout) },
    { name: 'pointwise', kernel: 'backward_input', summary: '1x1: the pointwise forward kernel on dy with the weights transposed, each input pixel reading dy where the stride divides', supports: pointwiseGeometry, run: pointwiseBackwardInput },
  ],
  backward_filter: [
    { name: 'tile-blocked', kernel: 'backward_filter', summary: `${TILED}, split K then summed, ${BLOCKED}`, supports: everywhere, run: (g, b) => tiledBackwardFilter('blocked', g, b), tiled: { layout: 'blocked' } },
    { name: 'tile-strided', kernel: 'backward_filter', summary: `${TILED}, split K then summed, ${STRIDED}`, supports: everywhere, run: (g, b) => tiledBackwardFilter('strided', g, b), tiled: { layout: 'strided' } },
    { name: 'direct', kernel: 'backward_filter', summary: '3x3 stride 1: 8 channels x 9 taps over a share of the rows, then the shares summed', supports: directGeometry, run: (g, { x, dy, dw }) => directFilter(false, g, x, dy, dw) },
    {
      name: 'direct-subgroup',
      kernel: 'backward_filter',
      summary: 'direct, workgroups of Cin invocations reading a run of dy once per subgroup (Cin % 4 == 0)',
      supports: (g, rt) => directGeometry(g) && directFilterSubgroupSupports(g, rt),
      run: (g, { x, dy, dw }) => directFilter(true, g, x, dy, dw),
    },
    { name: 'tile-64', kernel: 'backward_filter', summary: SQUARE_SUMMARY, supports: everywhere, run: (g, b) => tiledBackwardFilter('blocked', g, b, SQUARE), tiled: { layout: 'blocked', tiles: SQUARE } },
    { name: 'pointwise', kernel: 'backward_filter', summary: '1x1: 8 channels over a share of the rows, then the shares summed', supports: pointwiseGeometry, run: pointwiseBackwardFilter },
  ],
};

const PREFERENCES: Record<ConvKernel, keyof Omit<ConvChoice, 'tiles'>> = { forward: 'forward', backward_input: 'backwardInput', backward_filter: 'backwardFilter' };
/** The channels of a kernel's result: what a preference's maxChannels bounds. */
const outChannels = (kernel: ConvKernel, g: ConvGeometry) => (kernel === 'backward_input' ? g.cin : g.cout);
/** The channels a kernel's result sums over (its GEMM's K per tap): what minSummedChannels bounds. */
const summedChannels = (kernel: ConvKernel, g: ConvGeometry) => (kernel === 'backward_input' ? g.cout : g.cin);

const findImplementation = <K extends ConvKernel>(kernel: K, name: string) => CONV_IMPLEMENTATIONS[kernel].find((i) => i.name === name) as ConvImplementation<K> | undefined;

/** `kernel`'s implementation called `name`; an unknown name is an error listing them. */
export function convImplementation<K extends ConvKernel>(kernel: K, name: string): ConvImplementation<K> {
  const impl = findImplementation(kernel, name);
  if (!impl) throw new Error(`conv2d.${kernel} has no implementation '${name}' (it has: ${CONV_IMPLEMENTATIONS[kernel].map((i) => i.name).join(', ')})`);
  return impl;
}

/** The key of one convolution in a tuning cache: `forward x[32,16,32,32] w[16,16,3,3] s1 p1`. */
export const convBucket = (kernel: ConvKernel, g: ConvGeometry): string => `${kernel} ${convLabel(g)}`;

/**
 * The implementation the runtime's profile picks for `kernel` at `g`: the tuned choice for this
 * convolution where there is one and it supports `g`, else the first preference that applies and
 * supports `g`.
 */
export function chooseConv<K extends ConvKernel>(kernel: K, g: ConvGeometry, rt: GpuRuntime = gpu()): ConvImplementation<K> {
  geometryLog?.push({ kernel, g });
  const tuned = rt.profile.conv2d.chosen?.[convBucket(kernel, g)];
  const impl = tuned ? findImplementation(kernel, tuned) : undefined;
  if (impl?.supports(g, rt)) return impl;
  const prefs = rt.profile.conv2d[PREFERENCES[kernel]];
  for (const p of prefs) {
    if (p.maxChannels !== undefined && outChannels(kernel, g) > p.maxChannels) continue;
    if (p.minSummedChannels !== undefined && summedChannels(kernel, g) < p.minSummedChannels) continue;
    const impl = convImplementation(kernel, p.use);
    if (impl.supports(g, rt)) return impl;
  }
  const listed = prefs.map((p) => p.use + (p.maxChannels !== undefined ? ` (<= ${p.maxChannels} channels)` : '') + (p.minSummedChannels !== undefined ? ` (summing >= ${p.minSummedChannels} channels)` : '')).join(', ');
  throw new Error(`conv2d.${kernel}: none of the profile '${rt.profile.name}''s implementations (${listed || 'none'}) supports ${convLabel(g)}; end the list with a tile implementation`);
}

let geometryLog: { kernel: ConvKernel; g: ConvGeometry }[] | null = null;

/** The convolutions `record` dispatches (each kernel and geometry once, in order): what `wrn tune` measures. */
export function convolutionsOf(record: () => void): { kernel: ConvKernel; g: ConvGeometry }[] {
  geometryLog = [];
  try {
    record();
    const seen = new Set<string>();
    return geometryLog.filter(({ kernel, g }) => !seen.has(convBucket(kernel, g)) && !!seen.add(convBucket(kernel, g)));
  } finally {
    geometryLog = null;
  }
}

/**
 * A checksum of the implementation set: its names and every WGSL file its programs compose. A
 * tuning cache made with another set (a kernel edited, one added) is stale.
 */
export const CONV_IMPLEMENTATIONS_CHECKSUM = fnv1a(
  [
    ...CONV_KERNELS.flatMap((k) => CONV_IMPLEMENTATIONS[k].map((i) => `${k}:${i.name}`)),
    backwardFilterWgsl, backwardInputWgsl, biasWgsl, noBiasWgsl, inputPlainWgsl, inputBnReluWgsl, epiloguePlainWgsl, epilogueStatsWgsl, epilogueBnGradWgsl, directWgsl, directFilterWgsl, directFilterPlainWgsl, directFilterSubgroupWgsl,
    directWeightsPlainWgsl, directWeightsSubgroupWgsl, forwardWgsl, reduceWgsl, tileWgsl, tileBlockedWgsl, tileStridedWgsl,
    winogradFilterWgsl, winogradInputWgsl, winogradGemmWgsl, winogradOutputWgsl, directS2Wgsl, pointwiseWgsl, pointwiseFilterWgsl, directStoreWgsl,
    JSON.stringify({ TILES, DIRECT_BLOCK, S2_BLOCK, POINTWISE_BLOCK }),
  ].join('\n'),
);

/** y = conv(x, weight) (+ bias). */
export function conv2dForwardProgram(g: ConvGeometry, x: GpuBuf, weight: GpuBuf, bias: GpuBuf | undefined, y: GpuBuf): void {
  chooseConv('forward', g).run(g, { x, weight, bias, y });
}

/** dx from dy and weight. */
export function conv2dBackwardInputProgram(g: ConvGeometry, dy: GpuBuf, weight: GpuBuf, dx: GpuBuf): void {
  chooseConv('backward_input', g).run(g, { dy, weight, dx });
}

/** dw from x and dy. */
export function conv2dBackwardFilterProgram(g: ConvGeometry, x: GpuBuf, dy: GpuBuf, dw: GpuBuf): void {
  chooseConv('backward_filter', g).run(g, { x, dy, dw });
}

/**
 * How the filter gradient's K = batch*Ho*Wo is split across workgroups: about targetWorkgroups in
 * all, each split at least minSplitK values of K (shorter splits cost more in partial traffic and
 * workgroup starts than they gain), a whole number of K-steps per split.
 */
export function filterSplits(t: TileShape, rows: number, cols: number, k: number, targetWorkgroups: number, minSplitK: number): { splits: number; chunk: number } {
  const tiles = Math.ceil(rows / t.tm) * Math.ceil(cols / t.tn);
  const wanted = Math.max(1, Math.min(Math.ceil(targetWorkgroups / tiles), Math.floor(k / minSplitK), 65535));
  const chunk = Math.ceil(Math.ceil(k / wanted) / t.tk) * t.tk;
  return { splits: Math.max(1, Math.ceil(k / chunk)), chunk };
}
