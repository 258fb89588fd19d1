// What `wrn signal` concludes and writes: per-net summaries (deviation from the prediction, f32
// overflow), signal.csv and signal.json (atomic: tmp + rename) and signal.png (one panel per net).
import { join } from 'node:path';
import { lineChart, panels, savePng, type LineSeries } from '../plot/index.js';
import { writeFileAtomic } from '../util/fsx.js';
import { F32_MAX, maxRelDeviation, paddingFraction, predictedOverflowBlock, predictPlusC } from './predict.js';
import type { NetResult, SignalConfig } from './nets.js';

export interface Deviation {
  /** max |measured / predicted - 1| */
  max: number;
  /** the block where it is largest */
  block: number;
  /** blocks compared (both values finite, the prediction within f32's range) */
  blocks: number;
}

/**
 * What the command checks per net, on the second moment (squared mean + variance) at every block
 * where the measurement and the prediction are both finite (the prediction within f32's range):
 *   relative  |measured / predicted - 1| <= tol                       (normalized nets, SkipInit)
 *   log2      |log2(measured / predicted)| <= base + perBlock * l       (the unnormalized nets, whose
 *             one-draw noise is multiplicative and grows with depth)
 */
export type Criterion = { kind: 'relative'; tol: number } | { kind: 'log2'; base: number; perBlock: number };

export const SIGNAL_CRITERIA: Partial<Record<string, Criterion>> = {
  'fc-bn': { kind: 'relative', tol: 0.05 },
  'fc-linear-bn': { kind: 'relative', tol: 0.05 },
  'conv-bn': { kind: 'relative', tol: 0.05 },
  skipinit: { kind: 'relative', tol: 0.05 },
  'fc-unnorm': { kind: 'log2', base: 0.5, perBlock: 0.05 },
  'fc-linear-unnorm': { kind: 'log2', base: 0.5, perBlock: 0.05 },
};

export function describeCriterion(c: Criterion): string {
  return c.kind === 'relative' ? `within ${100 * c.tol}% of the prediction at every block` : `within ${c.base} + ${c.perBlock} l of the prediction in log2 at every block`;
}

export interface Verdict {
  criterion: Criterion;
  pass: boolean;
  /** The block where the deviation uses most of what is allowed: its deviation (relative, or |log2|) and the allowance there. */
  worst: { deviation: number; allowed: number; block: number } | null;
  /** Blocks checked. */
  blocks: number;
}

export interface NetSummary {
  net: string;
  /** Blocks measured (fewer than the depth when the run stopped after an overflow). */
  blocks: number;
  /** Draws averaged. */
  draws: number;
  /** First block whose squared mean or variance is inf or NaN; null if none. */
  firstNonFinite: number | null;
  /** First block where the prediction exceeds f32's maximum; null if none (or no prediction). */
  predictedOverflow: number | null;
  /** Second moment (squared mean + variance) against the prediction. */
  total: Deviation | null;
  /** Where the prediction splits the second moment (conv-bn): each part against its own prediction; else null. */
  sqMean: Deviation | null;
  variance: Deviation | null;
  /** Branch second moment against its prediction, block by block. */
  branch: Deviation | null;
  /** The mean over blocks of measured / predicted branch second moment (one block's branch is noisy; its level is not). */
  branchMeanRatio: number | null;
  /** conv-bn only: against v0 + c l, c the padding fraction (the expectation at block 1 only). */
  constantRate: Deviation | null;
  /** With several draws: one draw's relative scatter of the second moment (median over blocks of drawSd), and drawSd / sqrt(draws) at the worst block. */
  scatter: { perDraw: number; atWorst: number | null } | null;
  /** The command's check (SIGNAL_CRITERIA); null where the net has none. */
  verdict: Verdict | null;
  /** Second moment at the last finite block. */
  last: { block: number; total: number } | null;
}

export const secondMoment = (r: { sqMean: number; variance: number }): number => r.sqMean + r.variance;
const branchMoment = (r: { branchSqMean: number; branchVariance: number }): number => r.branchSqMean + r.branchVariance;

function deviation(measured: number[], predicted: number[], blocks: number[]): Deviation | null {
  const d = maxRelDeviation(measured, predicted);
  if (!d) return null;
  let n = 0;
  for (let i = 0; i < measured.length; i++) if (Number.isFinite(measured[i]) && Number.isFinite(predicted[i]) && predicted[i] <= F32_MAX) n++;
  return { max: d.max, block: blocks[d.at], blocks: n };
}

