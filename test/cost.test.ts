// The cost model (src/gpu/cost.ts, each program's bytes and FLOPs), the roofline floors
// (src/bench/roofline.ts) and what the step report makes of the rounds (src/bench/step_report.ts):
// hand-computed values for small geometries, and synthetic rounds whose verdicts are known.
import { beforeAll, describe, expect, it } from 'vitest';
import { gpu } from '../src/index.js';
import { CATEGORIES, cost, type Category, type DispatchRecord } from '../src/gpu/cost.js';
import { conv2dBackwardFilterProgram, conv2dBackwardInputProgram, conv2dForwardProgram } from '../src/gpu/programs/conv2d.js';
import { batchNormGradInputProgram, batchNormGradReduceProgram, batchNormNormalizeProgram, batchNormStatsProgram } from '../src/gpu/programs/batchnorm.js';
import { sgdProgram } from '../src/gpu/programs/sgd.js';
import { skipAddBackwardProgram, skipAddProgram } from '../src/gpu/programs/skipadd.js';
import { reluForwardProgram } from '../src/gpu/programs/elementwise.js';
import { costByCategory, floorMs, floorsByCategory } from '../src/bench/roofline.js';
import { bnCostLines, formatStep, spreadOf, summarizeStep, verdict, STEP_KIND, type StepRaw, type StepRound } from '../src/bench/step_report.js';
import type { ConvGeometry } from '../src/ops/conv2d.js';
import type { GpuBuf } from '../src/gpu/runtime.js';
import { describeGpu, requireGpu } from './helpers/optest.js';

/** The dispatches `record` makes, with their costs (nothing is read back). */
function costsOf(record: (alloc: (values: number) => GpuBuf) => void): DispatchRecord[] {
  const rt = gpu();
  const bufs: GpuBuf[] = [];
  rt.startCostLog();
  try {
    record((values) => {
      const b = rt.alloc(4 * values);
      bufs.push(b);
      return b;
    });
  } finally {
    for (const b of bufs) rt.release(b);
  }
  return rt.stopCostLog();
}

const geometry = (batch: number, cin: number, size: number, cout: number, k: number, stride: number, pad: number): ConvGeometry => {
  const out = Math.floor((size + 2 * pad - k) / stride) + 1;
  return { batch, cin, h: size, w: size, cout, kh: k, kw: k, ho: out, wo: out, stride, pad };
};

