// The benchmark suite on tiny shapes: the kernel bench measures every kernel and writes a valid
// result file, the step bench's categories add up to the step's GPU time, and compare reads two
// files (and names the file when one is missing or malformed).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initWebGPU, type GpuRuntime } from '../src/index.js';
import { describeGpu, requireGpu } from './helpers/optest.js';
import { runKernelBench, type KernelProgress } from '../src/bench/kernels.js';
import { FMA_FLOPS_PER_ITERATION, measureFma, paddedGemm, recordCopy, recordFma, recordSgemm } from '../src/bench/harness.js';
import { rand } from '../src/check.js';
import { runStepBench, type StepProgress } from '../src/bench/step.js';
import { CATEGORIES, KERNELS_KIND, STEP_KIND, compareResults, fmt, formatKernels, formatStep, validateResult, type KernelBenchResult, type StepBenchResult } from '../src/bench/report.js';
import { readResult, resultBaseName, slug, writeResult } from '../src/bench/output.js';
import { parseConvLayer, runConv2dBench } from '../src/bench/conv2d.js';
import { BN_DISPATCH_NAMES } from '../src/bench/bn_dispatches.js';
import { benchCommand } from '../src/cli/bench.js';
import { UsageError } from '../src/cli/args.js';
import { chromiumPath, ROOT, runInBrowser, WEB_DIST } from '../src/web/runner.js';

