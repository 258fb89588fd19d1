// The bn-fused arm: every fused kernel under every tiled implementation a profile can select
// against conv-then-BN on the CPU; the fused op against the unfused composition and finite
// differences (CPU, float64); and a WRN trained with it against the unfused BN model.
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu, mul, scope, sum, Tensor } from '../src/index.js';
import type { CpuArray } from '../src/tensor.js';
import { CONV_IMPLEMENTATIONS, chooseConv, chooseTiled, convBucket, withTiledConvs, type ConvKernel } from '../src/gpu/programs/conv2d.js';
import { TILES } from '../src/gpu/profile.js';
import { batchNorm, type BatchNormState } from '../src/ops/batchnorm.js';
import { addBnStats, bnReluConv2d, FUSED_CHECKS, runningStats } from '../src/ops/bn_fused.js';
import { conv2d } from '../src/ops/conv2d.js';
import { add } from '../src/ops/elementwise.js';
import { WideResNet } from '../src/model/wrn.js';
import { readStatus, trainStep } from '../src/train/step.js';
import { compareKernel, describeGpu, gradCheck, input, rand, requireGpu, type Input } from './helpers/optest.js';

const TILED = CONV_IMPLEMENTATIONS.forward.filter((i) => i.tiled).map((i) => i.name);
const KEY = { forward: 'forward', backward_input: 'backwardInput', backward_filter: 'backwardFilter' } as const;

describeGpu('bn-fused kernels: every tiled implementation and tile shape against conv-then-BN on the CPU', () => {
  beforeAll(requireGpu);
  it('the fused kernels run as each tiled implementation, and as a tiled preference where the profile picks a direct kernel', () => {
    expect(TILED).toEqual(['tile-blocked', 'tile-strided', 'tile-64']);
    const rt = gpu();
    const g = { batch: 2, cin: 16, h: 8, w: 8, cout: 16, kh: 3, kw: 3, ho: 8, wo: 8, stride: 1, pad: 1 };
    const prev = rt.setProfile({ ...rt.profile, conv2d: { ...rt.profile.conv2d, forward: [{ use: 'direct' }, { use: 'tile-strided' }] } });
    try {
      expect(chooseTiled('forward', g).name).toBe('tile-strided');
      rt.setProfile({ ...rt.profile, conv2d: { ...rt.profile.conv2d, forward: [{ use: 'direct' }] } });
      expect(chooseTiled('forward', g).name).toBe('tile-blocked'); // no tiled preference: the default
      // bn-tiled's profile makes unfused BN run the convolutions as the fused arm does.
      rt.setProfile({ ...prev, conv2d: { ...prev.conv2d, forward: [{ use: 'direct-subgroup', maxChannels: 32 }, { use: 'tile-strided' }], chosen: { [convBucket('forward', g)]: 'direct', [convBucket('backward_input', g)]: 'tile-64' } } });
      const tiled = withTiledConvs(rt.profile);
      expect(tiled.conv2d.forward).toEqual([{ use: 'tile-strided' }]);
      expect(tiled.conv2d.chosen).toEqual({ [convBucket('backward_input', g)]: 'tile-64' });
      for (const k of ['forward', 'backward_input', 'backward_filter'] as ConvKernel[]) expect(chooseConv(k, g, { ...rt, profile: tiled } as never).name, k).toBe(chooseTiled(k, g).name);
    } finally {
      rt.setProfile(prev);
    }
  });
  for (const impl of TILED) {
    for (const tiles of impl === 'tile-64' ? [TILES] : TILES.map((t) => [t])) {
      it(`${impl}, tiles ${tiles.map((t) => `${t.tm}x${t.tn}`).join(' ')}`, async () => {
        const rt = gpu();
        const conv2dChoice = { ...rt.profile.conv2d, tiles, chosen: undefined };
        for (const k of Object.values(KEY)) conv2dChoice[k] = [{ use: impl }];
        const prev = rt.setProfile({ ...rt.profile, conv2d: conv2dChoice });
        try {
          for (const c of FUSED_CHECKS) {
            rt.startCostLog();
            try {
              await compareKernel(c.make() as never);
            } finally {
              const names = rt.stopCostLog().map((r) => r.label.split(' ')[0]).filter((n) => n.startsWith('conv2d.') && n !== 'conv2d.reduce_splits');
              expect(names.length, c.name).toBeGreaterThan(0);
              const layout = impl === 'tile-strided' ? 'strided' : 'blocked';
              const shape = impl === 'tile-64' ? '64x64' : `${tiles[0].tm}x${tiles[0].tn}`;
              for (const n of names) expect(n, c.name).toMatch(new RegExp(`^conv2d\\.(forward|backward_input|backward_filter)\\.${shape}\\.${layout}(\\.bn-relu)?(\\.stats|\\.bn-grad)?$`));
            }
          }
        } finally {
          rt.setProfile(prev);
        }
      });
    }
  }
});