/** The check of `criterion` on the second moments (blocks where both are finite and the prediction within f32). */
export function checkCriterion(criterion: Criterion, measured: readonly number[], predicted: readonly number[], blocks: readonly number[]): Verdict {
  let worst: Verdict['worst'] = null;
  let n = 0;
  let pass = true;
  for (let i = 0; i < measured.length; i++) {
    const m = measured[i];
    const p = predicted[i];
    if (!Number.isFinite(m) || !Number.isFinite(p) || p > F32_MAX || p <= 0) continue;
    n++;
    const l = blocks[i];
    const dev = criterion.kind === 'relative' ? Math.abs(m / p - 1) : m > 0 ? Math.abs(Math.log2(m / p)) : Infinity;
    const allowed = criterion.kind === 'relative' ? criterion.tol : criterion.base + criterion.perBlock * l;
    if (!(dev <= allowed)) pass = false;
    if (!worst || dev / allowed > worst.deviation / worst.allowed) worst = { deviation: dev, allowed, block: l };
  }
  return { criterion, pass: pass && n > 0, worst, blocks: n };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function summarize(r: NetResult): NetSummary {
  const blocks = r.rows.map((row) => row.block);
  const firstBad = r.rows.find((row) => !Number.isFinite(row.sqMean) || !Number.isFinite(row.variance));
  const finite = r.rows.filter((row) => Number.isFinite(secondMoment(row)));
  const lastRow = finite[finite.length - 1];
  const s: NetSummary = {
    net: r.net,
    blocks: r.rows.length,
    draws: r.draws,
    firstNonFinite: firstBad ? firstBad.block : null,
    predictedOverflow: null,
    total: null,
    sqMean: null,
    variance: null,
    branch: null,
    branchMeanRatio: null,
    constantRate: null,
    scatter: null,
    verdict: null,
    last: lastRow ? { block: lastRow.block, total: secondMoment(lastRow) } : null,
  };
  const p = r.prediction;
  if (!p) return s;
  const measured = r.rows.map(secondMoment);
  const pred = blocks.map((l) => p.total(l));
  s.predictedOverflow = predictedOverflowBlock(p, r.depth);
  s.total = deviation(measured, pred, blocks);
  if (p.split) {
    const sp = p.split;
    s.sqMean = deviation(r.rows.map((row) => row.sqMean), blocks.map((l) => sp.sqMean(l)), blocks);
    s.variance = deviation(r.rows.map((row) => row.variance), blocks.map((l) => sp.variance(l)), blocks);
  }
  const branchPred = blocks.map((l) => p.branch(l));
  s.branch = deviation(r.rows.map(branchMoment), branchPred, blocks);
  const ratios = r.rows.map((row, i) => branchMoment(row) / branchPred[i]).filter((x) => Number.isFinite(x) && x !== 0);
  s.branchMeanRatio = ratios.length ? ratios.reduce((a, b) => a + b, 0) / ratios.length : null;
  if (p.kind === 'conv-bn') {
    const naive = predictPlusC(p.v0, paddingFraction(r.inputShape[2] ?? 1, r.inputShape[3] ?? 1));
    s.constantRate = deviation(measured, blocks.map((l) => naive.total(l)), blocks);
  }
  const criterion = SIGNAL_CRITERIA[r.net];
  if (criterion) s.verdict = checkCriterion(criterion, measured, pred, blocks);
  const sds = r.rows.map((row) => row.drawSd).filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (r.draws > 1 && sds.length) {
    const at = s.verdict?.worst?.block ?? s.total?.block;
    const row = at === undefined ? undefined : r.rows.find((x) => x.block === at);
    s.scatter = { perDraw: median(sds), atWorst: row?.drawSd !== undefined ? row.drawSd / Math.sqrt(r.draws) : null };
  }
  return s;
}

// ---- text ----------------------------------------------------------------------------------------

const pct = (d: Deviation | null) => (d ? `${(100 * d.max).toFixed(2)}% (block ${d.block}, ${d.blocks} blocks)` : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : csvNum(v));

/** The PASS/FAIL line of a verdict. */
export function verdictLine(net: string, v: Verdict): string {
  const w = v.worst;
  const worst = !w
    ? 'no block to compare'
    : v.criterion.kind === 'relative'
      ? `worst ${(100 * w.deviation).toFixed(2)}% at block ${w.block}`
      : `worst |log2| ${w.deviation.toFixed(3)} at block ${w.block}, allowed ${w.allowed.toFixed(3)} there`;
  return `  ${v.pass ? 'PASS' : 'FAIL'} ${net}: ${describeCriterion(v.criterion)} (${worst}; ${v.blocks} blocks)`;
}

/** Lines describing one net's result, for the terminal. */
export function describeResult(r: NetResult, s: NetSummary): string[] {
  const lines: string[] = [];
  const ran = r.stoppedAt !== null ? `blocks 1..${r.stoppedAt} of ${r.depth} (stopped: the rest only carries inf/NaN)` : `${s.blocks} blocks`;
  lines.push(`${r.net}: ${r.description}, x0 [${r.inputShape.join(', ')}], ${ran}, ${r.seconds.toFixed(1)} s`);
  lines.push(`  Var(x0) = ${num(secondMoment(r.input))} (squared mean ${num(r.input.sqMean)}, variance ${num(r.input.variance)})` + (s.last ? `; at block ${s.last.block}: ${num(s.last.total)}` : ''));
  if (r.prediction) {
    const p = r.prediction;
    const anchor = r.draws > 1 ? `, v0 = ${num(p.v0)}: the mean of the ${r.draws} draws' Var(x0)` : '';
    lines.push(`  prediction Var(x_l) = ${p.label}${anchor}`);
    if (p.note) lines.push(`    ${p.note()}`);
    lines.push(`    largest deviation of squared mean + variance ${pct(s.total)}`);
    if (s.scatter) {
      const at = s.scatter.atWorst !== null ? `; the mean of ${r.draws} draws scatters by ${(100 * s.scatter.atWorst).toFixed(2)}% at the worst block` : '';
      lines.push(`    one draw's scatter of the second moment: ${(100 * s.scatter.perDraw).toFixed(2)}% (median over blocks)${at}`);
    }
    if (p.split) lines.push(`    each part against its own prediction: squared mean ${pct(s.sqMean)}; variance ${pct(s.variance)}`);
    const level = s.branchMeanRatio !== null ? `; its mean over blocks of measured / predicted ${s.branchMeanRatio.toFixed(4)}` : '';
    lines.push(`    branch second moment ${pct(s.branch)}${level}`);
    if (s.constantRate) lines.push(`    against v0 + c l with c the padding fraction (the expectation at block 1 only): ${pct(s.constantRate)}`);
    if (s.verdict) lines.push(verdictLine(r.net, s.verdict));
  } else {
    const stage = r.rows.map((row) => `${row.block}:${num(secondMoment(row))}`).join(' ');
    lines.push(`  per block (squared mean + variance): ${stage}`);
    lines.push(`  per block branch (before alpha): ${r.rows.map((row) => num(branchMoment(row))).join(' ')}`);
  }
  if (s.firstNonFinite !== null) {
    const pred = s.predictedOverflow;
    const why = r.prediction ? ` (${r.prediction.label} > f32 max ${F32_MAX.toPrecision(3)} first at block ${pred ?? 'none'})` : '';
    const verdict = pred === null ? 'not predicted' : pred === s.firstNonFinite ? 'as predicted' : `predicted at block ${pred}`;
    lines.push(`  FINDING: f32 overflow at block ${s.firstNonFinite}, ${verdict}${why}`);
  } else if (s.predictedOverflow !== null) {
    lines.push(`  note: the prediction exceeds f32 max at block ${s.predictedOverflow}, but every statistic stayed finite`);
  }
  return lines;
}

/** One PASS/FAIL line per net with a criterion, and whether all passed. */
export function verdictTable(summaries: NetSummary[]): { lines: string[]; pass: boolean } {
  const checked = summaries.filter((s) => s.verdict);
  const lines = checked.map((s) => verdictLine(s.net, s.verdict!) + ` [${s.draws} draw${s.draws === 1 ? '' : 's'}]`);
  return { lines, pass: checked.every((s) => s.verdict!.pass) };
}

// ---- files ---------------------------------------------------------------------------------------

/** Non-finite numbers as text ('inf', '-inf', 'nan') in CSV; Python's float() reads them. */
function csvNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v);
}

