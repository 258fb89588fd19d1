// The one helper every op test goes through (after tinygrad's helper_test_op):
//  - compareKernel: the WGSL kernel against its CPU reference on the same random inputs, with
//    explicit tolerances, reporting the largest error;
//  - gradCheck: an op's backward against central finite differences, in float64 on the CPU backend;
//  - compareOnDevices: a whole function (forward and every gradient) on 'webgpu' against 'cpu';
//  - describeGpuProfiles: the GPU tests of a family once per tuning profile (src/gpu/profile.ts),
//    forced on whatever adapter runs them, so every profile's code path meets the CPU reference;
//    given a family with kernel versions (src/gpu/versions.ts), once per profile and version.
import { afterAll, beforeAll, describe } from 'vitest';
import { initWebGPU, GpuRuntime, Tensor, withFloat64, noGrad, scope, sum, mul, fmtShape, type Shape } from '../../src/index.js';
import { makeProfile, PROFILE_NAMES, type ProfileName, type TuningProfile } from '../../src/gpu/profile.js';
import { KERNEL_VERSIONS, withVersions, type KernelVersion, type VersionFamily } from '../../src/gpu/versions.js';
import { numel } from '../../src/tensor.js';
import { rand, compareKernel as compareKernelOnDevices, compareArrays as compareArraysResult, type Input, type Tolerance, type KernelCase } from '../../src/check.js';

// ---- GPU availability ------------------------------------------------------------------------

export const CPU_ONLY = process.env.WRN_TESTS_CPU_ONLY === '1';
let announced = false;

/** Open the WebGPU runtime; a missing adapter fails the test (unless WRN_TESTS_CPU_ONLY=1). */
export async function requireGpu(): Promise<GpuRuntime> {
  const rt = await initWebGPU();
  if (!announced) {
    console.log(`[wrn-webgpu tests] WebGPU adapter: ${rt.adapterName}; its tuning profile: ${rt.profile.name}`);
    announced = true;
  }
  return rt;
}

/** describe() for tests that need the GPU. Skipped only on explicit opt-out, and it says so. */
export const describeGpu: typeof describe = CPU_ONLY
  ? (((name: string, ...rest: unknown[]) => {
      console.warn(`[wrn-webgpu tests] WRN_TESTS_CPU_ONLY=1: SKIPPING GPU tests '${name}'`);
      return (describe.skip as (...a: unknown[]) => unknown)(name, ...rest);
    }) as unknown as typeof describe)
  : describe;

/**
 * describeGpu once per tuning profile, named `${name} [profile <name>]`, with that profile forced
 * on the runtime for the block's tests (and the adapter's own put back after them). With
 * `versions` (a kernel family, src/gpu/versions.ts), once per profile and version of the family,
 * named `${name} [profile <name>, <family> <version>]`, the version applied on the profile.
 */
export function describeGpuProfiles(name: string, body: (profile: ProfileName, version: KernelVersion | null) => void, versions?: VersionFamily): void {
  for (const profile of PROFILE_NAMES) {
    for (const version of versions ? KERNEL_VERSIONS[versions] : [null]) {
      describeGpu(`${name} [profile ${profile}${version ? `, ${version.family} ${version.name}` : ''}]`, () => {
        let rt: GpuRuntime | null = null;
        let prev: TuningProfile | null = null;
        beforeAll(async () => {
          rt = await requireGpu();
          prev = rt.setProfile(version ? withVersions(makeProfile(profile), [version]) : profile);
        });
        afterAll(() => {
          if (rt && prev) rt.setProfile(prev);
        });
        body(profile, version);
      });
    }
  }
}

// ---- random inputs and kernel comparison (shared with `wrn check`: src/check.ts) -----------

export { rand, input, type Input, type Tolerance, type KernelCase } from '../../src/check.js';

/** Deterministic normal values (Box-Muller over rand). */
export function randn(shape: Shape, seed: number, mean = 0, std = 1): Float32Array {
  const n = numel(shape);
  const u = rand([2 * n], seed, 0, 1);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * Math.sqrt(-2 * Math.log(u[2 * i] + 1e-12)) * Math.cos(2 * Math.PI * u[2 * i + 1]);
  return out;
}

/** Run the kernel on both backends and compare every output; fails the test on mismatch. */
export async function compareKernel<P>(c: KernelCase<P>): Promise<{ maxAbsErr: number; maxRelErr: number }> {
  const r = await compareKernelOnDevices(c);
  if (!r.ok) throw new Error(r.message);
  return r;
}

