// What `wrn signal` concludes and writes: per-net summaries (deviation from the prediction, f32
// overflow), signal.csv and signal.json (atomic: tmp + rename) and signal.png (one panel per net).
import { join } from 'node:path';
import { lineChart, panels, savePng, type LineSeries } from '../plot/index.js';
import { writeFileAtomic } from '../util/fsx.js';
import { F32_MAX, maxRelDeviation, predictedOverflowBlock, predictPlusOne } from './predict.js';
import type { NetResult, SignalConfig } from './nets.js';

export interface Deviation {
  /** max |measured / predicted - 1| */
  max: number;
  /** the block where it is largest */
  block: number;
  /** blocks compared (both values finite, the prediction within f32's range) */
  blocks: number;
}

export interface NetSummary {
  net: string;
  /** Blocks measured (fewer than the depth when the run stopped after an overflow). */
  blocks: number;
  /** First block whose squared mean or variance is inf or NaN; null if none. */
  firstNonFinite: number | null;
  /** First block where the prediction exceeds f32's maximum; null if none (or no prediction). */
  predictedOverflow: number | null;
  /** Second moment (squared mean + variance) against the prediction. */
  total: Deviation | null;
  /** The variance alone against the prediction (differs where channel means grow: ReLU nets). */
  varianceOnly: Deviation | null;
  /** Branch second moment against its prediction. */
  branch: Deviation | null;
  /** conv-bn only: against the padding-free prediction v0 + l. */
  noPadding: Deviation | null;
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

export function summarize(r: NetResult): NetSummary {
  const blocks = r.rows.map((row) => row.block);
  const firstBad = r.rows.find((row) => !Number.isFinite(row.sqMean) || !Number.isFinite(row.variance));
  const finite = r.rows.filter((row) => Number.isFinite(secondMoment(row)));
  const lastRow = finite[finite.length - 1];
  const s: NetSummary = {
    net: r.net,
    blocks: r.rows.length,
    firstNonFinite: firstBad ? firstBad.block : null,
    predictedOverflow: null,
    total: null,
    varianceOnly: null,
    branch: null,
    noPadding: null,
    last: lastRow ? { block: lastRow.block, total: secondMoment(lastRow) } : null,
  };
  const p = r.prediction;
  if (!p) return s;
  const pred = blocks.map((l) => p.total(l));
  s.predictedOverflow = predictedOverflowBlock(p, r.depth);
  s.total = deviation(r.rows.map(secondMoment), pred, blocks);
  s.varianceOnly = deviation(r.rows.map((row) => row.variance), pred, blocks);
  s.branch = deviation(r.rows.map(branchMoment), blocks.map((l) => p.branch(l)), blocks);
  if (p.kind === 'plus-c') {
    const naive = predictPlusOne(secondMoment(r.input));
    s.noPadding = deviation(r.rows.map(secondMoment), blocks.map((l) => naive.total(l)), blocks);
  }
  return s;
}

// ---- text ----------------------------------------------------------------------------------------

const pct = (d: Deviation | null) => (d ? `${(100 * d.max).toFixed(2)}% (block ${d.block}, ${d.blocks} blocks)` : 'n/a');
const num = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : csvNum(v));

/** Lines describing one net's result, for the terminal. */
export function describeResult(r: NetResult, s: NetSummary): string[] {
  const lines: string[] = [];
  const ran = r.stoppedAt !== null ? `blocks 1..${r.stoppedAt} of ${r.depth} (stopped: the rest only carries inf/NaN)` : `${s.blocks} blocks`;
  lines.push(`${r.net}: ${r.description}, x0 [${r.inputShape.join(', ')}], ${ran}, ${r.seconds.toFixed(1)} s`);
  lines.push(`  Var(x0) = ${num(secondMoment(r.input))} (squared mean ${num(r.input.sqMean)}, variance ${num(r.input.variance)})` + (s.last ? `; at block ${s.last.block}: ${num(s.last.total)}` : ''));
  if (r.prediction) {
    lines.push(`  prediction Var(x_l) = ${r.prediction.label}: largest deviation of squared mean + variance ${pct(s.total)}`);
    lines.push(`    variance alone ${pct(s.varianceOnly)}; branch second moment ${pct(s.branch)}`);
    if (s.noPadding) lines.push(`    against v0 + l, ignoring zero padding: ${pct(s.noPadding)}`);
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

// ---- files ---------------------------------------------------------------------------------------

/** Non-finite numbers as text ('inf', '-inf', 'nan') in CSV; Python's float() reads them. */
function csvNum(v: number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return String(v);
}

export const CSV_HEADER = 'net,block,n,c,h,w,sq_mean,variance,second_moment,branch_sq_mean,branch_variance,branch_second_moment,alpha,predicted,predicted_branch';

/** One row per net and block; block 0 is the input x_0 (no branch). */
export function toCsv(results: NetResult[]): string {
  const lines = [CSV_HEADER];
  for (const r of results) {
    const p = r.prediction;
    const dims = (s: number[]) => [s[0], s[1], s[2] ?? 1, s[3] ?? 1].join(',');
    lines.push([r.net, 0, dims(r.inputShape), csvNum(r.input.sqMean), csvNum(r.input.variance), csvNum(secondMoment(r.input)), '', '', '', csvNum(r.alpha), csvNum(p?.total(0)), ''].join(','));
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
      prediction: r.prediction ? { kind: r.prediction.kind, formula: r.prediction.label } : null,
      summary: summaries[i],
      input: r.input,
      rows: r.rows.map((row) => ({ ...row, predicted: r.prediction?.total(row.block) ?? null, predictedBranch: r.prediction?.branch(row.block) ?? null })),
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
    if (p) series.push({ name: `predicted ${plotFormula(p.label)}`, x: xs, y: xs.map((l) => (p.total(l) <= F32_MAX ? p.total(l) : NaN)), color: '#D55E00', dashed: true });
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