export const CSV_HEADER =
  'net,block,n,c,h,w,sq_mean,variance,second_moment,branch_sq_mean,branch_variance,branch_second_moment,alpha,predicted,predicted_branch,predicted_sq_mean,predicted_variance,draws,draw_sd';

/** One row per net and block; block 0 is the input x_0 (no branch). */
export function toCsv(results: NetResult[]): string {
  const lines = [CSV_HEADER];
  for (const r of results) {
    const p = r.prediction;
    const dims = (s: number[]) => [s[0], s[1], s[2] ?? 1, s[3] ?? 1].join(',');
    lines.push(
      [r.net, 0, dims(r.inputShape), csvNum(r.input.sqMean), csvNum(r.input.variance), csvNum(secondMoment(r.input)), '', '', '', csvNum(r.alpha), csvNum(p?.total(0)), '', csvNum(p?.split?.sqMean(0)), csvNum(p?.split?.variance(0)), r.draws, ''].join(','),
    );
    for (const row of r.rows) {
      lines.push(
        [
          r.net,
          row.block,
          dims(row.shape),
          csvNum(row.sqMean),
          csvNum(row.variance),
          csvNum(secondMoment(row)),
          csvNum(row.branchSqMean),
          csvNum(row.branchVariance),
          csvNum(branchMoment(row)),
          csvNum(r.alpha),
          csvNum(p?.total(row.block)),
          csvNum(p?.branch(row.block)),
          csvNum(p?.split?.sqMean(row.block)),
          csvNum(p?.split?.variance(row.block)),
          r.draws,
          csvNum(row.drawSd),
        ].join(','),
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** JSON of the configuration, the summaries and every series; non-finite numbers as "inf"/"nan" strings. */
export function toJson(cfg: SignalConfig, results: NetResult[], summaries: NetSummary[]): string {
  const { wrnImages, ...config } = cfg;
  const body = {
    what: 'signal propagation at initialization (De & Smith 2020, Figure 2); Var = squared mean + variance (second moment)',
    config: { ...config, wrnInput: wrnImages ? 'images' : 'gaussian' },
    nets: results.map((r, i) => ({
      net: r.net,
      description: r.description,
      inputShape: r.inputShape,
      alpha: r.alpha,
      depth: r.depth,
      stoppedAt: r.stoppedAt,
      seconds: r.seconds,
      draws: r.draws,
      prediction: r.prediction ? { kind: r.prediction.kind, formula: r.prediction.label, v0: r.prediction.v0 } : null,
      summary: summaries[i],
      input: r.input,
      rows: r.rows.map((row) => ({
        ...row,
        predicted: r.prediction?.total(row.block) ?? null,
        predictedBranch: r.prediction?.branch(row.block) ?? null,
        ...(r.prediction?.split ? { predictedSqMean: r.prediction.split.sqMean(row.block), predictedVariance: r.prediction.split.variance(row.block) } : {}),
      })),
    })),
  };
  return JSON.stringify(body, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? csvNum(v) : v), 1) + '\n';
}

/** In plots: the bitmap font draws "l" like "1", so formulas say "block". */
const plotFormula = (label: string) => label.replace(/\bl\b/g, 'block');

/**
 * All nets of the analysis, each relative to its own Var(x_0), on log-log axes where the three
 * regimes separate: exponential (leaves the top within a few dozen blocks), linear (a line of
 * slope 1) and constant (flat). The y range stops a decade above the largest non-exploding net.
 */
function overview(results: NetResult[]) {
  const nets = results.filter((r) => r.prediction);
  if (nets.length < 2) return null;
  const series = nets.map((r) => {
    const v0 = secondMoment(r.input);
    return { name: r.net, x: r.rows.map((row) => row.block), y: r.rows.map((row) => secondMoment(row) / v0) };
  });
  const bounded = series.filter((_, i) => nets[i].prediction!.kind !== 'double').flatMap((sr) => sr.y).filter((v) => Number.isFinite(v) && v > 0);
  const top = bounded.length ? 10 * Math.max(...bounded) : undefined;
  return lineChart({
    title: 'Var(x_l) / Var(x_0): exponential (unnormalized), linear (batch norm), constant (SkipInit)',
    xLabel: 'residual block l (log scale)',
    yLabel: 'Var(x_l) / Var(x_0) (log scale)',
    series,
    logX: true,
    logY: true,
    yMin: 0.5,
    yMax: top,
    width: 900,
    height: 560,
  });
}

/** Var(x_l) / Var(x_0) at a few depths, one line per net of the analysis: the regimes in numbers. */
export function regimeTable(results: NetResult[]): string[] {
  const nets = results.filter((r) => r.prediction);
  if (nets.length === 0) return [];
  const depth = Math.max(...nets.map((r) => r.depth));
  const at = [1, 10, 100, 1000, 10000].filter((l) => l < depth).concat(depth);
  const lines = [`Var(x_l) / Var(x_0) at block l:`, `  ${'net'.padEnd(18)}${at.map((l) => `l = ${l}`.padStart(12)).join('')}`];
  for (const r of nets) {
    const v0 = secondMoment(r.input);
    const cells = at.map((l) => {
      const row = r.rows.find((x) => x.block === l);
      const text = row ? num(secondMoment(row) / v0) : r.stoppedAt !== null && l > r.stoppedAt ? 'overflowed' : '-';
      return text.padStart(12);
    });
    lines.push(`  ${r.net.padEnd(18)}${cells.join('')}`);
  }
  return lines;
}

/** An overview, then one panel per net: measured statistics, the branch as added to the skip, the prediction. */
export function plotResults(results: NetResult[], summaries: NetSummary[]) {
  const canvases = results.map((r, i) => {
    const s = summaries[i];
    const xs = [0, ...r.rows.map((row) => row.block)];
    const all = [r.input, ...r.rows];
    const a2 = r.alpha === null ? 1 : r.alpha * r.alpha;
    const series: LineSeries[] = [
      { name: 'squared mean + variance', x: xs, y: all.map(secondMoment), color: '#0072B2' },
      { name: 'variance', x: xs, y: all.map((row) => row.variance), color: '#56B4E9' },
      { name: 'squared mean', x: xs, y: all.map((row) => row.sqMean), color: '#009E73' },
      { name: r.alpha === null ? 'branch (mean^2 + var)' : 'alpha * branch (mean^2 + var)', x: r.rows.map((row) => row.block), y: r.rows.map((row) => a2 * branchMoment(row)), color: '#E69F00' },
    ];
    const p = r.prediction;
    // conv-bn's label carries g_1 and g_depth: too long for a legend.
    const legend = p?.kind === 'conv-bn' ? `${num(p.v0)} + g_1 + ... + g_block (conv-bn recursion)` : p?.label;
    if (p) series.push({ name: `predicted ${plotFormula(legend!)}`, x: xs, y: xs.map((l) => (p.total(l) <= F32_MAX ? p.total(l) : NaN)), color: '#D55E00', dashed: true });
    if (p?.split) {
      const sp = p.split;
      series.push({ name: 'predicted variance', x: xs, y: xs.map((l) => sp.variance(l)), color: '#CC79A7', dashed: true });
      series.push({ name: 'predicted squared mean', x: xs, y: xs.map((l) => sp.sqMean(l)), color: '#7F7F00', dashed: true });
    }
    if (p?.kind === 'double') series.push({ name: 'f32 max', x: [0, xs[xs.length - 1]], y: [F32_MAX, F32_MAX], color: '#7F7F7F', dashed: true });
    const positive = series.flatMap((sr) => sr.y).filter((v) => Number.isFinite(v) && v > 0);
    const span = positive.length ? Math.max(...positive) / Math.min(...positive) : 1;
    const logY = p ? p.kind === 'double' : span > 1e3;
    const overflow = s.firstNonFinite !== null ? `; f32 overflow at block ${s.firstNonFinite}` : '';
    return lineChart({
      title: `${r.net}: ${r.description}${overflow}`,
      xLabel: 'residual block l',
      yLabel: logY ? 'value (log scale)' : 'value',
      series,
      logY,
      width: 900,
      height: 560,
    });
  });
  const first = overview(results);
  const all = first ? [first, ...canvases] : canvases;
  return panels(all, Math.min(2, all.length), { gap: 8 });
}

/** Write signal.csv, signal.json and signal.png into `dir`; returns their paths. */
export function writeSignalOutputs(dir: string, cfg: SignalConfig, results: NetResult[], summaries: NetSummary[]): { csv: string; json: string; png: string } {
  const enc = new TextEncoder();
  const csv = join(dir, 'signal.csv');
  const json = join(dir, 'signal.json');
  const png = join(dir, 'signal.png');
  writeFileAtomic(csv, [enc.encode(toCsv(results))]);
  writeFileAtomic(json, [enc.encode(toJson(cfg, results, summaries))]);
  savePng(plotResults(results, summaries), png);
  return { csv, json, png };
}
