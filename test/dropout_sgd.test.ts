import { describe, expect, it } from 'vitest';
import { gpu, Tensor, type Device } from '../src/index.js';
import { dropout, dropoutKeeps, dropoutKernel, pcgHash } from '../src/ops/dropout.js';
import { flagNonFinite, sgdKernel, sgdStep } from '../src/ops/sgd.js';
import { compareKernel, compareOnDevices, CPU_ONLY, describeGpuProfiles, gradCheck, input, rand, requireGpu } from './helpers/optest.js';

// Sizes: 1, odd, not a multiple of 4 (vec4 tail) or of 64 (workgroup), several workgroups.
const SHAPES = [[1], [7], [3, 5], [2, 3, 5, 7], [1031], [4, 513], [3, 7, 19, 23]];
// Kept values are x * f32(1 / (1 - p)) against f64 x / (1 - p): one rounding each. A value the two
// backends dropped differently would be off by |x| / (1 - p), far outside this.
const DROPOUT_TOL = { atol: 0, rtol: 1e-6 };
// param and velocity after one update: three f32 multiply-adds.
const SGD_TOL = { atol: 1e-7, rtol: 1e-6 };

/** The dropped positions (y == 0) of dropout applied to an all-nonzero tensor, on `device`. */
async function dropMask(n: number, p: number, seed: number, device: Device): Promise<Uint8Array> {
  const x = Tensor.from(rand([n], 9, 0.5, 1.5), [n], device);
  const y = await dropout(x, p, seed).toArray();
  return Uint8Array.from(y, (v) => (v === 0 ? 1 : 0));
}

