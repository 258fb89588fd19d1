import { beforeAll, describe, expect, it } from 'vitest';
import { gpu, sum, Tensor } from '../src/index.js';
import { findVersion, KERNEL_VERSIONS, withVersions } from '../src/gpu/versions.js';
import {
  conv2d,
  conv2dBackwardFilter,
  conv2dBackwardInput,
  conv2dBackwardFilterKernel,
  conv2dBackwardInputKernel,
  conv2dForwardKernel,
  convOutSize,
  winogradCases,
  directStridedCases,
  type Conv2dParams,
  type ConvGeometry,
} from '../src/ops/conv2d.js';
import { chooseConv, CONV_IMPLEMENTATIONS, CONV_KERNELS, convBucket, convImplementation, DIRECT_BLOCK, filterSplits, pickTile, TILE_SHAPES, winogradTolerance, type ConvKernel } from '../src/gpu/programs/conv2d.js';
import { CONV_IMPLEMENTATION_NAMES, makeProfile, PROFILE_NAMES } from '../src/gpu/profile.js';
import { withChosen } from '../src/gpu/tuning.js';
import type { GpuRuntime } from '../src/gpu/runtime.js';
import { composeWgsl } from '../src/gpu/wgsl.js';
import { grid1d } from '../src/gpu/runtime.js';
import { ZERO_COST } from '../src/gpu/cost.js';
import directWgsl from '../shaders/conv2d_direct.wgsl';
import directWeightsPlainWgsl from '../shaders/conv2d_direct_weights_plain.wgsl';
import noBiasWgsl from '../shaders/conv2d_no_bias.wgsl';
import directS2Wgsl from '../shaders/conv2d_direct_s2.wgsl';
import directStoreWgsl from '../shaders/conv2d_direct_store.wgsl';

const STORE = { path: 'shaders/conv2d_direct_store.wgsl', text: directStoreWgsl };
import { compareKernel, compareOnDevices, describeGpu, describeGpuProfiles, gradCheck, input, rand, requireGpu } from './helpers/optest.js';

type Shape4 = [number, number, number, number];

// Each output is a dot product of K <= ~1600 products of values in [-1, 1], summed in f32 on the
// GPU (in a different order) and in f64 on the CPU: the rounding error is about sqrt(K) * 2^-24 *
// sum|terms| <= ~1e-5 here; 1e-4 absolute leaves margin without hiding an indexing bug (which
// shows up as errors of order 0.1-10).
const CONV_TOL = { atol: 1e-4, rtol: 1e-4 };

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride: number;
  pad: number;
}

const cases: Case[] = [
  { name: 'stem: N=1, Cin=3, odd Cout=5, 3x3 pad 1', x: [1, 3, 5, 5], w: [5, 3, 3, 3], stride: 1, pad: 1 },
  { name: 'everything 1', x: [1, 1, 1, 1], w: [1, 1, 1, 1], stride: 1, pad: 0 },
  { name: 'H=W=1 with 3x3 pad 1', x: [2, 3, 1, 1], w: [4, 3, 3, 3], stride: 1, pad: 1 },
  { name: 'H=W=1 with 3x3 pad 1 stride 2', x: [1, 5, 1, 1], w: [3, 5, 3, 3], stride: 2, pad: 1 },
  { name: '7x7 stride 2 pad 3 on odd 11x9', x: [1, 3, 11, 9], w: [5, 3, 7, 7], stride: 2, pad: 3 },
  { name: '1x1 stride 2 pad 0 on odd 7x7', x: [2, 6, 7, 7], w: [5, 6, 1, 1], stride: 2, pad: 0 },
  { name: '3x3 stride 2 pad 1 on even 8x8', x: [2, 5, 8, 8], w: [7, 5, 3, 3], stride: 2, pad: 1 },
  { name: '2x3 kernel, stride 3, pad 2', x: [1, 2, 8, 7], w: [3, 2, 2, 3], stride: 3, pad: 2 },
  { name: 'pad larger than the kernel', x: [1, 2, 3, 3], w: [2, 2, 1, 1], stride: 1, pad: 2 },
  { name: 'N=2, Cin=16, Cout=24, 9x9', x: [2, 16, 9, 9], w: [24, 16, 3, 3], stride: 1, pad: 1 },
  // WRN width 1 (Cout = 16, 32 with enough pixels): the versions pick different tiles here (v1
  // 64x64; v2 16x256 for the first forward, 32x128 for the other forward and both filter
  // gradients; the input gradient has M = Cin = 8).
  { name: 'Cout=16 on 16x16 (narrow tiles)', x: [2, 8, 16, 16], w: [16, 8, 3, 3], stride: 1, pad: 1 },
  { name: 'Cout=32 on odd 15x15 (narrow tiles)', x: [1, 8, 15, 15], w: [32, 8, 3, 3], stride: 1, pad: 1 },
  // Several 64-wide tiles in every GEMM dimension of all three kernels (Cout, Cin > 64, pixels
  // > 64, K > 32 staging steps).
  { name: 'several workgroups in every dimension', x: [2, 70, 9, 9], w: [67, 70, 3, 3], stride: 1, pad: 1 },
  { name: 'several workgroups, stride 2', x: [2, 70, 13, 13], w: [67, 70, 3, 3], stride: 2, pad: 1 },
  // batch*Ho*Wo = 1600: the filter gradient is split over K (partials, then their sum).
  { name: 'long filter-gradient reduction (split K)', x: [4, 3, 20, 20], w: [5, 3, 3, 3], stride: 1, pad: 1 },
  // The direct kernels' other pads and channel counts (3x3 stride 1 is all they support).
  { name: '3x3 pad 0, odd Cin=5, Cout=9 on 6x7', x: [1, 5, 6, 7], w: [9, 5, 3, 3], stride: 1, pad: 0 },
  { name: '3x3 pad 2 on 4x5', x: [2, 4, 4, 5], w: [8, 4, 3, 3], stride: 1, pad: 2 },
  { name: 'Cin=Cout=40 (past 32 channels) on 6x6', x: [1, 40, 6, 6], w: [40, 40, 3, 3], stride: 1, pad: 1 },
  // direct-s2 (3x3 stride 2) and pointwise (1x1): other pads, odd sizes, channel counts past one
  // group of 8, pixel runs past one of 8.
  { name: '3x3 stride 2 pad 0, odd Cin=5, Cout=9 on 9x7', x: [1, 5, 9, 7], w: [9, 5, 3, 3], stride: 2, pad: 0 },
  { name: '3x3 stride 2 pad 2 on odd 5x5', x: [2, 3, 5, 5], w: [4, 3, 3, 3], stride: 2, pad: 2 },
  { name: '1x1 stride 1, odd Cout=11 on 9x19', x: [2, 7, 9, 19], w: [11, 7, 1, 1], stride: 1, pad: 0 },
  { name: '1x1 stride 2 pad 1 on 6x6', x: [1, 4, 6, 6], w: [9, 4, 1, 1], stride: 2, pad: 1 },
  { name: '1x1 stride 3 pad 2 on 5x7', x: [1, 2, 5, 7], w: [3, 2, 1, 1], stride: 3, pad: 2 },
];