/** Compare `got` against `want` elementwise; fails the test naming the worst index. */
export function compareArrays(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): { maxAbsErr: number; maxRelErr: number } {
  const r = compareArraysResult(what, got, want, tol);
  if (!r.ok) throw new Error(r.message);
  return r;
}

// ---- gradients against finite differences (float64, CPU) -------------------------------------

export interface GradCheckOptions {
  /** finite-difference step */
  eps?: number;
  /** |analytic - numeric| <= tol * max(1, |numeric|) */
  tol?: number;
  /** check at most this many elements per input (spread over the tensor) */
  maxPerInput?: number;
  /** inputs that get no gradient (integer labels, ...) */
  noGrad?: number[];
}

/**
 * Check every input's gradient of fn(inputs) (projected on fixed random weights when fn returns a
 * non-scalar) against central differences, all in float64 on the CPU backend.
 */
export function gradCheck(fn: (xs: Tensor[]) => Tensor, inputs: Input[], opts: GradCheckOptions = {}): { maxErr: number } {
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-5;
  const maxPer = opts.maxPerInput ?? 48;
  return withFloat64(() => {
    const xs = inputs.map((i, k) => {
      const t = Tensor.from(i.data, i.shape, 'cpu').keep();
      if (!opts.noGrad?.includes(k)) t.requiresGrad = true;
      return t;
    });
    let proj: Tensor | null = null;
    const loss = (): Tensor => {
      const y = fn(xs);
      if (y.size === 1) return y.shape.length ? sum(y) : y;
      if (!proj) proj = Tensor.from(rand(y.shape, 777, -1, 1), y.shape, 'cpu').keep();
      return sum(mul(y, proj));
    };
    scope(() => loss().backward());
    let maxErr = 0;
    xs.forEach((x, k) => {
      if (opts.noGrad?.includes(k)) return;
      if (!x.grad) throw new Error(`gradCheck: input ${k} ${fmtShape(x.shape)} got no gradient`);
      const g = x.grad.cpuData();
      const data = x.cpuData();
      const step = Math.max(1, Math.floor(x.size / maxPer));
      for (let i = 0; i < x.size; i += step) {
        const orig = data[i];
        const h = eps * Math.max(1, Math.abs(orig));
        data[i] = orig + h;
        const lp = noGrad(() => scope(() => loss().cpuData()[0]));
        data[i] = orig - h;
        const lm = noGrad(() => scope(() => loss().cpuData()[0]));
        data[i] = orig;
        const num = (lp - lm) / (2 * h);
        const err = Math.abs(g[i] - num) / Math.max(1, Math.abs(num));
        maxErr = Math.max(maxErr, err);
        if (!(err <= tol)) {
          throw new Error(`gradCheck: input ${k} ${fmtShape(x.shape)} element ${i}: analytic ${g[i]} vs numeric ${num} (rel err ${err} > ${tol})`);
        }
      }
    });
    xs.forEach((x) => {
      x.grad?.release();
      x.release();
    });
    (proj as Tensor | null)?.release();
    return { maxErr };
  });
}

// ---- a whole function on both devices -------------------------------------------------------

/**
 * Run fn on 'cpu' and 'webgpu' with the same inputs (all requiring gradients except `noGrad`),
 * backward from sum(out * fixed random weights), and compare the outputs and every gradient.
 */
export async function compareOnDevices(fn: (xs: Tensor[]) => Tensor, inputs: Input[], tol: Tolerance, gradTol: Tolerance = tol, noGradIdx: number[] = []): Promise<void> {
  const results: { out: Float32Array; grads: (Float32Array | null)[] }[] = [];
  for (const device of ['cpu', 'webgpu'] as const) {
    const xs = inputs.map((i, k) => {
      const t = Tensor.from(i.data, i.shape, device).keep();
      if (!noGradIdx.includes(k)) t.requiresGrad = true;
      return t;
    });
    const y = scope(() => {
      const out = fn(xs);
      const w = Tensor.from(rand(out.shape, 4242), out.shape, device);
      sum(mul(out, w)).backward();
      return out;
    });
    results.push({ out: await y.toArray(), grads: await Promise.all(xs.map((x) => x.grad?.toArray() ?? null)) });
    y.release();
    xs.forEach((x) => {
      x.grad?.release();
      x.release();
    });
  }
  const [cpu, gpu] = results;
  compareArrays('forward output', gpu.out, cpu.out, tol);
  cpu.grads.forEach((g, k) => {
    if (!g) return;
    compareArrays(`gradient of input ${k} ${fmtShape(inputs[k].shape)}`, gpu.grads[k]!, g, gradTol);
  });
}
