// The engine itself: pool memory across steps, tape behaviour, and the errors users get.
import { beforeAll, describe, expect, it } from 'vitest';
import { add, addKernel, gpu, linear, mean, mul, noGrad, relu, runKernel, scope, sum, Tensor, type Kernel } from '../src/index.js';
import { GPUKernelError } from '../src/gpu/device.js';
import { reflectKernel } from '../src/gpu/kernel.js';
import { sizeClass } from '../src/gpu/pool.js';
import { ReadPacer, type GpuRuntime } from '../src/gpu/runtime.js';
import { compareKernel as compareKernelOnDevices } from '../src/check.js';
import elementwiseWgsl from '../shaders/elementwise.wgsl';
import { describeGpu, input, rand, requireGpu } from './helpers/optest.js';

describe('tensors and autograd (cpu)', () => {
  it('backward from a non-scalar is a clear error', () => {
    const x = Tensor.from([1, 2], [2]).param('x');
    expect(() => mul(x, x).backward()).toThrow(/backward starts from a scalar.*\[2\]|shape \[2\]; backward starts from a scalar/);
  });
  it('shape mismatch names the op and both shapes', () => {
    expect(() => add(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]))).toThrow('add: a [2, 3] and b [3, 2] must have the same shape');
    expect(() => linear(Tensor.zeros([4, 5]), Tensor.zeros([3, 6]))).toThrow(/linear: x \[4, 5\] has 5 features but weight \[3, 6\]/);
  });
  it('a released tensor cannot be used again', () => {
    const x = Tensor.from([1, 2], [2]);
    x.release();
    expect(() => relu(x)).toThrow(/was released and cannot be used again/);
  });
  it('Tensor.from checks the value count against the shape', () => {
    expect(() => Tensor.from([1, 2, 3], [2, 2])).toThrow('Tensor.from: 3 values do not fill shape [2, 2] (4 values)');
  });
  it('noGrad records nothing', () => {
    const x = Tensor.from([1, 2], [2]).param('x');
    const y = noGrad(() => sum(mul(x, x)));
    expect(y.requiresGrad).toBe(false);
    expect(() => y.backward()).toThrow(/does not depend on any tensor that requires a gradient/);
  });
  it('parameters keep and accumulate their gradients across backward calls', () => {
    const x = Tensor.from([1, -2], [2]).param('x');
    sum(mul(x, x)).backward();
    sum(mul(x, x)).backward();
    expect(Array.from(x.grad!.cpuData())).toEqual([4, -8]);
  });
  it('scope releases what it created except what it returns; the tape frees its temporaries', () => {
    const x = Tensor.from([1, 2, 3], [3]).param('x');
    let inner: Tensor | null = null;
    const kept = scope(() => {
      inner = relu(x);
      const l = sum(mul(inner, inner));
      l.backward();
      return l;
    });
    expect(inner!.released).toBe(true);
    expect(kept.released).toBe(false);
    expect(x.released).toBe(false);
    expect(x.grad!.released).toBe(false);
    expect(kept.node).toBe(null); // consumed by backward
  });
  it('size classes waste at most 25%', () => {
    for (const n of [1, 255, 256, 257, 1000, 4096, 5000, 1 << 20, (1 << 20) + 1, 12345678]) {
      const c = sizeClass(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(Math.max(256, n * 1.25));
    }
  });
});

describe('scopes release their tensors on every exit path', () => {
  it('a throw inside scope() releases what it made (kept tensors stay), and the outer scope gets nothing', () => {
    const made: Tensor[] = [];
    let kept: Tensor | null = null;
    const outer = scope(() => {
      expect(() =>
        scope(() => {
          made.push(Tensor.from([1, 2], [2]), relu(Tensor.from([-1, 3], [2])));
          kept = Tensor.zeros([2]).keep();
          throw new Error('boom');
        }),
      ).toThrow('boom');
      return Tensor.zeros([1]);
    });
    for (const t of made) expect(() => relu(t)).toThrow(/was released/);
    expect(Array.from(kept!.cpuData())).toEqual([0, 0]);
    expect(outer.size).toBe(1);
  });
});

describe('ReadPacer', () => {
  // A fake runtime whose idle() advances a fake clock by the sleep it is asked for.
  const setup = () => {
    const t = { clock: 0, asked: [] as number[] };
    const rt = { idle: async (ms: number) => void (t.asked.push(ms), (t.clock += ms)) } as unknown as GpuRuntime;
    return { t, rt, pacer: new ReadPacer(() => t.clock) };
  };
  const step = async ({ t, rt, pacer }: ReturnType<typeof setup>, gpuMs: number) => {
    const start = t.clock;
    await pacer.beforeRead(rt);
    t.clock = Math.max(t.clock + 1, start + gpuMs); // the result is there at start + gpuMs (1 ms readback)
    pacer.afterRead();
  };

  it('sleeps 80% of the last submit-to-result time before each read, nothing before the first', async () => {
    const s = setup();
    for (const ms of [50, 50, 30, 30]) await step(s, ms);
    // 50 (measured at once), 50 (slept 40, waited 10), then 30: slept 40, found it waiting
    // (overslept), so the next read waits at once (0) and measures 30 again.
    expect(s.t.asked).toEqual([0, 40, 40, 0]);
    await step(s, 30);
    expect(s.t.asked[4]).toBe(24);
  });

  it('recovers in one step after an outlier (a paused process), instead of oversleeping for many', async () => {
    const s = setup();
    for (const ms of [1000, 100000, 1000, 1000, 1000]) await step(s, ms);
    expect(s.t.asked).toEqual([0, 800, 80000, 0, 800]);
  });
});