/** A fresh BN state on the CPU (running mean 0, variance 1). */
const stateOf = (c: number): BatchNormState => ({
  runningMean: Tensor.from(new Float32Array(c), [c], 'cpu').keep(),
  runningVar: Tensor.from(new Float32Array(c).fill(1), [c], 'cpu').keep(),
  momentum: 0.1,
  eps: 1e-5,
});

/** fn's output and the gradients of sum(output * fixed weights) with respect to every input, on the CPU. */
function forwardBackward(fn: (xs: Tensor[]) => Tensor, inputs: Input[]): { y: CpuArray; grads: CpuArray[] } {
  const xs = inputs.map((i) => {
    const t = Tensor.from(i.data, i.shape, 'cpu').keep();
    t.requiresGrad = true;
    return t;
  });
  const y = scope(() => {
    const out = fn(xs);
    sum(mul(out, Tensor.from(rand(out.shape, 9), out.shape, 'cpu'))).backward();
    return out;
  });
  const result = { y: y.cpuData().slice(), grads: xs.map((x) => x.grad!.cpuData().slice()) };
  y.release();
  xs.forEach((x) => (x.grad?.release(), x.release()));
  return result;
}

const close = (what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number) => {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i])));
};

describe('bnReluConv2d and addBnStats on the CPU backend', () => {
  // A stride-2 3x3 with N = 1 and odd sizes, and a 1x1 stride-2 projection with N = 3.
  const cases = [
    { x: [1, 3, 5, 7], w: [4, 3, 3, 3], stride: 2, pad: 1 },
    { x: [3, 2, 4, 3], w: [5, 2, 1, 1], stride: 2, pad: 0 },
  ];
  for (const c of cases) {
    const ch = c.x[1];
    const conv = { stride: c.stride, pad: c.pad };
    const inputs: Input[] = [input(c.x, 1, -1, 2), input(c.x, 2), input(c.w, 3), input([ch], 4, 0.5, 1.5), input([ch], 5, -0.3, 0.3)];
    /** ReLU(BN(a + b)) into conv, fused: the add yields the statistics, the conv applies the BN. */
    const fused = (states: BatchNormState[]) => ([a, b, w, gamma, beta]: Tensor[]) => {
      const state = stateOf(ch);
      states.push(state);
      const { out, stats } = addBnStats(a, b, state);
      return bnReluConv2d(out, { gamma, beta, ...stats, training: true }, w, conv).y;
    };
    const unfused = (states: BatchNormState[]) => ([a, b, w, gamma, beta]: Tensor[]) => {
      const state = stateOf(ch);
      states.push(state);
      return conv2d(batchNorm(add(a, b), gamma, beta, state, { training: true, relu: true }), w, undefined, conv);
    };
    const name = `x ${JSON.stringify(c.x)}, w ${JSON.stringify(c.w)}, stride ${c.stride}`;
    it(`equals conv2d(batchNorm(a + b, relu)): output, every gradient and the running statistics (${name})`, () => {
      const [sf, su]: BatchNormState[][] = [[], []];
      const f = forwardBackward(fused(sf), inputs);
      const u = forwardBackward(unfused(su), inputs);
      // The same f32 operations up to the order of the statistics' and the sums' additions.
      close('output', f.y, u.y, 1e-5);
      f.grads.forEach((g, k) => close(`gradient ${k}`, g, u.grads[k], 1e-5));
      close('running mean', sf[0].runningMean.cpuData(), su[0].runningMean.cpuData(), 1e-6);
      close('running var', sf[0].runningVar.cpuData(), su[0].runningVar.cpuData(), 1e-6);
    });
    it(`gradients by finite differences, training statistics from the producer (${name})`, () => {
      gradCheck(fused([]), inputs, { tol: 1e-5 });
    });
    it(`gradients by finite differences, eval mode: the running statistics (${name})`, () => {
      gradCheck(([x, , w, gamma, beta]) => {
        const state = stateOf(ch);
        state.runningMean.assign(rand([ch], 6, -0.5, 0.5));
        state.runningVar.assign(rand([ch], 7, 0.5, 2));
        return bnReluConv2d(x, { gamma, beta, ...runningStats(state), training: false }, w, conv).y;
      }, inputs, { tol: 1e-5, noGrad: [1] });
    });
  }
});