describeGpu('cost model: every program states its bytes and FLOPs from its geometry', () => {
  beforeAll(requireGpu);

  it('conv2d: forward (with and without bias), input gradient, filter gradient, direct and tiled', () => {
    // x [1, 2, 3, 3], w [4, 2, 3, 3], pad 1: 18 inputs, 72 weights, 36 outputs, 1*4*3*3*2*9 = 648 multiply-adds.
    const g = geometry(1, 2, 3, 4, 3, 1, 1);
    const fwd = costsOf((a) => conv2dForwardProgram(g, a(18), a(72), undefined, a(36)));
    expect(fwd.map((r) => r.cost)).toEqual([cost(4 * (18 + 72), 4 * 36, 2 * 648)]);
    expect(fwd[0].category).toBe('conv');
    const fwdBias = costsOf((a) => conv2dForwardProgram(g, a(18), a(72), a(4), a(36)));
    expect(fwdBias.map((r) => r.cost)).toEqual([cost(4 * (18 + 72 + 4), 4 * 36, 2 * 648 + 36)]);
    const bi = costsOf((a) => conv2dBackwardInputProgram(g, a(36), a(72), a(18)));
    expect(bi.map((r) => r.cost)).toEqual([cost(4 * (36 + 72), 4 * 18, 2 * 648)]);
    // Stride 2 (the tiled kernels): x [2, 3, 5, 5], w [6, 3, 3, 3], pad 1 -> 3x3: 150 inputs, 162 weights, 108 outputs, 2*6*9*27 = 2916 MACs.
    const s2 = geometry(2, 3, 5, 6, 3, 2, 1);
    const tiled = costsOf((a) => conv2dForwardProgram(s2, a(150), a(162), undefined, a(108)));
    expect(tiled.map((r) => [r.label.split(' ')[0].split('.').slice(0, 2).join('.'), r.cost])).toEqual([['conv2d.forward', cost(4 * (150 + 162), 4 * 108, 2 * 2916)]]);
    const bf = costsOf((a) => conv2dBackwardFilterProgram(s2, a(150), a(108), a(162)));
    // The gradient reads x and dy and writes `splits` partials of 162 values; the split sums add (splits - 1) x 162.
    const splits = bf[0].cost.written / (4 * 162);
    expect(Number.isInteger(splits) && splits >= 1).toBe(true);
    expect(bf[0].cost).toEqual(cost(4 * (150 + 108), 4 * 162 * splits, 2 * 2916));
    if (splits > 1) expect(bf[1].cost).toEqual(cost(4 * 162 * splits, 4 * 162, (splits - 1) * 162));
    expect(bf).toHaveLength(splits > 1 ? 2 : 1);
  });

  it('batch norm: statistics, normalize (+ReLU), the gradient sums and dx, with per-channel vectors and partials', () => {
    // [N=2, C=3, HW=5]: 30 values, m = 10 per channel.
    const p = { n: 2, c: 3, hw: 5 };
    const stats = costsOf((a) => batchNormStatsProgram([a(30)], [a(3), a(3), a(3), a(3)], { ...p, momentum: 0.1, eps: 1e-5 }));
    expect(stats).toHaveLength(2);
    const slices = stats[0].cost.written / (4 * 4 * 3); // each slice writes (count, mean, M2, shift)
    expect(Number.isInteger(slices) && slices >= 1).toBe(true);
    expect(stats[0].cost).toEqual(cost(4 * 30, 4 * 4 * 3 * slices, 3 * 30));
    expect(stats[1].cost).toEqual(cost(4 * (4 * 3 * slices + 2 * 3), 4 * 4 * 3, 8 * 3 * slices + 11 * 3));
    const norm = costsOf((a) => batchNormNormalizeProgram([a(30), a(3), a(3), a(3), a(3)], [a(30)], { ...p, relu: true }));
    expect(norm.map((r) => r.cost)).toEqual([cost(4 * (30 + 4 * 3), 4 * 30, 5 * 30)]);
    const sums = costsOf((a) => batchNormGradReduceProgram([a(30), a(30), a(3), a(3), a(3), a(3)], [a(3), a(3)], { ...p, relu: false }));
    expect(sums[0].cost).toEqual(cost(4 * (60 + 4 * 3), 4 * 2 * 3 * slices, 5 * 30));
    expect(sums[1].cost).toEqual(cost(4 * 2 * 3 * slices, 4 * 2 * 3, 2 * 3 * slices));
    const dx = costsOf((a) => batchNormGradInputProgram([a(30), a(30), a(3), a(3), a(3), a(3), a(3), a(3)], [a(30)], { ...p, relu: true, training: true }));
    expect(dx.map((r) => r.cost)).toEqual([cost(4 * (60 + 6 * 3), 4 * 30, (6 + 3) * 30)]);
    expect([...stats, ...norm, ...sums, ...dx].every((r) => r.category === 'bn')).toBe(true);
  });

  it('the skip-add, ReLU and SGD: elementwise bytes, partials and the status flag', () => {
    const fwd = costsOf((a) => skipAddProgram([a(10), a(10), a(1)], [a(10)]));
    expect(fwd.map((r) => [r.category, r.cost])).toEqual([['skip-add', cost(4 * 21, 4 * 10, 20)]]);
    const bwd = costsOf((a) => skipAddBackwardProgram([a(10), a(10), a(1)], [a(10), a(10), a(1)]));
    const groups = (bwd[0].cost.written / 4 - 20);
    expect(bwd.map((r) => r.cost)).toEqual([cost(4 * 21, 4 * (20 + groups), 30), cost(4 * groups, 4, groups)]);
    expect(costsOf((a) => reluForwardProgram([a(7)], [a(7)])).map((r) => [r.category, r.cost])).toEqual([['relu', cost(28, 28, 7)]]);
    // grad, param, velocity read; param, velocity and the flag written; 6 operations a value.
    const sgd = costsOf((a) => sgdProgram([a(9)], [a(9), a(9), a(2)], { lr: 0.1, momentum: 0.9, weightDecay: 0 }));
    expect(sgd.map((r) => [r.category, r.cost])).toEqual([['optimizer', cost(4 * 27, 4 * 19, 54)]]);
  });
});

