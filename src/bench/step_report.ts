// The step benchmark's result: from the interleaved rounds (src/bench/step.ts) to medians and
// spreads per variant and category, BN's cost stated two ways with a verdict on whether it is
// resolved, roofline floors on this adapter and the labelled projection onto published devices;
// and its tables for the terminal and the page. Pure code: no node:* imports.
import { CATEGORIES, type Category, type DispatchRecord } from '../gpu/cost.js';
import { summarize, type Timing } from './harness.js';
import { costByCategory, floorsByCategory, PUBLISHED_DEVICES, sumOver, type CategoryCost, type Machine } from './roofline.js';
import { fmt, header, pct, table } from './format.js';
import type { RunInfo } from './report.js';

export const STEP_KIND = 'wrn-bench-step';

/** A quantity over rounds: its median and range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** how many rounds */
  n: number;
}

export function spreadOf(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1], n: s.length };
}

/** `median [min, max]` */
export function fmtSpread(s: Spread | null | undefined, f: (v: number) => string = (v) => fmt(v)): string {
  if (!s || !Number.isFinite(s.median)) return '-';
  return s.n > 1 ? `${f(s.median)} [${f(s.min)}, ${f(s.max)}]` : f(s.median);
}

/** One variant in one round. */
export interface StepRoundVariant {
  /** median of the round's wall-timed steps of this variant */
  wallMs: number;
  wallSamples: number[];
  /** summed GPU time of the round's profiled steps (mean per step); null without timestamps */
  gpuMs: number | null;
  breakdown: Record<Category, number> | null;
}

export interface StepRound {
  round: number;
  /** the variants in the order they ran */
  order: string[];
  copyGBs: number;
  fmaGflops: number;
  variants: Record<string, StepRoundVariant>;
}

export interface StepVariantResult {
  /** bn, bn-unfused, skipinit, unnormalized, ... */
  name: string;
  variant: string;
  fuseBnRelu: boolean;
  /** BN fused into the convolutions (the bn-fused arm) */
  fuseBn: boolean;
  /** every convolution on the tiled kernels (the bn-tiled arm) */
  tiledConvs: boolean;
  parameters: number;
  dispatchesPerStep: number;
  /** bytes every dispatch of a step reads and writes, by the cost model */
  bytesPerStep: number;
  /** The conv kernels' FLOPs per step by formula (forward, both gradients, the split sums), GFLOP. */
  convGflopPerStep: number;
  /** That work over the step's median wall time. */
  effectiveGflops: number;
  /** That work over the conv kernels' median GPU time (null without timestamps). */
  convKernelGflops: number | null;
  /** median over rounds of each round's median wall time (submit to loss read back) */
  wallMs: number;
  wallTiming: Timing;
  wall: Spread;
  imagesPerSecond: number;
  /** the sum of `breakdown` (the category medians); null without timestamps */
  gpuMs: number | null;
  /** the spread of the rounds' summed GPU time */
  gpu: Spread | null;
  /** median over rounds of each category's GPU ms per step */
  breakdown: Record<Category, number> | null;
  breakdownSpread: Record<Category, Spread> | null;
  /** breakdown / gpuMs */
  shares: Record<Category, number> | null;
  /** bytes, FLOPs and dispatches per step by category (src/gpu/cost.ts) */
  cost: Record<Category, CategoryCost>;
  /** each category's roofline floor on this adapter (median copy GB/s and FMA GFLOP/s of the run), ms */
  floorMs: Record<Category, number>;
  /** the most expensive kernels (mean GPU ms per step over the rounds), by kernel name */
  topKernels: { kernel: string; category: Category; ms: number; count: number }[];
}

/** One of BN's two costs, with its verdict. */
export interface BnEstimate {
  /** a fraction of the bn step */
  fraction: Spread;
  ms: Spread;
  resolved: boolean;
  /** the sentence: the figure with its error bar, or why it is not resolved */
  text: string;
}

export interface BnCost {
  /** (a) the wall-time difference bn - skipinit, per round, over bn's wall time */
  wallDelta: BnEstimate | null;
  /** (b) the BN kernels' share of the bn step's summed GPU time, per round */
  gpuShare: BnEstimate | null;
  /** (c) BN fused into the convolutions: bn-fused - skipinit, per round, over bn-fused's wall time */
  fused: BnEstimate | null;
  /** what the fusion alone saves: bn-tiled - bn-fused (the same convolution kernels), over bn-tiled */
  fusionSaves: BnEstimate | null;
  /** bytes moved per step by the cost model: the bn step's, its BN kernels', the bn-fused step's */
  bytes: { bn: number; bnKernels: number; bnFused: number } | null;
  /** what a reader must know before citing either */
  warnings: string[];
  /** the one sentence to lead with */
  headline: string;
}