describeGpu('a WRN with BN fused into the convolutions trains as the unfused BN model does', () => {
  beforeAll(requireGpu);
  it('WRN-10-1, batch 4 of 12x12 images: the same loss at every step of a short run, and the same eval logits after it', async () => {
    const batch = { x: rand([4, 3, 12, 12], 11, -1, 1), shape: [4, 3, 12, 12] as const, labels: [3, 1, 4, 1] };
    const run = async (fuseBn: boolean) => {
      const model = new WideResNet({ depth: 10, widen: 1, variant: 'bn', fuseBn, seed: 3 }, 'webgpu');
      const velocities = model.params.map((p) => Tensor.zeros(p.tensor.shape, 'webgpu').keep());
      const losses: number[] = [];
      try {
        for (let step = 0; step < 4; step++) {
          const status = await readStatus(trainStep(model, velocities, batch, { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, dropoutSeed: 0 }));
          expect(status.nonFinite).toBe(false);
          losses.push(status.loss);
        }
        const logits = await scope(() => model.forward(Tensor.from(batch.x, batch.shape, 'webgpu'), false)).toArray();
        return { losses, logits };
      } finally {
        velocities.forEach((v) => v.release());
        model.release();
      }
    };
    const fused = await run(true);
    const unfused = await run(false);
    // The two compute the same function in f32 with the reductions' additions in another order
    // (and other convolution kernels on a CPU adapter): measured on SwiftShader, the losses of four
    // steps within 1.2e-7 relative (an ulp) and the eval logits within 5e-7; 1e-5 leaves room for
    // other adapters' summation orders, while a wrong statistic or a missing gradient term moves
    // the second step's loss by > 1e-3.
    fused.losses.forEach((l, i) => expect(Math.abs(l - unfused.losses[i]), `step ${i + 1}: ${l} vs ${unfused.losses[i]}`).toBeLessThanOrEqual(1e-5 * Math.abs(unfused.losses[i])));
    close('eval logits', fused.logits, unfused.logits, 1e-5);
    expect(unfused.losses[3]).toBeLessThan(unfused.losses[0]); // the run learns: the comparison is not between two constants
  });
});

describe('bn-fused: configurations it does not apply to are refused with the flag named', () => {
  it('fuseBn needs variant bn, in the model and in the training configuration', async () => {
    expect(() => new WideResNet({ depth: 10, widen: 1, variant: 'skipinit', fuseBn: true }, 'cpu')).toThrow(/fuseBn .* needs variant 'bn', got 'skipinit'/);
    const { validateTrainConfig, DEFAULT_TRAIN } = await import('../src/train/config.js');
    expect(() => validateTrainConfig({ ...DEFAULT_TRAIN, variant: 'fixup', fuseBn: true })).toThrow(/--fuse-bn .* needs --variant bn, got --variant fixup/);
    expect(() => validateTrainConfig({ ...DEFAULT_TRAIN, variant: 'bn', fuseBn: true })).not.toThrow();
  });
});
