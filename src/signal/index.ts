// Signal propagation at initialization (De & Smith 2020, Figure 2): measure, predict, report.
import { measureNet, type BlockRow, type NetResult, type ProgressFn, type SignalConfig, type SignalNet } from './nets.js';
import type { Prediction } from './predict.js';
import { mixSeed } from '../util/rng.js';
import { summarize, type NetSummary } from './report.js';

export { channelStats, readStats, readScalars, type ChannelStats, type ChannelStatsTensors } from './stats.js';
export {
  F32_MAX,
  paddingFraction,
  predictDoubling,
  predictPlusOne,
  predictPlusC,
  predictSkipInit,
  predictedOverflowBlock,
  maxRelDeviation,
  type Prediction,
  type PredictionKind,
} from './predict.js';
export {
  SIGNAL_NETS,
  FC_NETS,
  CONV_NETS,
  WRN_NETS,
  DEFAULT_SIGNAL,
  isSignalNet,
  measureNet,
  normals,
  inputSeed,
  weightSeed,
  validateConfig,
  type SignalNet,
  type SignalConfig,
  type BlockRow,
  type NetResult,
  type ProgressFn,
} from './nets.js';
export { summarize, describeResult, regimeTable, toCsv, toJson, plotResults, writeSignalOutputs, secondMoment, CSV_HEADER, type NetSummary, type Deviation } from './report.js';

/**
 * Measure `nets` one after the other and summarize each. With cfg.draws > 1 each net is measured
 * on that many independent draws of its weights and inputs (seeds mixSeed(seed, k); draw 0 uses
 * the seed itself) and the per-block statistics are averaged: the analysis predicts expectations
 * over the initialization, and one draw of a finite-width net scatters around them.
 */
export async function runSignal(nets: readonly SignalNet[], cfg: SignalConfig, onProgress?: ProgressFn): Promise<{ results: NetResult[]; summaries: NetSummary[] }> {
  const results: NetResult[] = [];
  const draws = cfg.draws ?? 1;
  for (const net of nets) {
    const runs: NetResult[] = [];
    for (let k = 0; k < draws; k++) runs.push(await measureNet(net, { ...cfg, seed: k === 0 ? cfg.seed : mixSeed(cfg.seed, k) }, onProgress));
    results.push(averageDraws(runs));
  }
  return { results, summaries: results.map(summarize) };
}

/**
 * The block-by-block mean of several draws of one net (over the blocks every draw reached). The
 * predictions are linear in Var(x_0), so their mean is the prediction at the mean Var(x_0).
 */
export function averageDraws(runs: NetResult[]): NetResult {
  if (runs.length === 1) return runs[0];
  const mean = (f: (r: NetResult) => number) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  const blocks = Math.min(...runs.map((r) => r.rows.length));
  const rows: BlockRow[] = Array.from({ length: blocks }, (_, i) => ({
    ...runs[0].rows[i],
    sqMean: mean((r) => r.rows[i].sqMean),
    variance: mean((r) => r.rows[i].variance),
    branchSqMean: mean((r) => r.rows[i].branchSqMean),
    branchVariance: mean((r) => r.rows[i].branchVariance),
  }));
  const preds = runs.map((r) => r.prediction);
  const p0 = preds[0];
  const prediction: Prediction | null =
    p0 && preds.every((p) => p)
      ? { ...p0, label: `${p0.label} (mean of ${runs.length} draws)`, total: (l) => preds.reduce((s, p) => s + p!.total(l), 0) / runs.length, branch: (l) => preds.reduce((s, p) => s + p!.branch(l), 0) / runs.length }
      : null;
  return {
    ...runs[0],
    description: `${runs[0].description}; mean of ${runs.length} independent draws`,
    input: { sqMean: mean((r) => r.input.sqMean), variance: mean((r) => r.input.variance) },
    rows,
    stoppedAt: runs.some((r) => r.stoppedAt !== null) ? Math.min(...runs.map((r) => r.stoppedAt ?? Infinity)) : null,
    prediction,
    seconds: runs.reduce((s, r) => s + r.seconds, 0),
  };
}