export interface Projection extends Machine {
  /** per variant: the step's floor and each category's (ms) */
  variants: Record<string, { floorMs: number; byCategory: Record<Category, number> }>;
  /** BN kernels' share of the bn step at the floor */
  bnShare: number | null;
  /** 1 - skipinit floor / bn floor */
  removalSaves: number | null;
  /** 1 - skipinit floor / bn-fused floor */
  fusedRemovalSaves: number | null;
}

export interface StepBenchResult extends RunInfo {
  kind: typeof STEP_KIND;
  config: { depth: number; width: number; batch: number; steps: number; profiledSteps: number; warmup: number; rounds: number; quick: boolean };
  conditions: { command: string | null; loadAverageBefore: number[] | null; loadAverageAfter: number[] | null; order: string; yardsticks: string };
  /** the copy yardstick's size (f32 values) and both yardsticks over rounds */
  yardsticks: { copyValues: number; copyGBs: Spread; fmaGflops: Spread };
  categories: Category[];
  variants: StepVariantResult[];
  rounds: StepRound[];
  bnCost: BnCost;
  /** a projection from published peaks, not a measurement */
  projections: Projection[];
}

/** What step.ts measured, before it is summarized. */
export interface StepRaw extends RunInfo {
  kind: typeof STEP_KIND;
  config: StepBenchResult['config'];
  conditions: StepBenchResult['conditions'];
  copyValues: number;
  runners: { name: string; variant: string; fuseBnRelu: boolean; fuseBn: boolean; tiledConvs: boolean; parameters: number; records: DispatchRecord[]; kernels: Map<string, { category: Category; ms: number; count: number }> }[];
  rounds: StepRound[];
}

const byCategory = <T>(f: (c: Category) => T): Record<Category, T> => Object.fromEntries(CATEGORIES.map((c) => [c, f(c)])) as Record<Category, T>;

/** A per-round effect is resolved when its range over the rounds is smaller than its median. */
export function verdict(what: string, fraction: Spread, rounds: number): { resolved: boolean; text: string } {
  const range = fraction.max - fraction.min;
  const effect = Math.abs(fraction.median);
  if (fraction.n < 2) return { resolved: false, text: `${what}: ${pct(fraction.median)} from one round: no spread, so not resolved (run --rounds 5 or more)` };
  if (range > effect) return { resolved: false, text: `${what}: not resolved at this size: spread ${pct(range)} > effect ${pct(effect)} (${rounds} rounds)` };
  return { resolved: true, text: `${what}: ${pct(fraction.median)} ± ${pct(range / 2)} (median ± half the range over ${rounds} rounds)` };
}