function outShape(c: Case): [number, number, number, number] {
  return [c.x[0], c.w[0], convOutSize(c.x[2], c.w[2], c.stride, c.pad), convOutSize(c.x[3], c.w[3], c.stride, c.pad)];
}

describeGpuProfiles('conv2d kernels under each profile: WGSL vs CPU reference', () => {
  for (const c of cases) {
    const p: Conv2dParams = { stride: c.stride, pad: c.pad };
    const y = outShape(c);
    it(`forward, ${c.name}`, async () => {
      await compareKernel({ kernel: conv2dForwardKernel, inputs: [input(c.x, 1), input(c.w, 2)], outputs: [y], params: p, tol: CONV_TOL });
    });
    it(`forward with bias, ${c.name}`, async () => {
      await compareKernel({ kernel: conv2dForwardKernel, inputs: [input(c.x, 1), input(c.w, 2), input([c.w[0]], 3)], outputs: [y], params: p, tol: CONV_TOL });
    });
    it(`backward input, ${c.name}`, async () => {
      await compareKernel({ kernel: conv2dBackwardInputKernel, inputs: [input(y, 4), input(c.w, 2)], outputs: [c.x], params: p, tol: CONV_TOL });
    });
    it(`backward filter, ${c.name}`, async () => {
      await compareKernel({ kernel: conv2dBackwardFilterKernel, inputs: [input(c.x, 1), input(y, 4)], outputs: [c.w], params: p, tol: CONV_TOL });
    });
  }

});