describe('kernel specs are checked against their WGSL (reflection)', () => {
  it('a binding the TypeScript side gets wrong fails at load time, naming it', () => {
    expect(() => reflectKernel({ name: 'bad', source: elementwiseWgsl, entry: 'add', bindings: { a: 'read', b: 'read_write', out: 'read_write', params: 'uniform' } })).toThrow(
      "kernel 'bad' (entry point 'add'): binding 'b' is 'read' in the WGSL but 'read_write' in the TypeScript spec",
    );
    expect(() => reflectKernel({ name: 'bad', source: elementwiseWgsl, entry: 'add', bindings: { a: 'read', out: 'read_write', params: 'uniform' } })).toThrow(/uses binding 'b'.*does not declare/);
    expect(() => reflectKernel({ name: 'bad', source: elementwiseWgsl, entry: 'scale', bindings: { a: 'read', b: 'read', out: 'read_write', params: 'uniform' } })).toThrow(/declares binding 'b' but the entry point does not use it/);
    expect(() => reflectKernel({ name: 'bad', source: elementwiseWgsl, entry: 'nope', bindings: {} })).toThrow(/no @compute entry point 'nope'/);
  });
});

describeGpu('webgpu engine', () => {
  beforeAll(requireGpu);
  it('initWebGPU with other options after the device is open is an error, not silently ignored', async () => {
    const { initWebGPU } = await import('../src/index.js');
    await expect(initWebGPU({ timestamps: true })).rejects.toThrow(/already open with options \{\}; it cannot be reopened with \{"timestamps":true\}/);
    expect(await initWebGPU()).toBe(gpu()); // no options: the open device
  });

  it('a deliberately broken kernel is caught by the CPU comparison', async () => {
    const broken: Kernel<void> = { ...addKernel, name: 'add (broken: computes a*b)', webgpu: (ins, outs) => runKernelRaw(ins, outs) };
    const r = await compareKernelOnDevices({ kernel: broken, inputs: [input([37], 1), input([37], 2)], outputs: [[37]], params: undefined, tol: { atol: 0, rtol: 1e-6 } });
    expect(r.ok).toBe(false);
    expect(r.message).toMatch(/add \(broken: computes a\*b\) output 0 \[37\]: mismatch at index/);
  });

  it('tensors on different devices are a clear error', () => {
    expect(() => add(Tensor.zeros([2], 'cpu'), Tensor.zeros([2], 'webgpu'))).toThrow(/add: inputs are on different devices \(\[2\] on cpu, \[2\] on webgpu\)/);
  });

  it('a WebGPU validation error comes back as a JS error naming the kernel, not a hang', async () => {
    const a = Tensor.from(rand([8], 1), [8], 'webgpu');
    // The same buffer as a read-only input and the writable output is a usage conflict.
    runKernel(addKernel, [a, a], [a], undefined);
    await expect(a.toArray()).rejects.toThrow(GPUKernelError);
    const b = Tensor.from(rand([8], 1), [8], 'webgpu');
    runKernel(addKernel, [b, b], [b], undefined);
    await expect(gpu().sync()).rejects.toThrow(/WebGPU validation error in a step with kernels \[elementwise\.add n=8\]/);
    // The runtime keeps working afterwards.
    const c = add(Tensor.from([1, 2], [2], 'webgpu'), Tensor.from([3, 4], [2], 'webgpu'));
    expect(Array.from(await c.toArray())).toEqual([4, 6]);
  });

  it('200 identical forward+backward steps of an MLP leave the pool flat after the first', async () => {
    const rt = gpu();
    const inUseBefore = rt.storage.bytesInUse;
    const w1 = Tensor.from(rand([32, 20], 1, -0.3, 0.3), [32, 20], 'webgpu').param('w1');
    const b1 = Tensor.from(rand([32], 2, -0.1, 0.1), [32], 'webgpu').param('b1');
    const w2 = Tensor.from(rand([10, 32], 3, -0.3, 0.3), [10, 32], 'webgpu').param('w2');
    const x = Tensor.from(rand([16, 20], 4), [16, 20], 'webgpu').keep();
    const allocated: number[] = [];
    let lastLoss = 0;
    for (let step = 0; step < 200; step++) {
      const loss = scope(() => {
        const h = relu(linear(x, w1, b1));
        const y = linear(h, w2);
        const l = mean(mul(y, y));
        l.backward();
        return l;
      });
      for (const p of [w1, b1, w2]) {
        p.grad!.release();
        p.grad = null;
      }
      if (step % 50 === 0 || step === 199) lastLoss = await loss.item();
      loss.release();
      rt.flush();
      allocated.push(rt.memory().bytesAllocated);
    }
    expect(Number.isFinite(lastLoss)).toBe(true);
    const after1 = allocated[1];
    expect(Math.max(...allocated.slice(1))).toBe(after1);
    // Only the parameters and the input stay in use.
    expect(rt.storage.bytesInUse - inUseBefore).toBe(4 * (32 * 20 + 32 + 10 * 32 + 16 * 20));
  });
});

// A kernel body that dispatches mul where add was meant: the test above must catch it.
import { mulKernel } from '../src/index.js';
function runKernelRaw(ins: Parameters<Kernel<void>['webgpu']>[0], outs: Parameters<Kernel<void>['webgpu']>[1]): void {
  mulKernel.webgpu(ins, outs, undefined, []);
}

describe('no adapter at all', () => {
  it('wrn check says how to get one (the apt command) and that --device cpu works', async () => {
    const { execFileSync, spawnSync } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    if (!existsSync('dist/cli.js')) execFileSync('node', ['tools/build.mjs']);
    const r = spawnSync('node', ['bin/wrn.js', 'check'], { env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json' }, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/No WebGPU adapter found.*\n.*apt-get install -y --no-install-recommends libvulkan1 chromium-common[\s\S]*--device cpu/);
  });
});