describeGpuProfiles('dropout and sgd kernels: WGSL vs CPU reference', () => {
  for (const shape of SHAPES) {
    it(`dropout and sgd on ${JSON.stringify(shape)}`, async () => {
      for (const p of [0.1, 0.5, 0.9]) {
        await compareKernel({ kernel: dropoutKernel, inputs: [input(shape, 1)], outputs: [shape], params: { p, seed: 4242 }, tol: DROPOUT_TOL });
      }
      await compareKernel({ kernel: sgdKernel, inputs: [input(shape, 1)], outputs: [input(shape, 2), input(shape, 3), { shape: [2], data: new Float32Array(2) }], params: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }, tol: SGD_TOL });
    });
  }
  it('the exact same mask on both backends (and in dropoutKeeps)', async () => {
    for (const [n, p, seed] of [[1031, 0.3, 7], [4099, 0.5, 0xffffffff], [50_000, 0.05, 0]]) {
      const cpu = await dropMask(n, p, seed, 'cpu');
      const gpuMask = await dropMask(n, p, seed, 'webgpu');
      let differ = 0;
      for (let i = 0; i < n; i++) if (cpu[i] !== gpuMask[i]) differ++;
      expect(differ, `n=${n} p=${p} seed=${seed}`).toBe(0);
      for (let i = 0; i < n; i += 97) expect(cpu[i] === 0).toBe(dropoutKeeps(seed, i, p));
    }
  });
  it('keeps about 1 - p of a large tensor, scaled by 1 / (1 - p); different seeds give different masks', async () => {
    const n = 1 << 20;
    const p = 0.3;
    const x = Tensor.full([n], 2, 'webgpu');
    const [a, b] = await Promise.all([dropout(x, p, 1).toArray(), dropout(x, p, 2).toArray()]);
    const scaled = Math.fround(Math.fround(1 / (1 - p)) * 2); // f32 kernel arithmetic
    let keptA = 0;
    let wrongValue = 0;
    let differ = 0;
    for (let i = 0; i < n; i++) {
      if (a[i] !== 0) {
        keptA++;
        if (a[i] !== scaled) wrongValue++;
      }
      if ((a[i] === 0) !== (b[i] === 0)) differ++;
    }
    expect(wrongValue).toBe(0);
    // Binomial standard deviation sqrt(p(1-p)/n) = 4.5e-4: allow 5 sigma.
    expect(Math.abs(keptA / n - (1 - p))).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    // Independent masks differ at a fraction 2p(1-p) = 0.42 of positions (5 sigma of that too).
    expect(Math.abs(differ / n - 2 * p * (1 - p))).toBeLessThan(5 * Math.sqrt((0.42 * 0.58) / n));
  });
  it('the op on both devices: the backward reuses the forward mask', async () => {
    await compareOnDevices(([x]) => dropout(x, 0.4, 99), [input([2, 3, 5, 7], 1)], DROPOUT_TOL);
  });
  it('sgdStep on the GPU allocates nothing and is one dispatch per parameter tensor', async () => {
    const shapes = [[16, 3, 3, 3], [16], [1], [10, 17]];
    const params = shapes.map((s, i) => Tensor.from(rand(s, i), s, 'webgpu').param(`p${i}`));
    const velocities = shapes.map((s) => Tensor.zeros(s, 'webgpu').keep());
    params.forEach((p, i) => (p.grad = Tensor.from(rand(shapes[i], 10 + i), shapes[i], 'webgpu').keep()));
    const status = Tensor.zeros([2], 'webgpu').keep();
    sgdStep(params, velocities, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }, status);
    await gpu().sync();
    const before = gpu().memory();
    const dispatches = gpu().dispatchCount;
    for (let step = 0; step < 3; step++) sgdStep(params, velocities, { lr: 0.1 / (step + 1), momentum: 0.9, weightDecay: 5e-4 }, status);
    await gpu().sync();
    expect(gpu().dispatchCount - dispatches).toBe(3 * params.length);
    expect(gpu().memory()).toEqual(before);
    expect(Array.from(await status.toArray())).toEqual([0, 0]);
  });
  for (const device of ['cpu', 'webgpu'] as const) {
    it(`flagNonFinite raises status[1] for a NaN or an Inf anywhere, never for finite values or padding (${device})`, async () => {
      const flag = async (values: number[][]) => {
        const ts = values.map((v) => Tensor.from(v, [v.length], device));
        const status = Tensor.from([7, 0], [2], device);
        flagNonFinite(ts, status);
        const out = Array.from(await status.toArray());
        for (const t of [...ts, status]) t.release();
        return out;
      };
      expect(await flag([[1, 2, 3], [3.4e38, -3.4e38, 0, 5, 6]])).toEqual([7, 0]);
      expect(await flag([[1, 2, 3], [0, 0, 0, 0, NaN]])).toEqual([7, 1]); // the 5th value: in a partial vec4
      expect(await flag([[-Infinity], [1, 2]])).toEqual([7, 1]);
      const big = Array.from({ length: 1031 }, (_, i) => i);
      big[1030] = Infinity; // past the first workgroup
      expect(await flag([big])).toEqual([7, 1]);
    });
    it(`sgd flags a non-finite gradient, parameter or velocity in status[1] (${device}), and not the padding`, async () => {
      const opts = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
      const run = async (grad: number[], param: number[], lr = opts.lr) => {
        const p = Tensor.from(param, [param.length], device).param('w');
        p.grad = Tensor.from(grad, [grad.length], device).keep();
        const v = Tensor.zeros([param.length], device).keep();
        const status = Tensor.from([7, 0], [2], device).keep();
        sgdStep([p], [v], { ...opts, lr }, status);
        const out = Array.from(await status.toArray());
        for (const t of [p, p.grad, v, status]) t.release();
        return out;
      };
      expect(await run([1, 2, 3, 4, 5], [1, 1, 1, 1, 1])).toEqual([7, 0]); // finite: untouched (status[0] is the loss's slot)
      expect(await run([1, NaN, 3, 4, 5], [1, 1, 1, 1, 1])).toEqual([7, 1]);
      expect(await run([1, 2, 3, 4, Infinity], [1, 1, 1, 1, 1])).toEqual([7, 1]); // the 5th value is in the last, partial vec4
      expect(await run([1, 2, 3], [1, -Infinity, 1])).toEqual([7, 1]);
      expect(await run([3e38, 3e38, 1], [1, 1, 1], 1)).toEqual([7, 0]); // large but finite
      expect(await run([3.4e38, 1, 1], [-3.4e38, 1, 1], 1e10)).toEqual([7, 1]); // overflows to -Inf in the update
      if (device === 'webgpu') {
        // A pooled buffer whose padding (past n = 5 in the second vec4) holds NaN must not be flagged.
        const junk = [Tensor.full([8], NaN, device), Tensor.full([8], NaN, device), Tensor.full([8], NaN, device)];
        const buffers = junk.map((t) => t.gpuBuf().buffer);
        junk.forEach((t) => t.release());
        await gpu().sync();
        const p = Tensor.from([1, 1, 1, 1, 1], [5], device).param('w');
        p.grad = Tensor.from([1, 2, 3, 4, 5], [5], device).keep();
        const v = Tensor.zeros([5], device).keep();
        expect(buffers).toContain(p.gpuBuf().buffer); // the padding really is NaN
        expect(buffers).toContain(v.gpuBuf().buffer);
        const status = Tensor.from([7, 0], [2], device).keep();
        sgdStep([p], [v], opts, status);
        expect(Array.from(await status.toArray())).toEqual([7, 0]);
      }
    });
  }
});