describeGpu('conv2d: every implementation against the CPU reference on every case it supports', () => {
  beforeAll(requireGpu);
  const KEY = { forward: 'forward', backward_input: 'backwardInput', backward_filter: 'backwardFilter' } as const;
  // What each implementation dispatches (its spec's name), to check that the forced one ran.
  const dispatched: Record<string, (k: ConvKernel) => RegExp> = {
    'tile-blocked': (k) => new RegExp(`^conv2d\\.${k}\\.\\d+x\\d+\\.blocked(\\.bias)?$`),
    'tile-strided': (k) => new RegExp(`^conv2d\\.${k}\\.\\d+x\\d+\\.strided(\\.bias)?$`),
    'tile-64': (k) => new RegExp(`^conv2d\\.${k}\\.64x64\\.blocked(\\.bias)?$`),
    direct: (k) => new RegExp(`^conv2d\\.${k}\\.direct(\\.bias)?$`),
    'direct-subgroup': (k) => new RegExp(`^conv2d\\.${k}\\.direct_subgroup(\\.\\d+|\\.bias)?$`),
    'winograd-f2': (k) => new RegExp(`^conv2d\\.${k}\\.winograd_f2\\.(filter|input|\\d+x\\d+|output|output\\.bias)$`),
    'direct-s2': (k) => new RegExp(`^conv2d\\.${k}\\.direct_s2(\\.bias)?$`),
    pointwise: (k) => new RegExp(`^conv2d\\.${k}\\.pointwise(\\.bias)?$`),
  };
  for (const kernel of CONV_KERNELS) {
    for (const impl of CONV_IMPLEMENTATIONS[kernel]) {
      it(`${kernel} ${impl.name}`, async (ctx) => {
        const rt = gpu();
        const geometry = (c: Case): ConvGeometry => {
          const [, , ho, wo] = outShape(c);
          return { batch: c.x[0], cin: c.x[1], h: c.x[2], w: c.x[3], cout: c.w[0], kh: c.w[2], kw: c.w[3], ho, wo, stride: c.stride, pad: c.pad };
        };
        const supported = cases.filter((c) => impl.supports(geometry(c), rt));
        if (supported.length === 0 && impl.name === 'direct-subgroup' && !rt.hasSubgroups4) ctx.skip(`${rt.adapterName} has no subgroups of >= 4: ${impl.name} cannot run here`);
        expect(supported.length, 'cases this implementation supports').toBeGreaterThanOrEqual(impl.name.startsWith('tile') ? cases.length : 5); // direct, winograd: the 3x3 stride-1 cases (subgroup filter gradient: Cin % 4 == 0); direct-s2: 3x3 stride 2; pointwise: 1x1
        const prev = rt.setProfile({ ...rt.profile, conv2d: { ...rt.profile.conv2d, [KEY[kernel]]: [{ use: impl.name }] } });
        try {
          for (const c of supported) {
            const p: Conv2dParams = { stride: c.stride, pad: c.pad };
            const y = outShape(c);
            // Winograd's rounding differs from a direct sum's: its own bound (winogradTolerance).
            const tol = impl.tolerance?.(geometry(c)) ?? CONV_TOL;
            rt.startCostLog();
            try {
              if (kernel === 'forward') await compareKernel({ kernel: conv2dForwardKernel, inputs: [input(c.x, 1), input(c.w, 2), input([c.w[0]], 3)], outputs: [y], params: p, tol });
              if (kernel === 'backward_input') await compareKernel({ kernel: conv2dBackwardInputKernel, inputs: [input(y, 4), input(c.w, 2)], outputs: [c.x], params: p, tol });
              if (kernel === 'backward_filter') await compareKernel({ kernel: conv2dBackwardFilterKernel, inputs: [input(c.x, 1), input(y, 4)], outputs: [c.w], params: p, tol });
            } finally {
              const names = rt.stopCostLog().map((r) => r.label.split(' ')[0]).filter((n) => n !== 'conv2d.reduce_splits');
              expect(names.length, c.name).toBeGreaterThan(0);
              for (const n of names) expect(n, c.name).toMatch(dispatched[impl.name](kernel));
            }
          }
        } finally {
          rt.setProfile(prev);
        }
      });
    }
  }

  it("every profile's and version's preference lists end with an implementation that supports every geometry", () => {
    const rt = gpu();
    const choices = [...PROFILE_NAMES.map((n) => makeProfile(n).conv2d), ...KERNEL_VERSIONS.conv2d.map((k) => k.choice)];
    for (const choice of choices) {
      for (const kernel of CONV_KERNELS) {
        const last = choice[KEY[kernel]].at(-1)!;
        expect(last.maxChannels).toBeUndefined();
        expect(cases.every((c) => convImplementation(kernel, last.use).supports({ batch: c.x[0], cin: c.x[1], h: c.x[2], w: c.x[3], cout: c.w[0], kh: c.w[2], kw: c.w[3], ho: 1, wo: 1, stride: c.stride, pad: c.pad }, rt))).toBe(true);
      }
    }
    const noFallback = rt.setProfile({ ...rt.profile, conv2d: { ...rt.profile.conv2d, forward: [{ use: 'direct' }] } });
    try {
      const g: ConvGeometry = { batch: 1, cin: 2, h: 5, w: 5, cout: 3, kh: 1, kw: 1, ho: 5, wo: 5, stride: 1, pad: 0 };
      expect(() => chooseConv('forward', g)).toThrow(/none of the profile 'cpu-adapter''s implementations \(direct\) supports x\[1,2,5,5\] w\[3,2,1,1\] s1 p0; end the list with a tile implementation/);
      expect(() => convImplementation('forward', 'winograd')).toThrow(/conv2d\.forward has no implementation 'winograd' \(it has: tile-blocked, tile-strided, direct, direct-subgroup, tile-64, winograd-f2, direct-s2, pointwise\)/);
    } finally {
      rt.setProfile(noFallback);
    }
  });
});

describeGpuProfiles('conv2d kernels: WGSL vs CPU reference', () => {
  // Every tile shape on the cases that stress it: several row and column tiles (M = 67, 70 spans
  // 5 rows of 16-row tiles), stride-2 phases, the split-K filter gradient, H=W=1, a 7x7 kernel, and
  // few workgroups looping over the tiles.
  // (The cases above ran with pickTile's choice and the profile's grid; there, too, with 1 and 3
  // workgroups.)
  const tileCases = ['stem: N=1, Cin=3, odd Cout=5, 3x3 pad 1', 'H=W=1 with 3x3 pad 1 stride 2', '7x7 stride 2 pad 3 on odd 11x9', 'several workgroups, stride 2', 'long filter-gradient reduction (split K)'];
  const looping = (n: number) => ['several workgroups, stride 2', n] as const;
  for (const tile of [...TILE_SHAPES, null]) {
    const runs = tile ? [...tileCases.map((n) => [n, null] as const), looping(3)] : [looping(1), looping(3)];
    for (const [name, maxWorkgroups] of runs) {
      const c = cases.find((k) => k.name === name)!;
      const p: Conv2dParams = { stride: c.stride, pad: c.pad };
      const y = outShape(c);
      const shape = tile ? `${tile.tm}x${tile.tn} tiles` : 'picked tiles';
      it(`${shape}: all three kernels, ${name}${maxWorkgroups ? `, at most ${maxWorkgroups} workgroup(s) looping over the tiles` : ''}`, async () => {
        const rt = gpu();
        const conv2d = { ...rt.profile.conv2d, tiles: tile ? [tile] : rt.profile.conv2d.tiles, maxWorkgroups: maxWorkgroups ?? rt.profile.conv2d.maxWorkgroups };
        const prev = rt.setProfile({ ...rt.profile, conv2d });
        try {
          await compareKernel({ kernel: conv2dForwardKernel, inputs: [input(c.x, 1), input(c.w, 2), input([c.w[0]], 3)], outputs: [y], params: p, tol: CONV_TOL });
          await compareKernel({ kernel: conv2dBackwardInputKernel, inputs: [input(y, 4), input(c.w, 2)], outputs: [c.x], params: p, tol: CONV_TOL });
          await compareKernel({ kernel: conv2dBackwardFilterKernel, inputs: [input(c.x, 1), input(y, 4)], outputs: [c.w], params: p, tol: CONV_TOL });
        } finally {
          rt.setProfile(prev);
        }
      });
    }
  }

  it('the split-K case really splits, with every tile shape', () => {
    const c = cases.find((k) => k.name === 'long filter-gradient reduction (split K)')!;
    const y = outShape(c);
    for (const t of TILE_SHAPES) {
      const { filterTargetWorkgroups, minSplitK } = makeProfile('cpu-adapter').conv2d;
      const { splits, chunk } = filterSplits(t, c.w[0], c.w[1] * c.w[2] * c.w[3], c.x[0] * y[2] * y[3], filterTargetWorkgroups, minSplitK);
      expect(splits).toBeGreaterThan(1);
      expect(chunk % t.tk).toBe(0);
    }
  });

  it('conv2d op: forward and gradients (x, w, bias) match on both devices, stride 2', async () => {
    await compareOnDevices(([x, w, b]) => conv2d(x, w, b, { stride: 2, pad: 1 }), [input([2, 3, 7, 7], 1), input([5, 3, 3, 3], 2), input([5], 3)], CONV_TOL);
  });
  it('conv2d op: forward and gradients without bias, 1x1', async () => {
    await compareOnDevices(([x, w]) => conv2d(x, w, undefined, { stride: 1, pad: 0 }), [input([2, 6, 5, 5], 1), input([4, 6, 1, 1], 2)], CONV_TOL);
  });
});

describe('conv2d gradients (finite differences, float64)', () => {
  const conv = (stride: number, pad: number) => ([x, w, b]: Tensor[]) => conv2d(x, w, b, { stride, pad });
  it('3x3 pad 1 stride 1, no bias', () => void gradCheck(conv(1, 1), [input([2, 3, 5, 5], 1), input([4, 3, 3, 3], 2)]));
  it('3x3 pad 1 stride 1, bias', () => void gradCheck(conv(1, 1), [input([2, 3, 5, 5], 1), input([4, 3, 3, 3], 2), input([4], 3)]));
  it('3x3 pad 1 stride 2 on odd 5x5, bias', () => void gradCheck(conv(2, 1), [input([2, 3, 5, 5], 1), input([4, 3, 3, 3], 2), input([4], 3)]));
  it('3x3 pad 1 stride 2 on even 6x6, no bias', () => void gradCheck(conv(2, 1), [input([1, 2, 6, 6], 1), input([3, 2, 3, 3], 2)]));
  it('1x1 pad 0 stride 1, bias', () => void gradCheck(conv(1, 0), [input([2, 4, 3, 3], 1), input([5, 4, 1, 1], 2), input([5], 3)]));
  it('1x1 pad 0 stride 2, no bias', () => void gradCheck(conv(2, 0), [input([2, 4, 5, 5], 1), input([3, 4, 1, 1], 2)]));
  it('H=W=1 with 3x3 pad 1', () => void gradCheck(conv(1, 1), [input([2, 3, 1, 1], 1), input([2, 3, 3, 3], 2), input([2], 3)]));
});

describe('conv2d tile shapes', () => {
  it('every shape of every profile fills 64 invocations with 8x8 blocks and fits 16 KiB of workgroup memory', () => {
    for (const t of PROFILE_NAMES.flatMap((p) => makeProfile(p).conv2d.tiles)) {
      expect(t.tm * t.tn).toBe(64 * 64);
      expect(4 * t.tk * (t.tm + t.tn)).toBeLessThanOrEqual(16384);
      expect(t.tk % 8).toBe(0); // whole runs of staging (RUN_B = TK * TN / 256 = 8)
    }
  });
  it('picks the tile with the least weighted padded work: narrow for 16 and 32 rows, square for 48 and from 64', () => {
    expect(pickTile(16, 8192, TILE_SHAPES)).toMatchObject({ tm: 16, tn: 256 }); // WRN-10-1 stage 1 forward
    expect(pickTile(32, 2048, TILE_SHAPES)).toMatchObject({ tm: 32, tn: 128 }); // stage 2
    expect(pickTile(48, 2048, TILE_SHAPES)).toMatchObject({ tm: 64, tn: 64 }); // 1.33x the entries at cost 1 beats 1x at cost 2
    expect(pickTile(64, 512, TILE_SHAPES)).toMatchObject({ tm: 64, tn: 64 }); // stage 3
    expect(pickTile(256, 128, TILE_SHAPES)).toMatchObject({ tm: 64, tn: 64 });
    expect(pickTile(16, 144, TILE_SHAPES)).toMatchObject({ tm: 16, tn: 256 }); // filter gradient, 16 -> 16
  });
});

describeGpu('conv2d: which program runs a convolution (conv2d v4)', () => {
  beforeAll(requireGpu);
  // The kernel names each case dispatches (forward, input gradient, filter gradient), under v4.
  const programs = async (x: Shape4, w: Shape4, stride: number, pad: number, version = 'v4') => {
    const rt = gpu();
    const names: string[] = [];
    const dispatch = rt.dispatch.bind(rt);
    rt.dispatch = (spec, ...rest) => (names.push(spec.name), dispatch(spec, ...rest));
    const prev = rt.setProfile(withVersions(rt.profile, [findVersion('conv2d', version)]));
    try {
      const xs = Tensor.from(rand(x, 1), x, 'webgpu').param('x');
      const ws = Tensor.from(rand(w, 2), w, 'webgpu').param('w');
      sum(conv2d(xs, ws, undefined, { stride, pad })).backward();
      await xs.grad!.toArray();
      return names.filter((n) => n.startsWith('conv2d.') && !n.includes('reduce'));
    } finally {
      rt.dispatch = dispatch;
      rt.setProfile(prev);
    }
  };
  it('every program counts the conv work it does: 2 x N x Cout x Ho x Wo x Cin x KH x KW per kernel', async () => {
    const rt = gpu();
    for (const version of ['v2', 'v4', 'v5', 'v6']) {
      const prev = rt.setProfile(withVersions(rt.profile, [findVersion('conv2d', version)]));
      try {
        rt.startCostLog();
        const x = Tensor.from(rand([2, 8, 9, 9], 1), [2, 8, 9, 9], 'webgpu').param('x');
        const w = Tensor.from(rand([16, 8, 3, 3], 2), [16, 8, 3, 3], 'webgpu').param('w');
        sum(conv2d(x, w, undefined, { stride: 1, pad: 1 })).backward();
        await x.grad!.toArray();
        const convs = rt.stopCostLog().filter((r) => r.category === 'conv' && !r.label.startsWith('conv2d.reduce_splits'));
        expect(convs.reduce((s, r) => s + r.cost.flops, 0), version).toBe(3 * 2 * 2 * 16 * 9 * 9 * 8 * 9);
      } finally {
        rt.setProfile(prev);
      }
    }
  });
  it('3x3 stride 1 with <= 32 output channels: the direct kernels (forward and filter gradient: Cout, input gradient: Cin); otherwise the tiled GEMMs', async () => {
    const kinds = async (...a: Parameters<typeof programs>) => (await programs(...a)).map((n) => (n.includes('.direct') ? 'direct' : 'tile'));
    expect(await programs([2, 8, 16, 16], [16, 8, 3, 3], 1, 1)).toEqual(['conv2d.forward.direct', 'conv2d.backward_input.direct', 'conv2d.backward_filter.direct']);
    expect(await kinds([1, 40, 8, 8], [33, 40, 3, 3], 1, 1)).toEqual(['tile', 'tile', 'tile']); // Cout 33 > 32, Cin 40 > 32
    expect(await kinds([1, 40, 8, 8], [16, 40, 3, 3], 1, 1)).toEqual(['direct', 'tile', 'direct']); // the input gradient has 40 output channels
    expect(await kinds([1, 8, 9, 9], [32, 8, 3, 3], 1, 1)).toEqual(['direct', 'direct', 'direct']);
    expect(await kinds([1, 8, 9, 9], [16, 8, 3, 3], 2, 1)).toEqual(['tile', 'tile', 'tile']); // stride 2
    expect(await kinds([1, 8, 9, 9], [16, 8, 1, 1], 1, 0)).toEqual(['tile', 'tile', 'tile']); // 1x1
    // v5: the same kernels, reading the weights through subgroups where the device has them.
    const v5 = await programs([2, 8, 16, 16], [16, 8, 3, 3], 1, 1, 'v5');
    expect(v5).toEqual(gpu().hasSubgroups4 ? ['conv2d.forward.direct_subgroup', 'conv2d.backward_input.direct_subgroup', 'conv2d.backward_filter.direct_subgroup.8'] : ['conv2d.forward.direct', 'conv2d.backward_input.direct', 'conv2d.backward_filter.direct']);
    // The filter gradient's subgroup layout needs Cin % 4 == 0: the stem (Cin 3) keeps v4's.
    expect((await programs([2, 3, 9, 9], [16, 3, 3, 3], 1, 1, 'v5'))[2]).toBe('conv2d.backward_filter.direct');
    // pad 3: the input gradient would need pad -1; one rule for both kernels, so both use the tiles.
    expect(await kinds([1, 4, 5, 5], [8, 4, 3, 3], 1, 3)).toEqual(['tile', 'tile', 'tile']);
  });
  it('conv2d v6: Winograd where the GEMMs sum >= 32 channels (forward: Cin, input gradient: Cout), the pointwise kernel for 1x1 forwards, v5 elsewhere', async () => {
    // One name per convolution: Winograd's four dispatches counted once (its output transform).
    const kinds = async (x: Shape4, w: Shape4, stride: number, pad: number) =>
      (await programs(x, w, stride, pad, 'v6')).filter((n) => !/winograd_f2\.(filter|input|\d+x\d+)$/.test(n)).map((n) => (n.includes('winograd') ? 'winograd' : n.includes('pointwise') ? 'pointwise' : n.includes('.direct') ? 'direct' : 'tile'));
    expect(await kinds([1, 40, 8, 8], [33, 40, 3, 3], 1, 1)).toEqual(['winograd', 'winograd', 'tile']); // sums 40 and 33; dw: 33 > 32 channels
    expect(await kinds([1, 40, 8, 8], [16, 40, 3, 3], 1, 1)).toEqual(['winograd', 'tile', 'direct']); // dx sums only 16 (and has 40 channels)
    expect(await kinds([1, 31, 7, 5], [32, 31, 3, 3], 1, 0)).toEqual(['direct', 'winograd', 'direct']); // the forward sums 31
    expect(await kinds([2, 8, 16, 16], [16, 8, 3, 3], 1, 1)).toEqual(['direct', 'direct', 'direct']);
    expect(await kinds([1, 40, 9, 9], [48, 40, 3, 3], 2, 1)).toEqual(['tile', 'tile', 'tile']); // stride 2
    expect(await kinds([1, 8, 9, 9], [16, 8, 1, 1], 2, 0)).toEqual(['pointwise', 'tile', 'tile']); // the shortcut
  });
});

describeGpu('conv2d: the direct kernel against the CPU reference, and a deliberately broken copy of it', () => {
  beforeAll(requireGpu);
  // The forward of [2, 5, 7, 19] with 11 output channels (two channel groups, the second partial;
  // two pixel runs, the second partial), dispatched as conv2d_direct.wgsl directly.
  const run = async (text: string) => {
    const spec = {
      name: `test.direct.${text.length}`,
      category: 'conv' as const,
      ...composeWgsl({ path: 'shaders/conv2d_direct.wgsl', text }, { constants: DIRECT_BLOCK, includes: [{ path: 'shaders/conv2d_direct_weights_plain.wgsl', text: directWeightsPlainWgsl }, { path: 'shaders/conv2d_no_bias.wgsl', text: noBiasWgsl }, STORE] }),
      bindings: { src: 'read', weight: 'read', out: 'read_write', params: 'uniform' } as const,
    };
    const [n, c, h, w, co] = [2, 5, 7, 19, 11];
    const x = Tensor.from(rand([n, c, h, w], 1), [n, c, h, w], 'webgpu');
    const wt = Tensor.from(rand([co, c, 3, 3], 2), [co, c, 3, 3], 'webgpu');
    const y = Tensor.zeros([n, co, h, w], 'webgpu');
    const [gx, gy] = grid1d(n * h * Math.ceil(w / DIRECT_BLOCK.PX), 64);
    const u = { batch: n, cin: c, h, w, cout: co, ho: h, wo: w, pad: 1, wBase: 0, wO: c * 9, wI: 9, wR: 3, wS: 1 };
    gpu().dispatch(spec, { src: x.gpuBuf(), weight: wt.gpuBuf(), out: y.gpuBuf() }, u, [gx, gy, Math.ceil(co / DIRECT_BLOCK.CO)], { cost: ZERO_COST });
    const got = await y.toArray();
    const want = conv2d(Tensor.from(rand([n, c, h, w], 1), [n, c, h, w]), Tensor.from(rand([co, c, 3, 3], 2), [co, c, 3, 3]), undefined, { stride: 1, pad: 1 }).cpuData();
    for (const t of [x, wt, y]) t.release();
    return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
  };
  it('matches as written; with the taps at s = 1 unshifted it does not', async () => {
    expect(await run(directWgsl)).toBeLessThan(CONV_TOL.atol);
    const broken = directWgsl.replace('vec4(x0.yzw, x1.x), vec4(x1.yzw, x2.x)', 'x0, vec4(x1.yzw, x2.x)');
    expect(broken).not.toBe(directWgsl);
    expect(await run(broken)).toBeGreaterThan(0.1);
  });
});

describeGpu('conv2d winograd-f2: Winograd F(2x2, 3x3) forward and input gradient', () => {
  beforeAll(requireGpu);
  const geom = (x: Shape4, w: Shape4, stride: number, pad: number): ConvGeometry => ({
    batch: x[0], cin: x[1], h: x[2], w: x[3], cout: w[0], kh: w[2], kw: w[3], ho: convOutSize(x[2], w[2], stride, pad), wo: convOutSize(x[3], w[3], stride, pad), stride, pad,
  });

  it("wrn check's cases (N=1, odd 7x5, H=W=1, Cin 3 / Cout 5, pad 0/1/2, 84 blocks) pass within the bound, with the three Winograd kernels", async () => {
    const rt = gpu();
    const cases = winogradCases();
    expect(cases.map((c) => c.name)).toContain('winograd-f2: conv2d.forward (N=1, Cin=3, Cout=5, 7x5, pad 0)');
    expect(cases).toHaveLength(12);
    for (const c of cases) {
      const k = c.make();
      rt.startCostLog();
      let err: { maxAbsErr: number };
      try {
        err = await compareKernel(k);
      } finally {
        const log = rt.stopCostLog();
        const kernel = c.name.includes('backward_input') ? 'backward_input' : 'forward';
        const bias = k.inputs.length === 3 ? '.bias' : '';
        const names = log.map((r) => r.label.split(' ')[0]);
        expect(names.length, c.name).toBe(4);
        expect(names, c.name).toEqual([`conv2d.${kernel}.winograd_f2.filter`, `conv2d.${kernel}.winograd_f2.input`, expect.stringMatching(new RegExp(`^conv2d\\.${kernel}\\.winograd_f2\\.\\d+x\\d+$`)), `conv2d.${kernel}.winograd_f2.output${bias}`]);
        // The conv's work, booked once (on the GEMMs) as every implementation books it: 2 x N x Cout x Ho x Wo x Cin x 9 (+ the bias adds).
        const w = k.inputs[1].shape;
        const y = kernel === 'forward' ? (k.outputs[0] as number[]) : k.inputs[0].shape; // y, or dy
        const outputs = y.reduce((a, b) => a * b);
        expect(log.reduce((f, r) => f + r.cost.flops, 0), c.name).toBe(2 * outputs * w[1] * 9 + (bias ? outputs : 0));
      }
      // The bound is loose (measured errors sit far below it) yet far below a bug's error (~0.1-10).
      expect(err.maxAbsErr, c.name).toBeLessThan(k.tol.atol);
      expect(k.tol.atol).toBeLessThan(1e-3);
    }
  });

  it('its GEMMs under every tile shape a profile can pick, with partial tiles in M, N and K (forward and input gradient)', async () => {
    const rt = gpu();
    // Cin 37 and Cout 19: K = 37 is one full K-step and a partial one at TK 32, M = 19 or 37 is a
    // partial 16-row tile and a partial 64-row one; 7x9 images: odd, 4x5 blocks, 40 columns.
    const x: Shape4 = [2, 37, 7, 9];
    const w: Shape4 = [19, 37, 3, 3];
    const p: Conv2dParams = { stride: 1, pad: 1 };
    const y: Shape4 = [2, 19, 7, 9];
    for (const t of TILE_SHAPES) {
      const prev = rt.setProfile({ ...rt.profile, conv2d: { ...rt.profile.conv2d, tiles: [t], forward: [{ use: 'winograd-f2' }, { use: 'tile-blocked' }], backwardInput: [{ use: 'winograd-f2' }, { use: 'tile-blocked' }] } });
      rt.startCostLog();
      try {
        await compareKernel({ kernel: conv2dForwardKernel, inputs: [input(x, 1), input(w, 2), input([19], 3)], outputs: [y], params: p, tol: winogradTolerance(37) });
        await compareKernel({ kernel: conv2dBackwardInputKernel, inputs: [input(y, 4), input(w, 2)], outputs: [x], params: p, tol: winogradTolerance(19) });
      } finally {
        const gemms = rt.stopCostLog().map((r) => r.label.split(' ')[0]).filter((n) => /winograd_f2\.\d+x\d+$/.test(n));
        rt.setProfile(prev);
        expect(gemms).toEqual([`conv2d.forward.winograd_f2.${t.tm}x${t.tn}`, `conv2d.backward_input.winograd_f2.${t.tm}x${t.tn}`]);
      }
    }
  });

  it('the bound: sqrt(channels + 11) * 2^-24 * (64 * channels + 1) plus the reference rounding, no rtol', () => {
    expect(winogradTolerance(3).atol).toBeCloseTo(4.47e-5, 6);
    expect(winogradTolerance(40).atol).toBeCloseTo(1.11e-3, 4);
    expect(winogradTolerance(640).atol).toBeCloseTo(6.26e-2, 3);
    expect(winogradTolerance(16).rtol).toBe(0);
    const impl = convImplementation('backward_input', 'winograd-f2');
    expect(impl.tolerance!(geom([1, 3, 5, 5], [40, 3, 3, 3], 1, 1))).toEqual(winogradTolerance(40)); // the input gradient sums over Cout
    expect(convImplementation('forward', 'winograd-f2').tolerance!(geom([1, 3, 5, 5], [40, 3, 3, 3], 1, 1))).toEqual(winogradTolerance(3));
  });

  it('supports 3x3 stride 1 pad 0-2 only, and only while U and V fit a buffer; no filter gradient', () => {
    const rt = gpu();
    for (const kernel of ['forward', 'backward_input'] as const) {
      const impl = convImplementation(kernel, 'winograd-f2');
      for (const pad of [0, 1, 2]) expect(impl.supports(geom([1, 3, 7, 5], [5, 3, 3, 3], 1, pad), rt), `${kernel} pad ${pad}`).toBe(true);
      expect(impl.supports(geom([1, 3, 7, 5], [5, 3, 3, 3], 1, 3), rt)).toBe(false); // the input gradient would need pad -1
      expect(impl.supports(geom([1, 3, 8, 8], [5, 3, 3, 3], 2, 1), rt)).toBe(false); // stride 2
      expect(impl.supports(geom([1, 3, 8, 8], [5, 3, 1, 1], 1, 0), rt)).toBe(false); // 1x1
      expect(impl.supports(geom([1, 3, 8, 8], [5, 3, 5, 5], 1, 2), rt)).toBe(false); // 5x5
      // V is 64 bytes per 2x2 block and channel: 4x the source. Past the binding limit it is refused.
      const small = { limits: { maxStorageBufferBindingSize: 64 * 3 * 16, maxBufferSize: rt.limits.maxBufferSize } } as unknown as GpuRuntime; // (Dawn's limits are getters: no spread)
      expect(impl.supports(geom([1, 3, 8, 8], [3, 3, 3, 3], 1, 1), small)).toBe(true); // 16 blocks x 3 channels
      expect(impl.supports(geom([1, 3, 10, 8], [3, 3, 3, 3], 1, 1), small)).toBe(false); // 20 blocks
    }
    expect(() => convImplementation('backward_filter', 'winograd-f2')).toThrow(/conv2d\.backward_filter has no implementation 'winograd-f2'/);
    // Every name a profile, a cache or a checkpoint may hold is in the table.
    const all = new Set(CONV_KERNELS.flatMap((k) => CONV_IMPLEMENTATIONS[k].map((i) => i.name)));
    expect([...all].sort()).toEqual([...CONV_IMPLEMENTATION_NAMES].sort());
  });

  it('conv2d v6 (the cpu-adapter profile) prefers it where its GEMMs sum >= 32 channels, no older version and not the gpu profile; a tuned choice selects it per bucket where it applies, elsewhere the preferences run', () => {
    const rt = gpu();
    const KEY = { forward: 'forward', backward_input: 'backwardInput', backward_filter: 'backwardFilter' } as const;
    const uses = (choice: (typeof KERNEL_VERSIONS.conv2d)[number]['choice'], kernel: ConvKernel) => choice[KEY[kernel]].filter((p) => p.use === 'winograd-f2');
    for (const choice of [makeProfile('gpu').conv2d, ...KERNEL_VERSIONS.conv2d.filter((k) => k.name < 'v6').map((k) => k.choice)]) {
      for (const kernel of CONV_KERNELS) expect(uses(choice, kernel)).toEqual([]);
    }
    for (const choice of [KERNEL_VERSIONS.conv2d.find((k) => k.name === 'v6')!.choice, makeProfile('cpu-adapter').conv2d]) {
      expect(uses(choice, 'forward')).toEqual([{ use: 'winograd-f2', minSummedChannels: 32 }]);
      expect(uses(choice, 'backward_input')).toEqual([{ use: 'winograd-f2', minSummedChannels: 32 }]);
      expect(uses(choice, 'backward_filter')).toEqual([]);
    }
    const g = geom([1, 8, 9, 9], [16, 8, 3, 3], 1, 1);
    const down = geom([1, 8, 9, 9], [16, 8, 3, 3], 2, 1);
    for (const name of PROFILE_NAMES) {
      const prev = rt.setProfile(makeProfile(name));
      try {
        for (const kernel of ['forward', 'backward_input'] as const) expect(chooseConv(kernel, g).name, `${name} ${kernel}`).not.toBe('winograd-f2');
        const chosen = { [convBucket('forward', g)]: 'winograd-f2', [convBucket('backward_input', g)]: 'winograd-f2', [convBucket('forward', down)]: 'winograd-f2' } as const;
        rt.setProfile(withChosen(rt.profile, chosen));
        expect(chooseConv('forward', g).name).toBe('winograd-f2');
        expect(chooseConv('backward_input', g).name).toBe('winograd-f2');
        expect(chooseConv('forward', down).name).toBe(chooseConv('forward', down, { ...rt, profile: makeProfile(name) } as never).name); // stride 2: refused, the static choice runs
        expect(chooseConv('forward', down).name).not.toBe('winograd-f2');
      } finally {
        rt.setProfile(prev);
      }
    }
  });

  it('conv2d op under a tuned winograd-f2 choice: forward and gradients match the CPU (the filter gradient on the static choice)', async () => {
    const rt = gpu();
    const g = geom([1, 3, 7, 5], [5, 3, 3, 3], 1, 1);
    const prev = rt.setProfile(withChosen(rt.profile, { [convBucket('forward', g)]: 'winograd-f2', [convBucket('backward_input', g)]: 'winograd-f2' }));
    try {
      rt.startCostLog();
      await compareOnDevices(([x, w, b]) => conv2d(x, w, b, { stride: 1, pad: 1 }), [input([1, 3, 7, 5], 1), input([5, 3, 3, 3], 2), input([5], 3)], { atol: Math.max(CONV_TOL.atol, winogradTolerance(5).atol), rtol: CONV_TOL.rtol }); // dx sums 5 channels; dw (tiled or direct) keeps CONV_TOL
      expect(rt.stopCostLog().some((r) => r.label.startsWith('conv2d.backward_input.winograd_f2.output '))).toBe(true);
    } finally {
      rt.setProfile(prev);
    }
  });
});

describeGpu('conv2d direct-s2 (3x3 stride 2 forward) and pointwise (1x1, all three kernels)', () => {
  beforeAll(requireGpu);
  const geom = (x: Shape4, w: Shape4, stride: number, pad: number): ConvGeometry => ({
    batch: x[0], cin: x[1], h: x[2], w: x[3], cout: w[0], kh: w[2], kw: w[3], ho: convOutSize(x[2], w[2], stride, pad), wo: convOutSize(x[3], w[3], stride, pad), stride, pad,
  });

  it("wrn check's cases (N=1, odd sizes, H=W=1, pads 0-3, stride 3, > 64 items, split rows) pass, each on its own kernel, counting the conv's work", async () => {
    const rt = gpu();
    const cases = directStridedCases();
    expect(cases.map((c) => c.name)).toContain('pointwise: conv2d.backward_filter (H=W=1, 1x1 stride 2 pad 0)');
    expect(cases).toHaveLength(6 + 3 * 6);
    for (const c of cases) {
      const k = c.make();
      const [impl, kernel] = c.name.match(/^([\w-]+): conv2d\.(\w+) /)!.slice(1);
      rt.startCostLog();
      try {
        await compareKernel(k);
      } finally {
        const log = rt.stopCostLog();
        const names = log.map((r) => r.label.split(' ')[0]);
        const bias = k.inputs.length === 3 ? '.bias' : '';
        expect(names.filter((n) => n !== 'conv2d.reduce_splits'), c.name).toEqual([`conv2d.${kernel}.${impl.replace('-', '_')}${bias}`]);
        // 2 x N x Cout x Ho x Wo x Cin x K x K (+ the bias adds), as every implementation books it.
        const [w, y] = kernel === 'backward_filter' ? [k.outputs[0] as number[], k.inputs[1].shape] : kernel === 'forward' ? [k.inputs[1].shape, k.outputs[0] as number[]] : [k.inputs[1].shape, k.inputs[0].shape];
        const outputs = y.reduce((a, b) => a * b);
        const conv = log.filter((r) => !r.label.startsWith('conv2d.reduce_splits'));
        expect(conv.reduce((f, r) => f + r.cost.flops, 0), c.name).toBe(2 * outputs * w[1] * w[2] * w[3] + (bias ? outputs : 0));
      }
    }
    // The large pointwise filter gradient is split over the rows (partials, then their sum); H=W=1 is not.
    const splitOf = async (name: string) => {
      rt.startCostLog();
      await compareKernel(cases.find((c) => c.name === name)!.make());
      return rt.stopCostLog().some((r) => r.label.startsWith('conv2d.reduce_splits'));
    };
    expect(await splitOf('pointwise: conv2d.backward_filter (N=2, Cin=13, Cout=11, 35x35 (108 items, split rows), 1x1 stride 2 pad 0)')).toBe(true);
    expect(await splitOf('pointwise: conv2d.backward_filter (H=W=1, 1x1 stride 2 pad 0)')).toBe(false);
  });

  it('direct-s2 as written matches; with the last pixel\'s third tap read one column early it does not', async () => {
    // [2, 5, 7, 19] with 11 output channels at stride 2 pad 1: 4x10 outputs, two runs of 8 pixels
    // (the second partial), two channel groups (the second partial); conv2d_direct_s2.wgsl dispatched directly.
    const run = async (text: string) => {
      const spec = {
        name: `test.direct_s2.${text.length}`,
        category: 'conv' as const,
        ...composeWgsl({ path: 'shaders/conv2d_direct_s2.wgsl', text }, { constants: { PX: 8, CO: 8 }, includes: [{ path: 'shaders/conv2d_no_bias.wgsl', text: noBiasWgsl }, STORE] }),
        bindings: { x: 'read', weight: 'read', out: 'read_write', params: 'uniform' } as const,
      };
      const [n, c, h, w, co] = [2, 5, 7, 19, 11];
      const [ho, wo] = [convOutSize(h, 3, 2, 1), convOutSize(w, 3, 2, 1)];
      const x = Tensor.from(rand([n, c, h, w], 1), [n, c, h, w], 'webgpu');
      const wt = Tensor.from(rand([co, c, 3, 3], 2), [co, c, 3, 3], 'webgpu');
      const y = Tensor.zeros([n, co, ho, wo], 'webgpu');
      const [gx, gy] = grid1d(n * ho * Math.ceil(wo / 8), 64);
      gpu().dispatch(spec, { x: x.gpuBuf(), weight: wt.gpuBuf(), out: y.gpuBuf() }, { batch: n, cin: c, h, w, cout: co, ho, wo, pad: 1 }, [gx, gy, Math.ceil(co / 8)], { cost: ZERO_COST });
      const got = await y.toArray();
      const want = conv2d(Tensor.from(rand([n, c, h, w], 1), [n, c, h, w]), Tensor.from(rand([co, c, 3, 3], 2), [co, c, 3, 3]), undefined, { stride: 2, pad: 1 }).cpuData();
      for (const t of [x, wt, y]) t.release();
      return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want[i])), 0);
    };
    expect(await run(directS2Wgsl)).toBeLessThan(CONV_TOL.atol);
    const broken = directS2Wgsl.replace('vec4(v2.z, v3.xz, v16)', 'vec4(v2.z, v3.xz, v3.w)');
    expect(broken).not.toBe(directS2Wgsl);
    expect(await run(broken)).toBeGreaterThan(0.1);
  });

  it('supports exactly: direct-s2 3x3 stride 2 (any pad; forward only), pointwise 1x1 (any stride and pad; all three kernels)', () => {
    const rt = gpu();
    const s2 = convImplementation('forward', 'direct-s2');
    for (const pad of [0, 1, 2, 3]) expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 3, 3], 2, pad), rt), `pad ${pad}`).toBe(true);
    expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 3, 3], 1, 1), rt)).toBe(false); // stride 1: the direct kernel's
    expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 3, 3], 3, 1), rt)).toBe(false);
    expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 1, 1], 2, 0), rt)).toBe(false);
    expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 5, 5], 2, 2), rt)).toBe(false);
    expect(s2.supports(geom([1, 3, 9, 9], [5, 3, 3, 1], 2, 1), rt)).toBe(false);
    for (const kernel of ['backward_input', 'backward_filter'] as const) expect(() => convImplementation(kernel, 'direct-s2')).toThrow(new RegExp(`conv2d\\.${kernel} has no implementation 'direct-s2'`));
    for (const kernel of CONV_KERNELS) {
      const pw = convImplementation(kernel, 'pointwise');
      for (const [stride, pad] of [[1, 0], [2, 0], [2, 1], [3, 2]]) expect(pw.supports(geom([1, 3, 7, 5], [5, 3, 1, 1], stride, pad), rt), `${kernel} s${stride} p${pad}`).toBe(true);
      expect(pw.supports(geom([1, 3, 7, 5], [5, 3, 3, 3], 1, 1), rt)).toBe(false);
      expect(pw.supports(geom([1, 3, 7, 5], [5, 3, 1, 3], 1, 1), rt)).toBe(false);
    }
  });

  it("direct-s2 is no profile's or version's choice, pointwise only v6's (the cpu-adapter profile's) 1x1 forward; a tuned choice selects either per bucket where it applies, elsewhere the preferences run", () => {
    const rt = gpu();
    const KEY = { forward: 'forward', backward_input: 'backwardInput', backward_filter: 'backwardFilter' } as const;
    const choices = [...PROFILE_NAMES.map((n) => [n, makeProfile(n).conv2d] as const), ...KERNEL_VERSIONS.conv2d.map((k) => [k.name, k.choice] as const)];
    for (const [label, choice] of choices) {
      for (const kernel of CONV_KERNELS) {
        const uses = choice[KEY[kernel]].map((p) => p.use);
        if (kernel === 'forward' && (label === 'v6' || label === 'cpu-adapter')) expect(uses[0], label).toBe('pointwise');
        else expect(uses, `${label} ${kernel}`).not.toContain('pointwise');
      }
      expect(choice.forward.map((p) => p.use)).not.toContain('direct-s2');
    }
    const down = geom([1, 8, 9, 9], [16, 8, 3, 3], 2, 1);
    const shortcut = geom([1, 8, 9, 9], [16, 8, 1, 1], 2, 0);
    const flat = geom([1, 8, 9, 9], [16, 8, 3, 3], 1, 1);
    for (const name of PROFILE_NAMES) {
      const prev = rt.setProfile(makeProfile(name));
      try {
        expect(chooseConv('forward', down).name).not.toBe('direct-s2');
        for (const kernel of CONV_KERNELS) {
          const picked = chooseConv(kernel, shortcut).name;
          if (kernel === 'forward' && name === 'cpu-adapter') expect(picked).toBe('pointwise');
          else expect(picked, `${name} ${kernel}`).not.toBe('pointwise');
        }
        const staticFlat = chooseConv('forward', flat).name;
        const chosen = Object.fromEntries([
          [convBucket('forward', down), 'direct-s2'],
          [convBucket('forward', flat), 'direct-s2'], // not 3x3 stride 2: refused, the static choice runs
          ...CONV_KERNELS.map((k) => [convBucket(k, shortcut), 'pointwise']),
        ]);
        rt.setProfile(withChosen(rt.profile, chosen));
        expect(chooseConv('forward', down).name).toBe('direct-s2');
        for (const kernel of CONV_KERNELS) expect(chooseConv(kernel, shortcut).name).toBe('pointwise');
        expect(chooseConv('forward', flat).name).toBe(staticFlat);
      } finally {
        rt.setProfile(prev);
      }
    }
  });

  it('conv2d op under tuned choices (a WRN stage entry: 3x3 stride 2 and its 1x1 stride-2 shortcut): forward and gradients match the CPU', async () => {
    const rt = gpu();
    const down = geom([2, 6, 9, 9], [10, 6, 3, 3], 2, 1);
    const shortcut = geom([2, 6, 9, 9], [10, 6, 1, 1], 2, 0);
    const chosen = Object.fromEntries([[convBucket('forward', down), 'direct-s2'], ...CONV_KERNELS.map((k) => [convBucket(k, shortcut), 'pointwise'])]);
    const prev = rt.setProfile(withChosen(rt.profile, chosen));
    try {
      rt.startCostLog();
      await compareOnDevices(([x, w, b]) => conv2d(x, w, b, { stride: 2, pad: 1 }), [input([2, 6, 9, 9], 1), input([10, 6, 3, 3], 2), input([10], 3)], CONV_TOL);
      await compareOnDevices(([x, w]) => conv2d(x, w, undefined, { stride: 2, pad: 0 }), [input([2, 6, 9, 9], 1), input([10, 6, 1, 1], 2)], CONV_TOL);
      const names = rt.stopCostLog().map((r) => r.label.split(' ')[0]);
      for (const n of ['conv2d.forward.direct_s2.bias', 'conv2d.forward.pointwise', 'conv2d.backward_input.pointwise', 'conv2d.backward_filter.pointwise']) expect(names).toContain(n);
    } finally {
      rt.setProfile(prev);
    }
  });
});

