// Tuning profiles: every device-dependent choice of the GPU programs, in one object per kind of
// adapter. The runtime holds one (GpuRuntime.profile), picked by the adapter (a software adapter
// gets 'cpu-adapter', anything else 'gpu'), forced by WRN_PROFILE=<name> or rt.setProfile(name);
// the programs in src/gpu/programs/ read it and nothing else about the device. A profile changes
// how the work is cut into workgroups and invocations, and may pick another kernel for an op
// (conv2d's direct kernels: a profile lists, per convolution kernel, which implementations it
// prefers), never what is computed (the tests run every implementation and every op under each
// profile against the CPU reference).
import type { AdapterDescription } from './device.js';

/**
 * A tile shape of the convolutions' implicit GEMM (shaders/conv2d_tile.wgsl): TM rows x TN
 * columns of C per workgroup of 64 invocations (8x8 accumulators each, so TM * TN = 4096), TK
 * values of K staged per barrier pair (TK * (TM + TN) floats of workgroup memory, at most 16 KiB).
 * `cost` is its time per computed entry of C relative to the square tile.
 */
export interface TileShape {
  tm: number;
  tn: number;
  tk: number;
  cost: number;
}

export const PROFILE_NAMES = ['cpu-adapter', 'gpu'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The implementations of a convolution kernel (src/gpu/programs/conv2d.ts, CONV_IMPLEMENTATIONS). */
export const CONV_IMPLEMENTATION_NAMES = ['tile-blocked', 'tile-strided', 'direct', 'direct-subgroup', 'tile-64', 'winograd-f2', 'direct-s2', 'pointwise'] as const; // appended only: caches and checkpoints hold these names
export type ConvImplementationName = (typeof CONV_IMPLEMENTATION_NAMES)[number];

/**
 * One entry of a convolution kernel's preference list: use this implementation where it supports
 * the geometry, the kernel's output has at most `maxChannels` channels and its result sums over
 * at least `minSummedChannels` (Cin for the forward, Cout for the input gradient); both are
 * measured crossovers, not limits of the implementation.
 */
export interface ConvPreference {
  use: ConvImplementationName;
  maxChannels?: number;
  minSummedChannels?: number;
}

/** Which implementation each convolution kernel runs: the first preference that applies. */
export interface ConvChoice {
  forward: readonly ConvPreference[];
  backwardInput: readonly ConvPreference[];
  backwardFilter: readonly ConvPreference[];
  /** The tile shapes the tiled implementations choose from (pickTile), with their relative costs. */
  tiles: readonly TileShape[];
}

export interface TuningProfile {
  name: ProfileName;
  conv2d: ConvChoice & {
    /**
     * Workgroups a tiled GEMM launches at once (Infinity: one per tile); with fewer workgroups
     * than tiles each loops over its share of the tiles (round-robin, conv2d_tile.wgsl).
     */
    maxWorkgroups: number;
    /** The direct filter gradient splits the batch's rows so that about this many invocations run. */
    directFilterInvocations: number;
    /** Split-K of the filter gradient: aim for this many workgroups in all (capped by maxWorkgroups)... */
    filterTargetWorkgroups: number;
    /** ...but give each split at least this many values of K. */
    minSplitK: number;
    /**
     * Per convolution (convBucket: kernel and geometry), the implementation `wrn tune` measured
     * fastest on this adapter (src/gpu/tuning.ts); it wins over the preference lists where it
     * supports the geometry. Absent in the static profiles.
     */
    chosen?: Readonly<Record<string, ConvImplementationName>>;
  };
  batchnorm: {
    /** Reductions: values of a channel per slice (one invocation walks a slice serially)... */
    valuesPerSlice: number;
    /** ...and at most this many slices per channel (bounds the serial merge). */
    maxSlices: number;
    /** Normalize and grad_x: at most this many vec4s of one channel per invocation (8, 4 or 1). */
    maxSpan: number;
  };
  skipadd: {
    /** Invocations per workgroup of the forward (a composed constant of shaders/skipadd.wgsl). */
    forwardWorkgroupSize: number;
    /** vec4s each invocation of the backward handles serially (one barrier per workgroup). */
    backwardVec4sPerInvocation: number;
  };
  /**
   * While the runtime waits on the GPU in Node, Dawn's event processing runs every this many ms
   * instead of in a busy loop (src/gpu/poll.ts); 0 leaves Dawn's loop alone.
   */
  pollIntervalMs: number;
}

/**
 * The convolution tile shapes, measured on SwiftShader (`wrn bench conv2d --tile 32x128`, and
 * 16x256, at --batch 8 --layer 64,64,16,3,1,1): 1.4x and 2.1x the 64x64 tile's forward time per
 * entry of C (the narrow tiles stage more values and pass more barriers per FMA).
 */
export const TILES: readonly TileShape[] = [
  { tm: 64, tn: 64, tk: 32, cost: 1 },
  { tm: 32, tn: 128, tk: 16, cost: 1.4 },
  { tm: 16, tn: 256, tk: 8, cost: 2 },
];

const every = (use: ConvImplementationName): readonly ConvPreference[] => [{ use }];
/** The measured convolution choices (conv2d v1 ... v5 in src/gpu/versions.ts, where each is described). */
export const CONV_V1: ConvChoice = { forward: every('tile-blocked'), backwardInput: every('tile-blocked'), backwardFilter: every('tile-blocked'), tiles: [TILES[0]] };
export const CONV_V2: ConvChoice = { ...CONV_V1, tiles: TILES };
export const CONV_V3: ConvChoice = { ...CONV_V2, forward: every('tile-strided'), backwardInput: every('tile-strided'), backwardFilter: every('tile-strided') };
const directUpTo32 = (direct: ConvImplementationName): readonly ConvPreference[] => [{ use: direct, maxChannels: 32 }, { use: 'tile-blocked' }];
export const CONV_V4: ConvChoice = { ...CONV_V2, forward: directUpTo32('direct'), backwardInput: directUpTo32('direct'), backwardFilter: directUpTo32('direct') };
// Where the device has no subgroups of >= 4 (or the filter gradient's Cin % 4 != 0), direct-subgroup
// does not support the geometry and v4's direct kernel runs.
const subgroupFirst: readonly ConvPreference[] = [{ use: 'direct-subgroup', maxChannels: 32 }, ...directUpTo32('direct')];
export const CONV_V5: ConvChoice = { ...CONV_V4, forward: subgroupFirst, backwardInput: subgroupFirst, backwardFilter: subgroupFirst };
// Winograd where its GEMMs sum over >= 32 channels (below that the transforms' traffic outweighs
// the saved multiplies: 16 summed channels ran 0.95-1.3x the best other's time), and the 1x1
// forward (the projection shortcut) without a GEMM tile.
const winogradFirst: readonly ConvPreference[] = [{ use: 'winograd-f2', minSummedChannels: 32 }, ...subgroupFirst];
export const CONV_V6: ConvChoice = { ...CONV_V5, forward: [{ use: 'pointwise' }, ...winogradFirst], backwardInput: winogradFirst };

/**
 * A software adapter (SwiftShader, llvmpipe, lavapipe) runs the kernels on the host's cores: there
 * starting a workgroup that has barriers costs ~1 ms of CPU (a 32-tile conv took 57 cpu-ms as 32
 * workgroups, 17 as 4: `wrn bench conv2d`), so the conv GEMMs launch two workgroups per core that
 * loop over the tiles; the BN kernels give an invocation 8 vec4s of a channel (the per-vec4 loads
 * of the channel's constants, not the arithmetic, cost the time: normalize took 1.0-1.3x a copy's
 * time at 8, 1.9-9x at 1, WRN shapes at batch 2 and 16); skipadd's forward runs in workgroups of
 * 256 (1.5-2x the add's time at 64) and its backward gives an invocation 64 vec4s (41-57 ms
 * against 77-90 ms at 16 for [32, 64, 32, 32]); the 3x3 stride-1 convolutions that sum >= 32
 * channels run as Winograd F(2x2, 3x3) (conv2d v6: 1.5-2x the best other's speed at WRN-16-4's
 * 64-256 channels, ~1.3x at 32 and 64 channels of WRN-16-1), the other 3x3 stride-1 ones of <= 32
 * channels directly, sharing weights through subgroups (conv2d v5: at WRN-16-1's 16 and 32
 * channels 1.2-2.5x the tile's speed), the 1x1 forwards without a GEMM tile (src/gpu/versions.ts);
 * Dawn's polling during a wait runs on a 1 ms
 * timer (a busy loop took a core from the kernels: src/gpu/poll.ts).
 */
function cpuAdapterProfile(): TuningProfile {
  // navigator.hardwareConcurrency: browsers and Node >= 21; 4 cores where it is unknown.
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
  return {
    name: 'cpu-adapter',
    conv2d: { ...CONV_V6, maxWorkgroups: 2 * cores, directFilterInvocations: 1024, filterTargetWorkgroups: 512, minSplitK: 512 },
    batchnorm: { valuesPerSlice: 256, maxSlices: 1024, maxSpan: 8 },
    skipadd: { forwardWorkgroupSize: 256, backwardVec4sPerInvocation: 64 },
    pollIntervalMs: 1,
  };
}

/**
 * A GPU: one workgroup per tile (no looping), one vec4 per invocation in the BN elementwise
 * kernels, skipadd's forward in workgroups of 64 (the size before the SwiftShader tuning) and its
 * backward with 4 vec4s per invocation (more, shorter workgroups), Dawn's own polling (the lowest
 * latency; a GPU step may take a few ms), the tiled GEMMs for every conv (a direct kernel's
 * invocation computes 128 outputs, which leaves a GPU few invocations at the narrow layers;
 * unmeasured). The conv tile costs and the slice sizes are the SwiftShader ones: not yet measured
 * on a GPU (`wrn bench kernels --versions all` there is how to tune them; a change here changes
 * the time, and at most the rounding).
 */
function gpuProfile(): TuningProfile {
  return {
    name: 'gpu',
    conv2d: { ...CONV_V2, maxWorkgroups: Infinity, directFilterInvocations: 1024, filterTargetWorkgroups: 512, minSplitK: 512 },
    batchnorm: { valuesPerSlice: 256, maxSlices: 1024, maxSpan: 1 },
    skipadd: { forwardWorkgroupSize: 64, backwardVec4sPerInvocation: 4 },
    pollIntervalMs: 0,
  };
}

/** The profile called `name` (one of PROFILE_NAMES). */
export function makeProfile(name: string): TuningProfile {
  if (name === 'cpu-adapter') return cpuAdapterProfile();
  if (name === 'gpu') return gpuProfile();
  throw new Error(`unknown tuning profile '${name}' (profiles: ${PROFILE_NAMES.join(', ')})`);
}

/** A software adapter (SwiftShader, llvmpipe, lavapipe): the kernels run on the host's cores. */
export function isCpuAdapter(a: AdapterDescription): boolean {
  return a.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${a.vendor} ${a.architecture} ${a.device} ${a.description}`);
}

/** The profile for `adapter`, unless `forced` (WRN_PROFILE) names one. */
export function profileFor(adapter: AdapterDescription, forced?: string): TuningProfile {
  if (forced) return makeProfile(forced);
  return makeProfile(isCpuAdapter(adapter) ? 'cpu-adapter' : 'gpu');
}