describe('dropout gradients (finite differences, float64; the mask is fixed by the seed)', () => {
  it('dropout p = 0.4', () => void gradCheck(([x]) => dropout(x, 0.4, 1234), [input([3, 5, 4], 1)]));
  it('dropout p = 0.9 on [1, 3, 1, 1]', () => void gradCheck(([x]) => dropout(x, 0.9, 5), [input([1, 3, 1, 1], 2)]));
});

describe('dropout: identity cases, the hash, errors', () => {
  it('p = 0 or training = false returns x itself', () => {
    const x = Tensor.from([1, 2, 3], [3]);
    expect(dropout(x, 0, 1)).toBe(x);
    expect(dropout(x, 0.5, 1, false)).toBe(x);
  });
  it('the CPU kernel works on float64 storage and matches the f32 mask', () => {
    const x32 = Tensor.from(rand([257], 3), [257]);
    const y32 = dropout(x32, 0.5, 77).cpuData();
    const y64 = new Float64Array(257);
    dropoutKernel.cpu([Float64Array.from(x32.cpuData())], [y64], { p: 0.5, seed: 77 }, [[257], [257]]);
    for (let i = 0; i < 257; i++) expect(y64[i] === 0).toBe(y32[i] === 0);
  });
  it('pcgHash is the published PCG hash (u32 arithmetic)', () => {
    // pcg_hash(0): state = 2891336453; word = ((state >> ((state >> 28) + 4)) ^ state) * 277803737
    const state = 2891336453n;
    const word = (((state >> ((state >> 28n) + 4n)) ^ state) * 277803737n) & 0xffffffffn;
    expect(pcgHash(0)).toBe(Number((word >> 22n) ^ word));
    expect(pcgHash(0xffffffff)).toBeGreaterThanOrEqual(0);
    expect(pcgHash(0xffffffff)).toBeLessThan(2 ** 32);
  });
  it('p outside [0, 1) and bad seeds are rejected', () => {
    const x = Tensor.zeros([4]);
    expect(() => dropout(x, 1, 0)).toThrow(/dropout: p must be a probability in \[0, 1\), got 1/);
    expect(() => dropout(x, -0.1, 0)).toThrow(/got -0.1/);
    expect(() => dropout(x, NaN, 0)).toThrow(/got NaN/);
    expect(() => dropout(x, 0.5, -1)).toThrow(/dropout: seed must be an integer in \[0, 2\^32\), got -1/);
    expect(() => dropout(x, 0.5, 1.5)).toThrow(/got 1.5/);
  });
});