describe('conv2d shape errors', () => {
  const x = () => Tensor.zeros([2, 3, 8, 8]);
  const w = () => Tensor.zeros([4, 3, 3, 3]);
  it('rank of x', () => expect(() => conv2d(Tensor.zeros([3, 8, 8]), w(), undefined, { pad: 1 })).toThrow(/conv2d: x has shape \[3, 8, 8\]; expected rank 4 \(\[N, Cin, H, W\]\)/));
  it('rank of weight', () => expect(() => conv2d(x(), Tensor.zeros([4, 27]), undefined)).toThrow(/conv2d: weight has shape \[4, 27\]; expected rank 4 \(\[Cout, Cin, KH, KW\]\)/));
  it('Cin mismatch', () => expect(() => conv2d(x(), Tensor.zeros([4, 5, 3, 3]), undefined)).toThrow(/conv2d: x \[2, 3, 8, 8\] has 3 channels but weight \[4, 5, 3, 3\] expects 5/));
  it('bias shape', () => expect(() => conv2d(x(), w(), Tensor.zeros([3]))).toThrow(/conv2d: bias \[3\] must be \[Cout\] = \[4\]/));
  it('output smaller than 1', () => expect(() => conv2d(Tensor.zeros([1, 3, 2, 2]), w(), undefined, { pad: 0 })).toThrow(/conv2d: a 3x3 kernel with stride 1 and pad 0 does not fit x \[1, 3, 2, 2\]/));
  it('bad stride', () => {
    expect(() => conv2d(x(), w(), undefined, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1, got 0/);
    expect(() => conv2d(x(), w(), undefined, { stride: 1.5 })).toThrow(/conv2d: stride must be an integer >= 1, got 1.5/);
  });
  it('bad pad', () => expect(() => conv2d(x(), w(), undefined, { pad: -1 })).toThrow(/conv2d: pad must be an integer >= 0, got -1/));
  it('empty dimension', () => expect(() => conv2d(Tensor.zeros([0, 3, 8, 8]), w(), undefined)).toThrow(/conv2d: x \[0, 3, 8, 8\] and weight \[4, 3, 3, 3\] must have no empty dimension/));
  it('dy of the wrong shape for the backward helpers', () => {
    const dy = Tensor.zeros([2, 4, 7, 7]);
    expect(() => conv2dBackwardInput(dy, w(), [2, 3, 8, 8], { stride: 1, pad: 1 })).toThrow(/conv2dBackwardInput: dy \[2, 4, 7, 7\] must be \[2, 4, 8, 8\] for x \[2, 3, 8, 8\]/);
    expect(() => conv2dBackwardFilter(x(), dy, [4, 3, 3, 3], { stride: 2, pad: 1 })).toThrow(/conv2dBackwardFilter: dy \[2, 4, 7, 7\] must be \[2, 4, 4, 4\]/);
  });
  it('output shape', () => {
    expect(conv2d(x(), w(), undefined, { stride: 2, pad: 1 }).shape).toEqual([2, 4, 4, 4]);
    expect(conv2d(x(), Tensor.zeros([6, 3, 1, 1]), undefined, { stride: 2 }).shape).toEqual([2, 6, 4, 4]);
  });
});