function bnCostOf(rounds: StepRound[], cfg: StepBenchResult['config'], variants: StepVariantResult[], projections: Projection[]): BnCost {
  const has = (n: string) => rounds.length > 0 && rounds.every((r) => r.variants[n]);
  const warnings: string[] = [];
  let wallDelta: BnEstimate | null = null;
  // (a - b) / a per round: a's extra time over b, as a fraction of a's step.
  const delta = (a: string, b: string, what: string): BnEstimate | null => {
    if (!has(a) || !has(b)) return null;
    const ms = rounds.map((r) => r.variants[a].wallMs - r.variants[b].wallMs);
    const fraction = spreadOf(rounds.map((r, i) => ms[i] / r.variants[a].wallMs));
    return { fraction, ms: spreadOf(ms), ...verdict(what, fraction, rounds.length) };
  };
  wallDelta = delta('bn', 'skipinit', '(a) wall time bn - skipinit, over the bn step');
  const fused = delta('bn-fused', 'skipinit', '(c) wall time bn-fused - skipinit, over the bn-fused step');
  const fusionSaves = delta('bn-tiled', 'bn-fused', 'the fusion alone: wall time bn-tiled - bn-fused (the same convolution kernels), over the bn-tiled step');
  const bnRun = variants.find((v) => v.name === 'bn');
  const fusedRun = variants.find((v) => v.name === 'bn-fused');
  const bytes = bnRun && fusedRun ? { bn: bnRun.bytesPerStep, bnKernels: bnRun.cost.bn.read + bnRun.cost.bn.written, bnFused: fusedRun.bytesPerStep } : null;
  let gpuShare: BnEstimate | null = null;
  if (has('bn') && rounds.every((r) => r.variants.bn.breakdown)) {
    const ms = rounds.map((r) => r.variants.bn.breakdown!.bn);
    const fraction = spreadOf(rounds.map((r, i) => ms[i] / r.variants.bn.gpuMs!));
    gpuShare = { fraction, ms: spreadOf(ms), ...verdict("(b) the BN kernels' share of the bn step's GPU time", fraction, rounds.length) };
  }
  if (wallDelta && gpuShare && (wallDelta.fraction.max < gpuShare.fraction.min || gpuShare.fraction.max < wallDelta.fraction.min)) {
    warnings.push(
      `(a) and (b) disagree beyond their spreads (${fmtSpread(wallDelta.fraction, pct)} against ${fmtSpread(gpuShare.fraction, pct)}): they measure different things ` +
        '(removing BN also adds SkipInit\'s own kernels and changes what the host waits for), and per-dispatch timestamps include each pass\'s overhead; cite (a) for what removing BN saves.',
    );
  }
  for (const v of variants) {
    if (v.gpu && v.gpu.median > v.wall.median) {
      warnings.push(`${v.name}: the summed GPU time (${fmt(v.gpu.median)} ms) exceeds the wall time (${fmt(v.wall.median)} ms): on this adapter per-dispatch timestamps overlap or include pass overhead, so they are not additive; shares from them are indicative only.`);
    }
  }
  const net = `a WRN-${cfg.depth}-${cfg.width} training step at batch ${cfg.batch}`;
  let headline: string;
  if (!wallDelta) headline = `BN's cost needs both the bn and skipinit variants (--variants bn,skipinit).`;
  else if (wallDelta.resolved) headline = `On this adapter BN costs ${pct(wallDelta.fraction.median)} ± ${pct((wallDelta.fraction.max - wallDelta.fraction.min) / 2)} of ${net} (bn vs skipinit, ${rounds.length} interleaved rounds)`;
  else headline = `On this adapter BN's cost of ${net} is not resolved: bn - skipinit is ${pct(wallDelta.fraction.median)} with a spread of ${pct(wallDelta.fraction.max - wallDelta.fraction.min)} over ${rounds.length} interleaved rounds`;
  if (gpuShare) headline += `; its kernels take ${pct(gpuShare.fraction.median)} ± ${pct((gpuShare.fraction.max - gpuShare.fraction.min) / 2)} of the bn step's GPU time`;
  if (fused) headline += fused.resolved ? `; fused into the convolutions, ${pct(fused.fraction.median)} ± ${pct((fused.fraction.max - fused.fraction.min) / 2)}` : `; fused into the convolutions, not resolved (${pct(fused.fraction.median)}, spread ${pct(fused.fraction.max - fused.fraction.min)})`;
  const h200 = projections.find((p) => p.name === 'NVIDIA H200');
  if (h200?.bnShare !== null && h200?.bnShare !== undefined) headline += `; at the roofline floor on an H200 its kernels would be ${pct(h200.bnShare)} of the step (a projection)`;
  return { wallDelta, gpuShare, fused, fusionSaves, bytes, warnings, headline: `${headline}.` };
}