const dir = mkdtempSync(join(tmpdir(), 'wrn-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Tiny shapes: one 8x8x8 layer at batch 1, a few repetitions, small reference measurements.
const TINY = { batch: 1, reps: 2, warmup: 1, quick: true, layers: [{ c: 8, h: 8 }], sgdParams: 1000, copyMiB: 0.25, sgemmN: 64, fmaGflop: 0.001, minTotalMs: 0 };
const KERNEL_NAMES = [
  'conv2d.forward 8x8x8',
  'conv2d.backward_input 8x8x8',
  'conv2d.backward_filter 8x8x8',
  'bn.fwd 8x8x8',
  'bn.fwd+relu fused 8x8x8',
  'bn.fwd then relu (unfused) 8x8x8',
  'bn.bwd 8x8x8',
  'bn.bwd+relu fused 8x8x8',
  'relu.bwd then bn.bwd (unfused) 8x8x8',
  'relu.fwd 8x8x8',
  'relu.bwd 8x8x8',
  'skipadd.fwd 8x8x8',
  'skipadd.bwd 8x8x8',
  'add.fwd (plain residual) 8x8x8',
  'sgd n=1000',
];

/** Newest mtime under a directory. */
function newest(d: string): number {
  let t = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Rebuild dist/web/main.js when any source it bundles (src, shaders) is newer. */
function ensureWebBundle(): void {
  const bundle = join(WEB_DIST, 'main.js');
  const sources = Math.max(...['src', 'shaders'].map((d) => newest(join(ROOT, d))));
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= sources) return;
  execFileSync(process.execPath, ['tools/build.mjs'], { cwd: ROOT, stdio: 'pipe' });
}

/** Run `fn` with console.log captured; returns what it printed. */
async function captureLog(fn: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return lines.join('\n');
}

describe('result files', () => {
  it('slugs and file names are file-name safe', () => {
    expect(slug('Google / SwiftShader (fallback) [node]')).toBe('google-swiftshader-fallback-node');
    expect(slug('///')).toBe('unknown');
  });
});

describeGpu('wrn bench on the CPU adapter (tiny shapes)', () => {
  let rt: GpuRuntime;
  let kernels: KernelBenchResult;
  let kernelsFile: string;
  let step: StepBenchResult;
  let stepFile: string;

  beforeAll(async () => {
    rt = await initWebGPU({ timestamps: true }); // before requireGpu opens it without timestamps
    await requireGpu();
  });

  it('the reference kernels compute what they claim: SGEMM C = A @ B (rectangular), copy dst = src', async () => {
    const shape = { m: 64, n: 128, k: 48 };
    expect(paddedGemm({ m: 8, n: 100, k: 72 })).toEqual({ m: 64, n: 128, k: 80 });
    const a = rand([shape.m, shape.k], 1);
    const b = rand([shape.k, shape.n], 2);
    const [ga, gb, gc] = [rt.upload(a), rt.upload(b), rt.alloc(4 * shape.m * shape.n)];
    recordSgemm(rt, ga, gb, gc, shape);
    const c = await rt.read(gc);
    let worst = 0;
    for (let i = 0; i < shape.m; i++) {
      for (let j = 0; j < shape.n; j++) {
        let want = 0;
        for (let k = 0; k < shape.k; k++) want += a[i * shape.k + k] * b[k * shape.n + j];
        worst = Math.max(worst, Math.abs(c[i * shape.n + j] - want));
      }
    }
    expect(worst).toBeLessThan(1e-5); // 48-term f32 dot products of values in [-1, 1]
    const src = rand([1000], 3);
    const [gs, gd] = [rt.upload(src), rt.alloc(4 * 1000)];
    recordCopy(rt, gs, gd, 250);
    expect(await rt.read(gd)).toEqual(src);
    for (const x of [ga, gb, gc, gs, gd]) rt.release(x);
    expect(() => recordSgemm(rt, ga, gb, gc, { m: 60, n: 128, k: 48 })).toThrow(/multiples of 64/);
  });

  it('the FMA yardstick runs every iteration of its 8 chains (nothing folded) and its GFLOP/s is 2 x FMAs over the time', async () => {
    // Each lane's chain c -> c * 0.999 + 0.001 from the WGSL's seeds, summed over the 8 vec4s:
    // closed form c_n = 0.999^n c_0 + 1 - 0.999^n, so the output tells how many iterations ran.
    const workgroups = 2;
    const iterations = 300;
    const out = rt.alloc(4 * 64 * workgroups);
    recordFma(rt, out, workgroups, iterations);
    const got = await rt.read(out);
    const q = Math.pow(0.999, iterations);
    let worst = 0;
    for (let i = 0; i < 64 * workgroups; i++) {
      const seed = (i & 255) * 1e-3;
      let want = 0;
      for (let acc = 0; acc < 8; acc++) for (let lane = 0; lane < 4; lane++) want += q * (seed + 0.1 * lane + 0.01 * acc) + 1 - q;
      worst = Math.max(worst, Math.abs(got[i] - want) / want);
    }
    expect(worst).toBeLessThan(1e-4); // f32 rounding over 300 contracting steps stays below 1e-5; one iteration fewer is off by ~1e-3
    rt.release(out);
    const m = await measureFma(rt, 0.001, { reps: 2, warmup: 1 });
    expect(m.flops).toBe(m.invocations * m.iterations * FMA_FLOPS_PER_ITERATION);
    expect(FMA_FLOPS_PER_ITERATION).toBe(8 * 4 * 2); // 8 vec4 FMAs, a multiply and an add per lane
    expect(Number.isFinite(m.gflops) && m.gflops > 0).toBe(true);
    expect(m.gflops).toBeCloseTo(m.flops / (m.timing.medianMs * 1e6), 9);
    await expect(measureFma(rt, 0, {})).rejects.toThrow(/positive GFLOP/);
  });

  it('kernels: every kernel timed, positive figures, ratios to limits measured in the same run, a valid file', async () => {
    const seen: KernelProgress[] = [];
    kernels = await runKernelBench(rt, { ...TINY, progress: (p) => seen.push(p) });
    expect(kernels.kind).toBe(KERNELS_KIND);
    expect(kernels.partial).toBeUndefined();
    // Progress before every measurement: the limits, the SGEMM at the one layer's GEMM, the copies at
    // the two tensor sizes (512 and 1000 values), then every case, counted up to the total.
    expect(seen.map((p) => p.text)).toEqual([
      'reference 1 of 4: the copy, SGEMM and FMA limits',
      "reference 2 of 4: SGEMM at 8x8x8's GEMM",
      'reference 3 of 4: copy of 512 values',
      'reference 4 of 4: copy of 1000 values',
      ...KERNEL_NAMES.map((n, i) => `case ${i + 1} of ${KERNEL_NAMES.length}: ${n}`),
    ]);
    expect(seen.map((p) => p.done)).toEqual(seen.map((_, i) => i));
    expect(seen.every((p) => p.total === 4 + KERNEL_NAMES.length)).toBe(true);
    expect(kernels.method).toBe(rt.hasTimestamps ? 'timestamp-query' : 'wall-clock');
    expect(kernels.kernels.map((k) => k.name)).toEqual(KERNEL_NAMES);
    const l = kernels.limits;
    for (const v of [l.copyGBs, l.sgemmGflops, l.copyTiming.medianMs, l.sgemmTiming.medianMs]) expect(v).toBeGreaterThan(0);
    // The FMA yardstick: finite, positive, and its GFLOP/s is the flops it reports over its median time.
    expect(Number.isFinite(l.fmaGflops) && l.fmaGflops! > 0).toBe(true);
    expect(l.fmaFlops).toBe(l.fmaShape!.invocations * l.fmaShape!.iterations * 64);
    expect(l.fmaGflops!).toBeCloseTo(l.fmaFlops! / (l.fmaTiming!.medianMs * 1e6), 9);
    expect(kernels.gemm).toHaveLength(1);
    expect(kernels.gemm[0].shape).toEqual({ m: 64, n: 64, k: 80 }); // 8 x 64 x 72, padded to the SGEMM's multiples
    for (const k of kernels.kernels) {
      expect(k.timing.medianMs, k.name).toBeGreaterThan(0);
      expect(k.timing.reps, k.name).toBeGreaterThanOrEqual(TINY.reps);
      expect(k.value, k.name).toBeGreaterThan(0);
      expect(k.referenceValue, k.name).toBeGreaterThan(0);
      expect(k.ratio, k.name).toBeCloseTo(k.value / k.referenceValue, 10);
      expect(k.formula.length, k.name).toBeGreaterThan(0);
      if (rt.hasTimestamps) expect(k.dispatches.length, k.name).toBeGreaterThan(0);
      // The convs (GFLOP/s) against the FMA peak too; the memory-bound kernels not.
      if (k.metric === 'GFLOP/s') expect(k.fmaRatio!, k.name).toBeCloseTo(k.value / l.fmaGflops!, 10);
      else expect(k.fmaRatio, k.name).toBeUndefined();
    }
    // The documented minimal-bytes formulas, per value of one [1, 8, 8, 8] tensor.
    const n = 8 * 8 * 8;
    const bytes = (name: string) => kernels.kernels.find((k) => k.name === name)!.work / n;
    expect([bytes('relu.fwd 8x8x8'), bytes('bn.fwd 8x8x8'), bytes('bn.bwd 8x8x8'), bytes('skipadd.fwd 8x8x8')]).toEqual([8, 12, 20, 12]);
    expect(kernels.kernels.find((k) => k.name === 'sgd n=1000')!.work).toBe(20 * 1000);
    expect(kernels.kernels[0].work).toBe(2 * 1 * 8 * 8 * 8 * 8 * 9); // 2*N*Ho*Wo*Cout*Cin*K*K
    // Targets: conv forward vs SGEMM, conv backward vs forward time, memory-bound vs copy; none for the unfused or SGD.
    const t = (name: string) => kernels.kernels.find((k) => k.name === name)!.target;
    expect(t('conv2d.forward 8x8x8')).toMatchObject({ threshold: 0.7, direction: 'min' });
    expect(t('conv2d.backward_input 8x8x8')).toMatchObject({ threshold: 1.5, direction: 'max' });
    expect(t('bn.bwd+relu fused 8x8x8')).toMatchObject({ threshold: 0.7, direction: 'min' });
    expect(t('bn.fwd then relu (unfused) 8x8x8')).toBeNull();
    expect(t('sgd n=1000')).toBeNull();
    for (const k of kernels.kernels) if (k.target) expect(k.target.met).toBe(k.target.direction === 'min' ? k.target.value >= 0.7 : k.target.value <= 1.5);
    const text = formatKernels(kernels);
    expect(text).toMatch(/timing: +GPU timestamp queries|timing: +wall clock/);
    expect(text).toMatch(/targets: \d+ of 12 met/);
    expect(text).toMatch(/; FMA peak [\d.]+ GFLOP\/s \(\d+ invocations x \d+ iterations/);
    const head = text.split('\n').find((x) => x.startsWith('kernel '))!;
    expect(head).toMatch(/ vs +of FMA peak +target$/);
    const convRow = text.split('\n').find((x) => x.startsWith('conv2d.forward 8x8x8'))!;
    expect(convRow).toContain(` ${fmt(kernels.kernels[0].fmaRatio)} `);
    // A result from before the FMA yardstick (no fma fields) is still read, formatted and compared.
    const old: KernelBenchResult = JSON.parse(JSON.stringify(kernels));
    for (const f of ['fmaGflops', 'fmaTiming', 'fmaFlops', 'fmaShape'] as const) delete old.limits[f];
    for (const k of old.kernels) delete k.fmaRatio;
    expect(validateResult(JSON.parse(JSON.stringify(old)), 'old')).toBeTruthy();
    expect(formatKernels(old)).not.toMatch(/FMA/);
    expect(compareResults(old, kernels)).toMatch(/FMA peak GFLOP\/s: A -, B [\d.]+, B\/A -/);
    expect(compareResults(kernels, kernels)).toMatch(/FMA peak GFLOP\/s: A [\d.]+, B [\d.]+, B\/A 1(\.00)?\b/);

    const files = writeResult({ ...kernels, commit: 'abc123' }, dir);
    kernelsFile = files.json;
    expect(files.json).toBe(join(dir, `${resultBaseName(kernels)}.json`));
    expect(files.json).toMatch(/kernels-node-.*\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
    expect(existsSync(files.png)).toBe(true);
    expect(readdirSync(dir).some((f) => f.includes('.tmp'))).toBe(false);
    const back = JSON.parse(readFileSync(files.json, 'utf8'));
    expect(validateResult(back, files.json)).toBeTruthy();
    expect(back.adapter.description).toBe(rt.ctx.adapter.description);
    expect(back.commit).toBe('abc123');
    expect(back.runtime).toMatch(/webgpu .*node v/);
    expect(back.kernels).toHaveLength(KERNEL_NAMES.length);
  });

  it('kernels: the wall-clock fallback says so; --only filters', async () => {
    const r = await runKernelBench(rt, { ...TINY, only: 'relu.fwd', wallClock: true });
    expect(r.method).toBe('wall-clock');
    expect(r.kernels.map((k) => k.name)).toEqual(['relu.fwd 8x8x8']);
    expect(r.kernels.every((k) => k.timing.method === 'wall-clock' && k.value > 0)).toBe(true);
    expect(formatKernels(r)).toMatch(/timing: +wall clock/);
    await expect(runKernelBench(rt, { ...TINY, only: 'no-such-kernel' })).rejects.toThrow(/no kernel matches --only 'no-such-kernel'/);
  });

  it('step (CLI): interleaved rounds with spreads, BN cost two ways, every dispatch costed and booked by its program, the conditions recorded', async () => {
    const out = join(dir, 'step');
    const printed = await captureLog(() => benchCommand(['step', '--quick', '--batch', '2', '--steps', '1', '--warmup', '0', '--rounds', '2', '--variants', 'bn,bn-unfused,skipinit', '--out', out]));
    const file = readdirSync(out).find((f) => f.startsWith('step-node-') && f.endsWith('.json'));
    expect(file, printed).toBeTruthy();
    stepFile = join(out, file!);
    expect(existsSync(stepFile.replace(/\.json$/, '.png'))).toBe(true);
    step = readResult(stepFile) as StepBenchResult;
    expect(step.kind).toBe(STEP_KIND);
    expect(step.config).toMatchObject({ depth: 10, width: 1, batch: 2, steps: 1, profiledSteps: rt.hasTimestamps ? 1 : 0, rounds: 2 });
    expect(step.variants.map((v) => v.name)).toEqual(['bn', 'bn-unfused', 'skipinit']);
    // Interleaved: every variant in every round, the order rotated by one.
    expect(step.rounds.map((r) => r.order)).toEqual([
      ['bn', 'bn-unfused', 'skipinit'],
      ['bn-unfused', 'skipinit', 'bn'],
    ]);
    expect(step.conditions.command).toBe('wrn bench step --quick --batch 2 --steps 1 --warmup 0 --rounds 2 --variants bn,bn-unfused,skipinit --out ' + out);
    expect(step.conditions.loadAverageBefore).toHaveLength(3);
    expect(step.conditions.loadAverageAfter).toHaveLength(3);
    expect(step.profile).toBe(rt.profile.name);
    for (const y of [step.yardsticks.copyGBs, step.yardsticks.fmaGflops]) expect(y.n === 2 && y.min > 0 && y.min <= y.median && y.median <= y.max).toBe(true);
    expect(printed).toMatch(/BN's cost, two ways:\n {2}\(a\) wall time bn - skipinit, over the bn step: /);
    expect(printed).toMatch(/PROJECTION, not a measurement/);
    expect(printed).toMatch(/roofline on this adapter/);
    expect(step.bnCost.wallDelta!.fraction.n).toBe(2);
    expect(step.bnCost.headline).toMatch(/^On this adapter BN/);
    expect(step.projections.map((p) => p.name)).toEqual(['NVIDIA H200', 'NVIDIA A100', 'NVIDIA RTX 4090', 'Apple M2', 'laptop iGPU']);
    for (const v of step.variants) {
      expect(v.wall.n).toBe(2);
      expect(v.wallMs).toBe(v.wall.median);
      expect(v.imagesPerSecond).toBeCloseTo((1000 * 2) / v.wallMs, 6);
      expect(v.dispatchesPerStep).toBeGreaterThan(20);
      // Every dispatch costed and booked by its program's declared category, none left over.
      expect(CATEGORIES.reduce((s, c) => s + v.cost[c].dispatches, 0)).toBe(v.dispatchesPerStep);
      expect(v.cost.other.dispatches, v.name).toBe(0);
      for (const c of ['conv', 'pool/classifier/loss', 'optimizer', 'skip-add'] as const) expect(v.cost[c].read + v.cost[c].written, `${v.name} ${c}`).toBeGreaterThan(0);
      // The same WRN in every variant: the same conv work (exact counts: cost.test.ts).
      expect(v.cost.conv.flops).toBe(step.variants[0].cost.conv.flops);
      expect(v.convGflopPerStep).toBeCloseTo(v.cost.conv.flops / 1e9, 12);
      expect(v.effectiveGflops).toBeCloseTo((1e3 * v.convGflopPerStep) / v.wallMs, 9);
      if (!rt.hasTimestamps) continue;
      expect(v.convKernelGflops!).toBeCloseTo((1e3 * v.convGflopPerStep) / v.breakdown!.conv, 9);
      const sum = CATEGORIES.reduce((s, c) => s + v.breakdown![c], 0);
      expect(sum, v.name).toBeCloseTo(v.gpuMs!, 9);
      expect(CATEGORIES.reduce((s, c) => s + v.shares![c], 0)).toBeCloseTo(1, 9);
      expect(v.breakdown!.conv, v.name).toBeGreaterThan(0);
      expect(v.breakdown!.optimizer, v.name).toBeGreaterThan(0);
      expect(v.breakdown!['pool/classifier/loss'], v.name).toBeGreaterThan(0);
      expect(v.breakdown!.other, v.name).toBe(0);
      for (const c of CATEGORIES) expect(v.breakdownSpread![c].min <= v.breakdown![c] && v.breakdown![c] <= v.breakdownSpread![c].max).toBe(true);
    }
    const [bn, unfused, skipinit] = step.variants;
    expect(bn.cost.bn.dispatches).toBeGreaterThan(0);
    expect(bn.cost.relu.dispatches).toBe(0); // every ReLU is fused into BN
    expect(unfused.cost.relu.dispatches).toBeGreaterThan(0);
    expect(skipinit.cost.bn.dispatches).toBe(0);
    expect(unfused.dispatchesPerStep).toBeGreaterThan(bn.dispatchesPerStep);
    if (rt.hasTimestamps) {
      expect(bn.breakdown!.bn).toBeGreaterThan(0);
      expect(unfused.breakdown!.relu).toBeGreaterThan(0);
      expect(skipinit.breakdown!.bn).toBe(0);
      expect(step.bnCost.gpuShare!.fraction.median).toBeCloseTo(step.bnCost.gpuShare!.ms.median / bn.gpu!.median, 0);
    }
  });

  it('kernels: a stop takes effect before the next case and returns the kernels timed so far, marked partial', async () => {
    // Stop requested while case 2 runs: case 3 never starts.
    let stop = false;
    const seen: KernelProgress[] = [];
    const progress = (p: KernelProgress) => {
      seen.push(p);
      if (p.phase === 'case' && p.index === 2) stop = true;
    };
    const r = await runKernelBench(rt, { ...TINY, only: 'relu', progress, cancelled: () => stop });
    expect(r.partial).toBe(true);
    expect(r.kernels.map((k) => k.name)).toEqual(KERNEL_NAMES.filter((n) => n.includes('relu')).slice(0, 2));
    expect(r.stoppedAt).toBe(`case 3 of 6: ${KERNEL_NAMES.filter((n) => n.includes('relu'))[2]}`);
    expect(seen[seen.length - 1].text).toMatch(/^case 2 of 6: /); // nothing reported after the stop
    expect(formatKernels(r)).toContain(`PARTIAL: stopped before ${r.stoppedAt}`);
    expect(validateResult(JSON.parse(JSON.stringify(r)), 'partial')).toBeTruthy();
    // Stopped from the start: the limits are measured (a result needs them), nothing after them.
    const early = await runKernelBench(rt, { ...TINY, only: 'relu.fwd', cancelled: () => true });
    expect(early).toMatchObject({ partial: true, stoppedAt: 'reference 2 of 2: copy of 512 values', kernels: [], copies: [] });
    expect(early.limits.copyGBs).toBeGreaterThan(0);
  });

  it('step: progress before every step; a stop takes effect before the next step and returns the finished rounds, marked partial', async () => {
    const o = { depth: 10, width: 1, batch: 1, steps: 2, warmup: 1, quick: true, variants: ['unnormalized', 'skipinit'] };
    const profiled = rt.hasTimestamps ? 1 : 0;
    const perRound = 2 + profiled;
    // Complete: one progress call per step, warm-up (1 + the costed step per variant) then the rounds.
    const all: StepProgress[] = [];
    const done = await runStepBench(rt, { ...o, rounds: 1, progress: (p) => all.push(p) });
    expect(done.partial).toBeUndefined();
    expect(all).toHaveLength(2 * 2 + 2 * perRound);
    expect(all.map((p) => p.done)).toEqual(all.map((_, i) => i));
    expect(all.every((p) => p.total === all.length)).toBe(true);
    expect(all.slice(0, 4).map((p) => p.text)).toEqual([
      'warm-up, variant 1 of 2 (unnormalized), step 1 of 2',
      'warm-up, variant 1 of 2 (unnormalized), step 2 of 2',
      'warm-up, variant 2 of 2 (skipinit), step 1 of 2',
      'warm-up, variant 2 of 2 (skipinit), step 2 of 2',
    ]);
    // The wall-timed steps alternate between the variants, then each one's profiled steps.
    expect(all.slice(4).map((p) => [p.variant, p.step])).toEqual([[1, 1], [2, 1], [1, 2], [2, 2], ...(profiled ? [[1, 3], [2, 3]] : [])]);
    expect(all[4].text).toBe(`round 1 of 1, variant 1 of 2 (unnormalized), step 1 of ${perRound}`);

    // Stop requested while round 2's second variant runs its first step: nothing runs after that step.
    let stop = false;
    let after = 0;
    const r = await runStepBench(rt, {
      ...o,
      rounds: 3,
      progress: (p) => {
        if (stop) after++;
        if (p.round === 2 && p.variant === 2) stop = true;
      },
      cancelled: () => stop,
    });
    expect(after).toBe(0);
    expect(r.partial).toBe(true);
    expect(r.stoppedAt).toBe(`round 2 of 3, variant 1 of 2 (skipinit), step 2 of ${perRound}`); // round 2's order is rotated
    expect(r.rounds).toHaveLength(1); // the unfinished round is dropped whole
    expect(r.config.rounds).toBe(1);
    expect(r.variants.map((v) => [v.name, v.wall.n])).toEqual([['unnormalized', 1], ['skipinit', 1]]);
    if (profiled) for (const v of r.variants) expect(v.gpuMs, v.name).toBeGreaterThan(0);
    expect(formatStep(r)).toContain(`PARTIAL: stopped before ${r.stoppedAt}`);
    expect(validateResult(JSON.parse(JSON.stringify(r)), 'partial')).toBeTruthy();

    // Stopped before any step: no round, no variant, still a result saying where it stopped.
    const none = await runStepBench(rt, { ...o, rounds: 1, cancelled: () => true });
    expect(none).toMatchObject({ partial: true, stoppedAt: 'warm-up, variant 1 of 2 (unnormalized), step 1 of 2', rounds: [], variants: [] });
    expect(formatStep(none)).toMatch(/PARTIAL/);
  });

  it('step: without timestamps the breakdown is reported unavailable; bad options are refused', async () => {
    const r = await runStepBench(rt, { depth: 10, width: 1, batch: 1, steps: 1, warmup: 0, rounds: 1, quick: true, variants: ['unnormalized'], wallClock: true });
    expect(r.method).toBe('wall-clock');
    expect(r.variants[0]).toMatchObject({ breakdown: null, shares: null, gpuMs: null });
    expect(r.variants[0].wallMs).toBeGreaterThan(0);
    expect(r.bnCost.wallDelta).toBeNull();
    expect(formatStep(r)).toMatch(/breakdown unavailable/);
    expect(formatStep(r)).toMatch(/BN's cost needs both the bn and skipinit variants/);
    const o = { depth: 10, width: 1, batch: 1, steps: 1, warmup: 0, rounds: 1, quick: true };
    await expect(runStepBench(rt, { ...o, depth: 12 })).rejects.toThrow(/depth must be 6N \+ 4/);
    await expect(runStepBench(rt, { ...o, variants: ['bogus'] })).rejects.toThrow(/unknown variant 'bogus'/);
    await expect(runStepBench(rt, { ...o, rounds: 0 })).rejects.toThrow(/rounds must be a positive integer, got 0/);
  });

  it('compare: ratios per kernel and per step category; clear errors for a missing, malformed or mismatched file', async () => {
    // B: the same kernels, twice as slow.
    const slower: KernelBenchResult = JSON.parse(readFileSync(kernelsFile, 'utf8'));
    for (const k of slower.kernels) k.timing.medianMs *= 2;
    const bFile = join(dir, 'slower.json');
    writeFileSync(bFile, JSON.stringify(slower));
    const text = await captureLog(() => benchCommand(['compare', kernelsFile, bFile]));
    expect(text).toMatch(/copy GB\/s: A .* B\/A 1(\.00)?\b/);
    expect(text).toMatch(/FMA peak GFLOP\/s: A [\d.]+, B [\d.]+, B\/A 1(\.00)?\b/);
    const line = text.split('\n').find((l) => l.startsWith('relu.fwd 8x8x8'))!;
    expect(line.trim().split(/\s{2,}/)[3]).toBe('2.00'); // time B/A
    const cmp = compareResults(step, step);
    expect(cmp).toMatch(/conv ms \(share A/);
    expect(cmp).toMatch(/wall ms\/step +\S+ \[\S+, \S+\] +\S+ \[\S+, \S+\] +1(\.00)? +no: ranges overlap/); // a result against itself: B/A 1, not resolved

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"kind": "wrn-bench-kernels", "kernels": [');
    await expect(benchCommand(['compare', kernelsFile, bad])).rejects.toThrow(new RegExp(`${bad.replace(/[.]/g, '\\.')}: not valid JSON`));
    const missing = join(dir, 'nope.json');
    await expect(benchCommand(['compare', missing, kernelsFile])).rejects.toThrow(`${missing}: no such file`);
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ kind: 'something-else' }));
    await expect(benchCommand(['compare', kernelsFile, other])).rejects.toThrow(/other\.json: 'kind' is "something-else"/);
    const noKernels = join(dir, 'nokernels.json');
    writeFileSync(noKernels, JSON.stringify({ kind: 'wrn-bench-kernels', kernels: [{ name: 'x' }] }));
    await expect(benchCommand(['compare', noKernels, kernelsFile])).rejects.toThrow(/nokernels\.json: kernels\[0\] lacks/);
    await expect(benchCommand(['compare', kernelsFile, stepFile])).rejects.toThrow(/cannot compare a 'wrn-bench-kernels' result .* with a 'wrn-bench-step' result/);
    await expect(benchCommand(['compare', kernelsFile])).rejects.toThrow(UsageError);
  });

  it('the page\'s bench task (headless Chromium) returns the same result shape, with the browser as runtime', async () => {
    if (!existsSync(chromiumPath())) throw new Error(`Chromium not found at ${chromiumPath()}: install it (apt-get install chromium), set CHROMIUM_PATH, or WRN_TESTS_CPU_ONLY=1 to skip GPU tests`);
    ensureWebBundle();
    const page = await runInBrowser({ task: 'bench', query: { batch: 1, reps: 2, warmup: 1, layers: '8x8x8', sgdParams: 1000, copyMiB: 0.25, sgemmN: 64, minTotalMs: 0, commit: 'abc' }, timeoutMs: 120_000 });
    expect(page.error, page.error).toBeUndefined();
    const r = validateResult(page.result, 'page') as KernelBenchResult;
    expect(r.kind).toBe(KERNELS_KIND);
    expect(r.runtime).toMatch(/^browser: Mozilla\/5\.0 .*Chrome/);
    expect(r.commit).toBe('abc');
    expect(r.kernels.map((k) => k.name)).toEqual(KERNEL_NAMES);
    expect(r.kernels.every((k) => k.value > 0 && k.ratio > 0)).toBe(true);
    expect(Object.keys(r).sort()).toEqual(Object.keys(kernels).sort());
    expect(resultBaseName(r)).toMatch(/^kernels-browser-/);
  }, 180_000);

  it('conv2d (CLI, one tiny layer): a row per layer with positive times and the ratio columns; the tuning knobs are restored', async () => {
    const profileBefore = rt.profile;
    const printed = await captureLog(() => benchCommand(['conv2d', '--layer', '8,16,4,3,1,1', '--batch', '1', '--reps', '1', '--rounds', '1', '--tile', '16x256', '--max-workgroups', '2']));
    const lines = printed.split('\n');
    expect(lines[0]).toMatch(/^adapter: /);
    expect(lines.splice(1, 2)).toEqual([`tuning profile: ${rt.profile.name}`, 'tuning cache: off (WRN_TUNING_CACHE=off): the static profile']);
    expect(lines[1]).toMatch(/^batch 1 .*, 1 dispatches per submit, best of 1$/);
    expect(lines[2]).toMatch(/^layer +GEMM MxNxK +forward +backward-input +backward-filter +matmul \(same GEMM\) +bench SGEMM \(padded GEMM\) +fwd\/mm fwd\/sgemm bi\/fwd bf\/fwd$/);
    const row = lines.find((l) => l.startsWith('custom 8->16 3x3 s1 p1 @4'));
    expect(row, printed).toBeTruthy();
    expect(row).toMatch(/ 16x16x72 /); // M = Cout, N = 1 x 4 x 4, K = 8 x 3 x 3
    // five (ms, GF/s, cpu-ms) triples, then the four ratios
    const nums = row!.slice(47).trim().split(/\s+/).filter((t) => /^[\d.]+$/.test(t)).map(Number);
    expect(nums).toHaveLength(19);
    expect(nums.every((v) => v >= 0)).toBe(true);
    expect(nums[0]).toBeGreaterThan(0); // forward ms
    expect(lines[lines.length - 1]).toMatch(/^fwd\/mm, fwd\/sgemm = /);
    expect(rt.profile).toBe(profileBefore); // --tile and --max-workgroups applied to a derived profile, then put back

    const rows = await runConv2dBench(rt, { batch: 1, reps: 1, rounds: 1, layers: [parseConvLayer('4,4,3,1,2,0')], skipMatmul: true }, () => {});
    expect(rows).toHaveLength(1);
    expect(rows[0].gemm).toEqual({ m: 4, n: 4, k: 4 }); // 1x1 stride 2 on 3x3: 2x2 outputs
    expect(Number.isNaN(rows[0].matmul.wall)).toBe(true);
    expect(rows[0].forward.wall).toBeGreaterThan(0);
    await expect(benchCommand(['conv2d', '--only', 'no-such-layer', '--batch', '1'])).rejects.toThrow(/no layer matches --only 'no-such-layer'/);
  });

  it('bn-dispatches (CLI, one tiny shape): each dispatch over the copy, positive', async () => {
    const argv = ['bn-dispatches', '--batch', '1', '--shapes', '4x4'];
    if (!rt.hasTimestamps) {
      await expect(benchCommand(argv)).rejects.toThrow(/needs GPU timestamps/);
      return;
    }
    const lines = (await captureLog(() => benchCommand(argv))).split('\n');
    expect(lines[0]).toMatch(/^adapter: /);
    expect(lines.splice(1, 2)).toEqual([`tuning profile: ${rt.profile.name}`, 'tuning cache: off (WRN_TUNING_CACHE=off): the static profile']);
    expect(lines[1]).toBe("batch 1; each dispatch's GPU time over a copy's (8 B/value), median of 5");
    expect(lines[2].split(/\s+/)).toEqual(['shape', 'copy', 'us', ...BN_DISPATCH_NAMES]);
    expect(lines).toHaveLength(4);
    expect(lines[3].startsWith('[1, 4, 4, 4]')).toBe(true);
    const cols = lines[3].slice(30).trim().split(/\s+/).map(Number);
    expect(cols).toHaveLength(1 + BN_DISPATCH_NAMES.length);
    for (const v of cols.slice(1)) expect(v).toBeGreaterThan(0);
  });

  it('CLI flags: clear errors for a bad value, an unknown subcommand or variant', async () => {
    await expect(benchCommand(['kernels', '--reps', '0'])).rejects.toThrow(/--reps must be an integer >= 1, got 0/);
    await expect(benchCommand(['kernels', '--batch', 'x'])).rejects.toThrow(/--batch must be an integer, got 'x'/);
    await expect(benchCommand(['step', '--depth', '12'])).rejects.toThrow(/--depth must be 6N \+ 4/);
    await expect(benchCommand(['step', '--variants', 'bn,foo'])).rejects.toThrow(/unknown variant\(s\) foo/);
    await expect(benchCommand(['step', '--profiled-steps', '-1'])).rejects.toThrow(/--profiled-steps must be an integer >= 0, got -1/);
    await expect(benchCommand(['step', '--rounds', '0'])).rejects.toThrow(/--rounds must be an integer >= 1, got 0/);
    await expect(benchCommand(['nope'])).rejects.toThrow(/unknown subcommand 'nope'/);
    expect(await captureLog(() => benchCommand(['kernels', '--help']))).toMatch(/--quick/);
    await expect(benchCommand(['conv2d', '--layer', '8,16,4'])).rejects.toThrow(/--layer: expected cin,cout,size,k,stride,pad/);
    await expect(benchCommand(['conv2d', '--layer', '8,16,2,5,1,0'])).rejects.toThrow(/--layer: a 5x5 kernel with pad 0 does not fit a 2x2 input/);
    await expect(benchCommand(['conv2d', '--tile', '8x8'])).rejects.toThrow(/--tile must be one of 64x64, 32x128, 16x256, got '8x8'/);
    await expect(benchCommand(['conv2d', '--rounds', '0'])).rejects.toThrow(/--rounds must be an integer >= 1, got 0/);
    await expect(benchCommand(['conv2d', '--batch', '100000'])).rejects.toThrow(/would hold .* values .* lower --batch/);
    await expect(benchCommand(['bn-dispatches', '--shapes', '64'])).rejects.toThrow(/--shapes: expected CxH .* got '64'/);
    await expect(benchCommand(['bn-dispatches', '--batch', '0'])).rejects.toThrow(/--batch must be an integer >= 1, got 0/);
    expect(await captureLog(() => benchCommand(['conv2d', '--help']))).toMatch(/--layer .*cin,cout,size,k,stride,pad/);
    expect(await captureLog(() => benchCommand(['bn-dispatches', '--help']))).toMatch(/--shapes .*CxH/);
    expect(await captureLog(() => benchCommand(['--help']))).toMatch(/conv2d .*\n[\s\S]*bn-dispatches/);
  });
});

describe('the GPU bundle (tools/pack-gpu.sh, tools/gpu-bundle/run.sh)', () => {
  it('both scripts parse and print their usage', () => {
    for (const script of ['tools/pack-gpu.sh', 'tools/gpu-bundle/run.sh']) {
      execFileSync('bash', ['-n', script]);
      expect(execFileSync('bash', [script, '--help']).toString()).toMatch(/run\.sh/);
    }
  });

  // Slow (xz over ~120 MB, then check + both quick benches on the CPU adapter: ~3 minutes): opt-in.
  it.runIf(process.env.WRN_TEST_PACK === '1')('(WRN_TEST_PACK=1) packs a bundle under 64 MiB whose run.sh runs check and both quick benches', () => {
    const bundle = join(dir, 'wrn-gpu-bundle.tar.xz');
    execFileSync('bash', ['tools/pack-gpu.sh', '--out', bundle], { stdio: 'pipe' });
    expect(statSync(bundle).size).toBeLessThan(64 * 1024 * 1024);
    execFileSync('tar', ['xJf', bundle, '-C', dir]);
    const results = join(dir, 'bundle-results');
    const log = execFileSync(join(dir, 'wrn-gpu-bundle', 'run.sh'), ['--quick', '--out', results], { stdio: 'pipe' }).toString();
    expect(log).toMatch(/passed, 0 failed/);
    const files = readdirSync(results);
    for (const kind of ['kernels', 'step']) expect(files.some((f) => f.startsWith(`${kind}-node-`) && f.endsWith('.json'))).toBe(true);
    for (const f of files.filter((x) => x.endsWith('.json'))) expect(readResult(join(results, f)).commit).toMatch(/^[0-9a-f]{40}|unknown/);
  }, 600_000);
});