describe('roofline floors', () => {
  it('a dispatch is bound by its bytes or its FLOPs, whichever takes longer; categories sum their dispatches', () => {
    const m = { bandwidthGBs: 0.1, peakGflops: 1 }; // 1e5 bytes/ms, 1e6 FLOP/ms
    expect(floorMs(cost(6e4, 4e4, 1e5), m)).toBeCloseTo(1, 12); // memory: 1e5 bytes = 1 ms; compute 0.1 ms
    expect(floorMs(cost(1e3, 0, 3e6), m)).toBeCloseTo(3, 12); // compute-bound
    const records: DispatchRecord[] = [
      { label: 'a', category: 'bn', cost: cost(6e4, 4e4, 1e5) },
      { label: 'b', category: 'bn', cost: cost(1e3, 0, 3e6) },
      { label: 'c', category: 'conv', cost: cost(0, 0, 2e6) },
    ];
    // Per dispatch, not over the category's sums: max(1, 0.1) + max(0.01, 3) = 4, not max(1.01, 3.1).
    expect(floorsByCategory(records, m).bn).toBeCloseTo(4, 12);
    expect(floorsByCategory(records, m).conv).toBeCloseTo(2, 12);
    const c = costByCategory(records);
    expect(c.bn).toEqual({ read: 6.1e4, written: 4e4, flops: 3.1e6, dispatches: 2 });
    expect(c.relu.dispatches).toBe(0);
  });
});

/** Synthetic rounds: bn and skipinit wall times and the bn step's BN kernels' GPU time, per round. */
function rawOf(rounds: { bn: number; skip: number; bnKernels: number; gpu: number }[]): StepRaw {
  const breakdown = (total: number, bn: number) => Object.fromEntries(CATEGORIES.map((c) => [c, c === 'bn' ? bn : c === 'conv' ? total - bn : 0])) as Record<Category, number>;
  const rs: StepRound[] = rounds.map((r, i) => ({
    round: i + 1,
    order: i % 2 ? ['skipinit', 'bn'] : ['bn', 'skipinit'],
    copyGBs: 10,
    fmaGflops: 100,
    variants: {
      bn: { wallMs: r.bn, wallSamples: [r.bn], gpuMs: r.gpu, breakdown: breakdown(r.gpu, r.bnKernels) },
      skipinit: { wallMs: r.skip, wallSamples: [r.skip], gpuMs: r.gpu - r.bnKernels, breakdown: breakdown(r.gpu - r.bnKernels, 0) },
    },
  }));
  const records = (withBn: boolean): DispatchRecord[] => [
    { label: 'conv2d.forward', category: 'conv', cost: cost(1e6, 1e6, 1e9) },
    ...(withBn ? [{ label: 'batchnorm.normalize', category: 'bn' as const, cost: cost(4e6, 4e6, 1e6) }] : []),
  ];
  return {
    kind: STEP_KIND,
    schema: 1,
    date: '2026-12-02T00:00:00.000Z',
    runtime: 'test',
    adapter: { vendor: 'test', architecture: '', device: '', description: 'synthetic', runtime: 'test', isFallback: false } as never,
    adapterName: 'synthetic',
    profile: 'cpu-adapter',
    commit: null,
    method: 'timestamp-query',
    notes: [],
    config: { depth: 16, width: 1, batch: 32, steps: 1, profiledSteps: 1, warmup: 0, rounds: rounds.length, quick: false },
    conditions: { command: 'test', loadAverageBefore: [1, 1, 1], loadAverageAfter: [1, 1, 1], order: 'rotated', yardsticks: 'test' },
    copyValues: 1,
    runners: [
      { name: 'bn', variant: 'bn', fuseBnRelu: true, fuseBn: false, tiledConvs: false, parameters: 1, records: records(true), kernels: new Map() },
      { name: 'skipinit', variant: 'skipinit', fuseBnRelu: true, fuseBn: false, tiledConvs: false, parameters: 1, records: records(false), kernels: new Map() },
    ],
    rounds: rs,
  };
}