/** Medians, spreads, floors, BN's cost and the projections from the rounds. */
export function summarizeStep(raw: StepRaw): StepBenchResult {
  const { runners, rounds, copyValues, ...info } = raw;
  const copyGBs = spreadOf(rounds.map((r) => r.copyGBs));
  const fmaGflops = spreadOf(rounds.map((r) => r.fmaGflops));
  const here = { bandwidthGBs: copyGBs.median, peakGflops: fmaGflops.median };
  const variants: StepVariantResult[] = runners.map((run) => {
    const per = rounds.map((r) => r.variants[run.name]);
    const wall = spreadOf(per.map((p) => p.wallMs));
    const profiled = per.every((p) => p.breakdown);
    const breakdownSpread = profiled ? byCategory((c) => spreadOf(per.map((p) => p.breakdown![c]))) : null;
    const breakdown = breakdownSpread ? byCategory((c) => breakdownSpread[c].median) : null;
    const gpuMs = breakdown ? sumOver(breakdown) : null;
    const cost = costByCategory(run.records);
    const convGflop = cost.conv.flops / 1e9;
    return {
      name: run.name,
      variant: run.variant,
      fuseBnRelu: run.fuseBnRelu,
      fuseBn: run.fuseBn,
      tiledConvs: run.tiledConvs,
      parameters: run.parameters,
      dispatchesPerStep: run.records.length,
      bytesPerStep: run.records.reduce((sum, d) => sum + d.cost.read + d.cost.written, 0),
      convGflopPerStep: convGflop,
      effectiveGflops: (convGflop * 1e3) / wall.median,
      convKernelGflops: breakdown && breakdown.conv > 0 ? (convGflop * 1e3) / breakdown.conv : null,
      wallMs: wall.median,
      wallTiming: summarize('wall-clock', per.map((p) => p.wallMs)),
      wall,
      imagesPerSecond: (1000 * raw.config.batch) / wall.median,
      gpuMs,
      gpu: profiled ? spreadOf(per.map((p) => p.gpuMs!)) : null,
      breakdown,
      breakdownSpread,
      shares: breakdown && gpuMs! > 0 ? byCategory((c) => breakdown[c] / gpuMs!) : null,
      cost,
      floorMs: floorsByCategory(run.records, here),
      topKernels: [...run.kernels.entries()]
        .map(([kernel, a]) => ({ kernel, category: a.category, ms: a.ms / rounds.length, count: Math.round(a.count / rounds.length) }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 12),
    };
  });
  const projections: Projection[] = PUBLISHED_DEVICES.map((m) => {
    const per = Object.fromEntries(
      runners.map((run) => {
        const byCat = floorsByCategory(run.records, m);
        return [run.name, { floorMs: sumOver(byCat), byCategory: byCat }];
      }),
    );
    const bn = per.bn;
    const skip = per.skipinit;
    const fused = per['bn-fused'];
    return {
      ...m,
      variants: per,
      bnShare: bn && bn.floorMs > 0 ? bn.byCategory.bn / bn.floorMs : null,
      removalSaves: bn && skip ? 1 - skip.floorMs / bn.floorMs : null,
      fusedRemovalSaves: fused && skip ? 1 - skip.floorMs / fused.floorMs : null,
    };
  });
  const result: Omit<StepBenchResult, 'bnCost'> = {
    ...info,
    yardsticks: { copyValues, copyGBs, fmaGflops },
    categories: [...CATEGORIES],
    variants,
    rounds,
    projections,
  };
  return { ...result, bnCost: bnCostOf(rounds, raw.config, variants, projections) } as StepBenchResult;
}

// ---- tables ------------------------------------------------------------------------------------

const mb = (bytes: number) => fmt(bytes / 2 ** 20);

/** The step table, for the terminal and the page: one row per variant. */
export function stepRows(r: StepBenchResult): string[][] {
  const rows = [['variant', 'params', 'dispatches', 'wall ms/step', 'img/s', 'conv GFLOP/step', 'step GFLOP/s', 'conv GFLOP/s', 'GPU ms/step', ...r.categories]];
  for (const v of r.variants) {
    const cats = r.categories.map((k) => (v.breakdown ? `${fmt(v.breakdown[k])} (${pct(v.shares![k])})` : '-'));
    rows.push([v.name, String(v.parameters), String(v.dispatchesPerStep), fmtSpread(v.wall), fmt(v.imagesPerSecond), fmt(v.convGflopPerStep), fmt(v.effectiveGflops), fmt(v.convKernelGflops), fmtSpread(v.gpu), ...cats]);
  }
  return rows;
}

/** Per variant and category (those with dispatches): what the step moves and computes, its floor here, and how close the kernels come to it. */
export function rooflineRows(r: StepBenchResult): string[][] {
  const rows = [['variant', 'category', 'dispatches', 'MiB moved', 'GFLOP', 'FLOP/byte', 'measured ms', 'floor ms', 'efficiency']];
  for (const v of r.variants) {
    for (const c of r.categories) {
      const k = v.cost[c];
      if (!k.dispatches) continue;
      const bytes = k.read + k.written;
      const measured = v.breakdown?.[c];
      rows.push([v.name, c, String(k.dispatches), mb(bytes), fmt(k.flops / 1e9), fmt(bytes > 0 ? k.flops / bytes : NaN), fmt(measured), fmt(v.floorMs[c], 3), measured ? pct(v.floorMs[c] / measured) : '-']);
    }
    const bytes = CATEGORIES.reduce((s, c) => s + v.cost[c].read + v.cost[c].written, 0);
    const flops = CATEGORIES.reduce((s, c) => s + v.cost[c].flops, 0);
    const floor = sumOver(v.floorMs);
    rows.push([v.name, 'step', String(v.dispatchesPerStep), mb(bytes), fmt(flops / 1e9), fmt(flops / bytes), fmt(v.gpuMs), fmt(floor, 3), v.gpuMs ? pct(floor / v.gpuMs) : '-']);
  }
  return rows;
}

/** The projection onto published devices (not a measurement). */
export function projectionRows(r: StepBenchResult): string[][] {
  const rows = [['device', 'GB/s', 'GFLOP/s', 'bn step floor ms', "BN kernels' share", 'skipinit floor ms', 'removing BN saves', 'bn-fused floor ms', 'removing fused BN saves', 'conv share']];
  for (const p of r.projections) {
    const bn = p.variants.bn;
    const skip = p.variants.skipinit;
    const fused = p.variants['bn-fused'];
    rows.push([p.name, fmt(p.bandwidthGBs), fmt(p.peakGflops), fmt(bn?.floorMs, 3), pct(p.bnShare), fmt(skip?.floorMs, 3), pct(p.removalSaves), fmt(fused?.floorMs, 3), pct(p.fusedRemovalSaves), bn ? pct(bn.byCategory.conv / bn.floorMs) : '-']);
  }
  return rows;
}

/** BN's cost in lines: the two estimates and the warnings. */
export function bnCostLines(r: StepBenchResult): string[] {
  const b = r.bnCost;
  const lines: string[] = [];
  if (b.wallDelta) lines.push(`${b.wallDelta.text}; ${fmtSpread(b.wallDelta.ms)} ms`);
  else lines.push('(a) wall time bn - skipinit: needs both variants');
  if (b.gpuShare) lines.push(`${b.gpuShare.text}; ${fmtSpread(b.gpuShare.ms)} ms`);
  else lines.push(`(b) the BN kernels' share: ${r.method === 'timestamp-query' ? 'needs the bn variant' : 'needs timestamp-query (this run used the wall clock)'}`);
  if (b.fused) lines.push(`${b.fused.text}; ${fmtSpread(b.fused.ms)} ms`);
  if (b.fusionSaves) lines.push(`${b.fusionSaves.text}; ${fmtSpread(b.fusionSaves.ms)} ms`);
  if (b.bytes) {
    const { bn, bnKernels, bnFused } = b.bytes;
    lines.push(
      `bytes per step (cost model): bn ${mb(bn)} MiB, of which its BN kernels ${mb(bnKernels)} MiB; bn-fused ${mb(bnFused)} MiB: the kernel boundaries fusion removes are ` +
        `${mb(bn - bnFused)} MiB (${pct((bn - bnFused) / bnKernels)} of BN's traffic); the rest is intrinsic (the statistics' and sums' partials, dx, the BN constants the convolutions read)`,
    );
  }
  return [...lines, ...b.warnings.map((w) => `warning: ${w}`)];
}

/** How the run was made, in lines. */
export function conditionLines(r: StepBenchResult): string[] {
  const c = r.config;
  const load = (l: number[] | null) => (l ? l.map((v) => v.toFixed(2)).join(' ') : 'unknown');
  return [
    `WRN-${c.depth}-${c.width}, batch ${c.batch}: ${c.rounds} interleaved rounds (${r.conditions.order}), each ${c.steps} wall-timed${c.profiledSteps ? ` + ${c.profiledSteps} profiled` : ''} steps per variant, after ${c.warmup} warm-up steps`,
    `load average before: ${load(r.conditions.loadAverageBefore)}; after: ${load(r.conditions.loadAverageAfter)}; tuning profile: ${r.profile ?? '-'}; commit: ${r.commit ?? 'unknown'}`,
    `yardsticks (median [min, max] over rounds): copy ${fmtSpread(r.yardsticks.copyGBs)} GB/s, FMA ${fmtSpread(r.yardsticks.fmaGflops)} GFLOP/s; ${r.conditions.yardsticks}`,
    ...(r.conditions.command ? [`command: ${r.conditions.command}`] : []),
  ];
}

export function formatStep(r: StepBenchResult): string {
  const out = [...header(r), ...conditionLines(r), '', r.bnCost.headline, '', "BN's cost, two ways:", ...bnCostLines(r).map((l) => `  ${l}`), ''];
  out.push(table(stepRows(r)));
  out.push("wall and GPU ms/step: median [min, max] over rounds; categories: median GPU ms (share). conv GFLOP/step: the conv kernels' FLOPs by formula; step GFLOP/s: over the wall time; conv GFLOP/s: over the conv kernels' GPU time.");
  if (r.variants.some((v) => !v.breakdown)) out.push('', 'per-kernel breakdown unavailable: the adapter has no timestamp-query; only the wall time per step is reported.');
  out.push('', `roofline on this adapter (floor: each dispatch's bytes over the copy's ${fmt(r.yardsticks.copyGBs.median)} GB/s or its FLOPs over the FMA's ${fmt(r.yardsticks.fmaGflops.median)} GFLOP/s, whichever is larger; efficiency = floor / measured):`);
  out.push(table(rooflineRows(r)));
  if (r.variants.some((v) => CATEGORIES.some((c) => v.breakdown?.[c] && v.floorMs[c] > v.breakdown[c]))) {
    out.push('efficiency above 100%: those kernels beat the copy yardstick (on a CPU adapter their tensors fit in the host\'s caches, the 16 MiB copy does not); their floor is not reached from below.');
  }
  out.push('', 'PROJECTION, not a measurement: the same dispatches at the roofline floor of published peaks (fp32, no tensor cores):');
  out.push(table(projectionRows(r)));
  return out.join('\n');
}

/** B over A per variant: medians with their ranges, and whether the ranges overlap (then the ratio is not resolved). */
export function compareStepRows(a: StepBenchResult, b: StepBenchResult): string[][] {
  const range = (v: StepVariantResult | undefined): Spread | null => (!v ? null : v.wall ?? { median: v.wallMs, min: v.wallTiming.minMs, max: v.wallTiming.maxMs, n: v.wallTiming.reps });
  const resolved = (x: Spread | null, y: Spread | null) => (!x || !y ? '-' : x.max < y.min || y.max < x.min ? 'yes' : 'no: ranges overlap');
  const rows = [['variant', 'quantity', 'A median [min, max]', 'B median [min, max]', 'B/A', 'resolved']];
  const cats = [...new Set([...a.categories, ...b.categories])] as Category[];
  for (const va of a.variants) {
    const vb = b.variants.find((v) => v.name === va.name);
    const [wa, wb] = [range(va), range(vb)];
    rows.push([va.name, 'wall ms/step', fmtSpread(wa), fmtSpread(wb), fmt(ratio(wb?.median, wa?.median)), resolved(wa, wb)]);
    rows.push([va.name, 'GPU ms/step', fmtSpread(va.gpu ?? point(va.gpuMs)), fmtSpread(vb?.gpu ?? point(vb?.gpuMs)), fmt(ratio(vb?.gpuMs, va.gpuMs)), resolved(va.gpu ?? null, vb?.gpu ?? null)]);
    rows.push([va.name, 'step GFLOP/s (conv work over wall time)', fmt(va.effectiveGflops), fmt(vb?.effectiveGflops), fmt(ratio(vb?.effectiveGflops, va.effectiveGflops)), '']);
    for (const c of cats) {
      const x = va.breakdownSpread?.[c] ?? point(va.breakdown?.[c]);
      const y = vb?.breakdownSpread?.[c] ?? point(vb?.breakdown?.[c]);
      rows.push([va.name, `${c} ms (share A ${pct(va.shares?.[c])}, B ${pct(vb?.shares?.[c])})`, fmtSpread(x), fmtSpread(y), fmt(ratio(y?.median, x?.median)), resolved(va.breakdownSpread?.[c] ?? null, vb?.breakdownSpread?.[c] ?? null)]);
    }
  }
  for (const [name, r] of [['A', a], ['B', b]] as const) {
    if (r.bnCost) rows.push(['bn cost', `${name}: ${r.bnCost.wallDelta?.resolved ? 'resolved' : 'not resolved'}`, r.bnCost.wallDelta ? fmtSpread(r.bnCost.wallDelta.fraction, pct) : '-', '', '', '']);
  }
  return rows;
}

const point = (v: number | null | undefined): Spread | null => (v === null || v === undefined ? null : { median: v, min: v, max: v, n: 1 });
const ratio = (b: number | null | undefined, a: number | null | undefined) => (a && b !== null && b !== undefined && a > 0 ? b / a : NaN);
