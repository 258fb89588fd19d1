// The Wide-ResNet: every variant takes the same training step on both backends, deep nets behave
// as the paper predicts, and bad configurations are clear errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor, scope, noGrad, mean, mul } from '../src/index.js';
import { softmaxCrossEntropy, labelsTensor } from '../src/ops/loss.js';
import { WideResNet, VARIANTS, blocksPerStage, type Variant } from '../src/model/wrn.js';
import { compareArrays, describeGpu, rand, requireGpu } from './helpers/optest.js';

const IMG = [2, 3, 16, 16]; // 16x16 keeps the CPU reference fast; the net is size-agnostic

/** One training step's loss and every parameter's gradient. */
async function stepOn(variant: Variant, device: 'cpu' | 'webgpu') {
  const model = new WideResNet({ depth: 10, widen: 1, variant, seed: 3, alphaInit: variant === 'skipinit' ? 0.5 : 0 }, device);
  // SkipInit's alpha = 0 makes every branch gradient except alpha's exactly zero; 0.5 exercises them.
  const loss = scope(() => {
    const x = Tensor.from(rand(IMG, 7), IMG, device);
    const labels = labelsTensor([3, 8], 10, device);
    const l = softmaxCrossEntropy(model.forward(x, true, 11), labels);
    l.backward();
    return l;
  });
  const value = await loss.item();
  const grads = new Map<string, Float32Array>();
  for (const p of model.params) grads.set(p.name, await p.tensor.grad!.toArray());
  model.release();
  loss.release();
  return { value, grads };
}

describeGpu('WRN-10-1: one training step matches on webgpu and cpu', () => {
  beforeAll(requireGpu);
  for (const variant of VARIANTS) {
    it(variant, async () => {
      const cpu = await stepOn(variant, 'cpu');
      const gpu = await stepOn(variant, 'webgpu');
      // f32 kernels vs the f32-stored/f64-accumulated reference through ~10 layers: rounding
      // differences of ~1e-6 relative per layer compound; 1e-4 relative on the loss and 2e-3
      // relative (with an absolute floor scaled to each gradient's size) on gradients.
      expect(Math.abs(gpu.value - cpu.value)).toBeLessThan(1e-4 * Math.abs(cpu.value));
      for (const [name, g] of cpu.grads) {
        const scaleOf = Math.max(...Array.from(g, Math.abs));
        compareArrays(`${variant} grad ${name}`, gpu.grads.get(name)!, g, { atol: 1e-3 * scaleOf + 1e-7, rtol: 2e-3 });
      }
    });
  }
});

describeGpu('deep WRNs at init (depth 604: 300 blocks)', () => {
  beforeAll(requireGpu);
  const DEEP = [2, 3, 8, 8];
  const probeVariances = (variant: Variant) => {
    const model = new WideResNet({ depth: 604, widen: 1, variant, seed: 1 }, 'webgpu');
    const vars: Tensor[] = [];
    const logits = noGrad(() =>
      scope(() => {
        const x = Tensor.from(rand(DEEP, 5), DEEP, 'webgpu');
        return model.forward(x, true, 0, (i, out) => {
          if (i % 25 === 0) vars.push(mean(mul(out, out)).keep()); // second moment after block i
        });
      }),
    );
    return { model, logits, vars };
  };

  it('skipinit takes a training step without NaN', async () => {
    const model = new WideResNet({ depth: 604, widen: 1, variant: 'skipinit', seed: 1 }, 'webgpu');
    const loss = scope(() => {
      const l = softmaxCrossEntropy(model.forward(Tensor.from(rand(DEEP, 5), DEEP, 'webgpu'), true), labelsTensor([1, 2], 10, 'webgpu'));
      l.backward();
      return l;
    });
    const v = await loss.item();
    expect(Number.isFinite(v)).toBe(true);
    expect(Math.abs(v - Math.log(10))).toBeLessThan(1); // near chance at init
    for (const p of model.params) {
      const g = await p.tensor.grad!.toArray();
      expect(g.every(Number.isFinite), `gradient of ${p.name}`).toBe(true);
    }
    loss.release();
    model.release();
  });

  it('unnormalized explodes (about 2x per block, then f32 overflow); skipinit stays at the input scale', async () => {
    const un = probeVariances('unnormalized');
    const si = probeVariances('skipinit');
    const u = await Promise.all(un.vars.map((t) => t.item()));
    const s = await Promise.all(si.vars.map((t) => t.item()));
    console.log(`second moment after blocks 0, 25, 50, ...: unnormalized ${u.map((v) => v.toExponential(1)).join(' ')}`);
    console.log(`                                            skipinit     ${s.map((v) => v.toExponential(1)).join(' ')}`);
    // The paper's analysis predicts 2x per block (2^25 ~ 3e7 over 25 blocks). On 8x8 images the
    // zero padding of the 3x3 convs drops ~16% of each conv's taps, so ~1.7x per block here.
    expect(u[1] / u[0]).toBeGreaterThan(1.5 ** 25);
    expect(u.some((v) => !Number.isFinite(v))).toBe(true); // overflowed before block 300
    expect(s.every((v) => Number.isFinite(v) && v / s[0] > 0.1 && v / s[0] < 10)).toBe(true);
    for (const r of [un, si]) {
      r.vars.forEach((t) => t.release());
      r.logits.release();
      r.model.release();
    }
  });
});

describe('WRN configuration errors', () => {
  it('depth must be 6N + 4', () => {
    expect(() => blocksPerStage(12)).toThrow('WRN depth must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...), got 12');
    expect(() => new WideResNet({ depth: 10, widen: 0, variant: 'bn' }, 'cpu')).toThrow(/width factor must be a positive integer, got 0/);
    expect(() => new WideResNet({ depth: 10, widen: 1, variant: 'batchnorm' as Variant }, 'cpu')).toThrow(/unknown WRN variant 'batchnorm'/);
  });
  it('WRN-16-4 has about 2.75M parameters', () => {
    const m = new WideResNet({ depth: 16, widen: 4, variant: 'bn' }, 'cpu');
    expect(m.parameterCount).toBeGreaterThan(2.7e6);
    expect(m.parameterCount).toBeLessThan(2.8e6);
    m.release();
  });
  it('the input must be [N, 3, H, W]', () => {
    const m = new WideResNet({ depth: 10, widen: 1, variant: 'bn' }, 'cpu');
    expect(() => m.forward(Tensor.zeros([2, 1, 8, 8]), true)).toThrow(/input \[2,1,8,8\] must be \[N, 3, H, W\]/);
    m.release();
  });
});