describe('the step report: BN cost two ways, with verdicts', () => {
  it('verdict: an effect larger than its range is resolved; a smaller one, or one round, is not', () => {
    expect(verdict('x', spreadOf([0.04, 0.045, 0.05]), 3)).toEqual({ resolved: true, text: 'x: 4.5% ± 0.5% (median ± half the range over 3 rounds)' });
    expect(verdict('x', spreadOf([-0.05, 0.04, 0.13]), 3)).toEqual({ resolved: false, text: 'x: not resolved at this size: spread 18.0% > effect 4.0% (3 rounds)' });
    expect(verdict('x', spreadOf([0.04]), 1).resolved).toBe(false);
    expect(spreadOf([3, 1, 2, 10])).toEqual({ median: 2.5, min: 1, max: 10, n: 4 });
  });

  it('a clear effect: both estimates resolved and agreeing, the headline cites (a) with its error bar', () => {
    const r = summarizeStep(rawOf([
      { bn: 100, skip: 96, bnKernels: 4.2, gpu: 95 },
      { bn: 102, skip: 97.5, bnKernels: 4.0, gpu: 96 },
      { bn: 101, skip: 97, bnKernels: 4.1, gpu: 95 },
    ]));
    const a = r.bnCost.wallDelta!;
    expect(a.resolved).toBe(true);
    expect(a.ms.median).toBeCloseTo(4, 12); // per round: 4, 4.5, 4
    expect(a.fraction.min).toBeCloseTo(4 / 101, 12);
    expect(r.bnCost.gpuShare!.resolved).toBe(true);
    expect(r.bnCost.gpuShare!.fraction.median).toBeCloseTo(4.1 / 95, 12);
    expect(r.bnCost.warnings).toEqual([]);
    expect(r.bnCost.headline).toMatch(/^On this adapter BN costs 4\.0% ± 0\.2% of a WRN-16-1 training step at batch 32 \(bn vs skipinit, 3 interleaved rounds\); its kernels take 4\.3% ± 0\.1% of the bn step's GPU time; at the roofline floor on an H200 its kernels would be \d+\.\d% of the step \(a projection\)\.$/);
    // The H200 floor: conv 2e6 bytes / 4.8e9 per ms or 1e9 FLOP / 6.7e10 per ms; bn 8e6 bytes / 4.8e9.
    const h200 = r.projections.find((p) => p.name === 'NVIDIA H200')!;
    const conv = Math.max(2e6 / 4.8e9, 1e9 / 6.7e10);
    const bn = Math.max(8e6 / 4.8e9, 1e6 / 6.7e10);
    expect(h200.bnShare).toBeCloseTo(bn / (conv + bn), 12);
    expect(h200.removalSaves).toBeCloseTo(bn / (conv + bn), 12);
    const text = formatStep(r);
    expect(text).toMatch(/PROJECTION, not a measurement/);
    expect(text).toMatch(/load average before: 1\.00 1\.00 1\.00/);
  });

  it('the bn-fused and bn-tiled arms: (c) fused BN against skipinit, what the fusion alone saves, and the bytes it removes', () => {
    const raw = rawOf([
      { bn: 100, skip: 96, bnKernels: 4.2, gpu: 95 },
      { bn: 102, skip: 97.5, bnKernels: 4.0, gpu: 96 },
      { bn: 101, skip: 97, bnKernels: 4.1, gpu: 95 },
    ]);
    const fusedMs = [98, 99.5, 98.5];
    const tiledMs = [103, 104, 103.5];
    raw.rounds.forEach((r, i) => {
      r.variants['bn-fused'] = { wallMs: fusedMs[i], wallSamples: [fusedMs[i]], gpuMs: null, breakdown: null };
      r.variants['bn-tiled'] = { wallMs: tiledMs[i], wallSamples: [tiledMs[i]], gpuMs: null, breakdown: null };
    });
    // The fused arm: the normalize pass is gone, its convolution reads 1e6 more bytes (the BN's constants and x in the epilogue).
    const fusedRecords = [{ label: 'conv2d.forward.64x64.blocked.bn-relu.stats', category: 'conv' as const, cost: cost(2e6, 1e6, 1.1e9) }];
    raw.runners.push(
      { name: 'bn-fused', variant: 'bn', fuseBnRelu: true, fuseBn: true, tiledConvs: false, parameters: 1, records: fusedRecords, kernels: new Map() },
      { name: 'bn-tiled', variant: 'bn', fuseBnRelu: true, fuseBn: false, tiledConvs: true, parameters: 1, records: raw.runners[0].records, kernels: new Map() },
    );
    const r = summarizeStep(raw);
    const c = r.bnCost.fused!;
    expect(c.ms.median).toBeCloseTo(2, 12); // per round: 2, 2, 1.5
    expect(c.fraction.median).toBeCloseTo(2 / 99.5, 12);
    expect(c.resolved).toBe(true);
    const saves = r.bnCost.fusionSaves!;
    expect(saves.ms.median).toBeCloseTo(5, 12); // 5, 4.5, 5
    expect(saves.fraction.min).toBeCloseTo(4.5 / 104, 12);
    expect(r.bnCost.bytes).toEqual({ bn: 10e6, bnKernels: 8e6, bnFused: 3e6 });
    expect(r.bnCost.headline).toMatch(/; fused into the convolutions, 2\.0% ± 0\.3%/);
    const lines = bnCostLines(r).join('\n');
    expect(lines).toMatch(/\(c\) wall time bn-fused - skipinit/);
    expect(lines).toMatch(/the fusion alone: wall time bn-tiled - bn-fused/);
    expect(lines).toMatch(/bn-fused 2\.86 MiB: the kernel boundaries fusion removes are 6\.68 MiB \(87\.5% of BN's traffic\)/);
    const h200 = r.projections.find((p) => p.name === 'NVIDIA H200')!;
    expect(h200.fusedRemovalSaves).toBeCloseTo(1 - h200.variants.skipinit.floorMs / h200.variants['bn-fused'].floorMs, 12);
  });

  it('noise larger than the effect, disagreeing estimates and GPU time past the wall time are said in words', () => {
    const r = summarizeStep(rawOf([
      { bn: 100, skip: 104, bnKernels: 20, gpu: 130 },
      { bn: 100, skip: 92, bnKernels: 21, gpu: 131 },
      { bn: 100, skip: 99, bnKernels: 20, gpu: 129 },
    ]));
    expect(r.bnCost.wallDelta!.resolved).toBe(false);
    expect(r.bnCost.wallDelta!.text).toMatch(/not resolved at this size: spread 12\.0% > effect 1\.0%/);
    expect(r.bnCost.headline).toMatch(/^On this adapter BN's cost of a WRN-16-1 training step at batch 32 is not resolved: bn - skipinit is 1\.0% with a spread of 12\.0%/);
    expect(r.bnCost.warnings.some((w) => /\(a\) and \(b\) disagree beyond their spreads/.test(w))).toBe(true);
    expect(r.bnCost.warnings.some((w) => /bn: the summed GPU time \(130 ms\) exceeds the wall time \(100 ms\)/.test(w))).toBe(true);
  });
});