describe('sgdStep', () => {
  it('three steps match a hand-computed float64 reference (momentum, weight decay, changing lr)', async () => {
    const momentum = 0.9;
    const weightDecay = 0.01;
    const lrs = [0.1, 0.05, 0.2];
    const shapes = [[5], [2, 3]];
    const init = shapes.map((s, i) => Array.from(rand(s, 20 + i)));
    const grads = shapes.map((s, i) => Array.from(rand(s, 30 + i)));
    // PyTorch: g' = g + wd * w; v = m * v + g'; w -= lr * v (v starts at 0)
    const want = init.map((w0, i) => {
      const w = [...w0];
      const v = w.map(() => 0);
      for (const lr of lrs) {
        for (let j = 0; j < w.length; j++) {
          v[j] = momentum * v[j] + (grads[i][j] + weightDecay * w[j]);
          w[j] -= lr * v[j];
        }
      }
      return { w, v };
    });
    const devices: Device[] = CPU_ONLY ? ['cpu'] : ['cpu', 'webgpu'];
    if (devices.includes('webgpu')) await requireGpu();
    for (const device of devices) {
      const params = shapes.map((s, i) => Tensor.from(init[i], s, device).param(`p${i}`));
      const velocities = shapes.map((s) => Tensor.zeros(s, device).keep());
      params.forEach((p, i) => (p.grad = Tensor.from(grads[i], shapes[i], device).keep()));
      for (const lr of lrs) sgdStep(params, velocities, { lr, momentum, weightDecay });
      for (let i = 0; i < shapes.length; i++) {
        const w = await params[i].toArray();
        const v = await velocities[i].toArray();
        for (let j = 0; j < w.length; j++) {
          // f32 state over 3 steps of values <= ~2: a few ulps
          expect(Math.abs(w[j] - want[i].w[j]), `${device} param ${i}[${j}]`).toBeLessThan(1e-6);
          expect(Math.abs(v[j] - want[i].v[j]), `${device} velocity ${i}[${j}]`).toBeLessThan(1e-6);
        }
      }
    }
  });
  it('skips parameters without a gradient', () => {
    const p = Tensor.from([1, 2], [2]).param('w');
    const v = Tensor.zeros([2]).keep();
    sgdStep([p], [v], { lr: 0.1, momentum: 0.9, weightDecay: 0.1 });
    expect(Array.from(p.cpuData())).toEqual([1, 2]);
  });
  it('clear errors, and nothing is updated when one argument is bad', () => {
    const p = Tensor.from([1, 2], [2]).param('w');
    p.grad = Tensor.from([1, 1], [2]).keep();
    const q = Tensor.from([1, 2, 3], [3]).param('b');
    q.grad = Tensor.from([1, 1, 1], [3]).keep();
    const opts = { lr: 0.1, momentum: 0.9, weightDecay: 0 };
    expect(() => sgdStep([p, q], [Tensor.zeros([2])], opts)).toThrow(/sgdStep: 2 parameters but 1 velocities/);
    expect(() => sgdStep([p, q], [Tensor.zeros([2]), Tensor.zeros([4])], opts)).toThrow(/sgdStep: parameter 1 'b' \[3\] and its velocity \[4\] must have the same shape/);
    expect(Array.from(p.cpuData())).toEqual([1, 2]);
    expect(() => sgdStep([p], [Tensor.zeros([2])], { ...opts, momentum: 1 })).toThrow(/momentum must be in \[0, 1\), got 1/);
    expect(() => sgdStep([p], [Tensor.zeros([2])], { ...opts, lr: -1 })).toThrow(/lr must be a finite number >= 0, got -1/);
    expect(() => sgdStep([p], [Tensor.zeros([2])], { ...opts, weightDecay: NaN })).toThrow(/weightDecay must be a finite number >= 0, got NaN/);
  });
});
