// Signal propagation at initialization (De & Smith 2020, Figure 2): measure, predict, report.
import { drawsFor, measureNet, predictionFor, type BlockRow, type NetResult, type ProgressFn, type SignalConfig, type SignalNet } from './nets.js';
import { mixSeed } from '../util/rng.js';
import { summarize, type NetSummary } from './report.js';

export { channelStats, readStats, readScalars, type ChannelStats, type ChannelStatsTensors } from './stats.js';
export {
  F32_MAX,
  paddingFraction,
  predictDoubling,
  predictPlusOne,
  predictPlusC,
  predictConvBn,
  predictSkipInit,
  predictedOverflowBlock,
  maxRelDeviation,
  type Prediction,
  type PredictionKind,
} from './predict.js';
export { convBnExpectation, convBnGrid, defaultPairs, BranchMonteCarlo, DEFAULT_CONVBN_OPTIONS, type ConvBnExpectation, type ConvBnGeometry, type ConvBnOptions } from './convbn.js';
export {
  SIGNAL_NETS,
  DEFAULT_DRAWS,
  SIGNAL_BN_EPS,
  drawsFor,
  predictionFor,
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
export {
  summarize,
  describeResult,
  regimeTable,
  toCsv,
  toJson,
  plotResults,
  writeSignalOutputs,
  secondMoment,
  CSV_HEADER,
  SIGNAL_CRITERIA,
  verdictTable,
  verdictLine,
  checkCriterion,
  describeCriterion,
  type NetSummary,
  type Deviation,
  type Criterion,
  type Verdict,
} from './report.js';

/**
 * Measure `nets` one after the other and summarize each. Each net is measured on drawsFor(net, cfg)
 * independent draws of its weights and inputs (seeds mixSeed(seed, k); draw 0 uses the seed
 * itself) and the per-block statistics are averaged: the analysis predicts expectations over the
 * initialization, and one draw of a finite-width net scatters around them.
 */
export async function runSignal(nets: readonly SignalNet[], cfg: SignalConfig, onProgress?: ProgressFn): Promise<{ results: NetResult[]; summaries: NetSummary[] }> {
  const results: NetResult[] = [];
  for (const net of nets) {
    const runs: NetResult[] = [];
    const draws = drawsFor(net, cfg);
    for (let k = 0; k < draws; k++) runs.push(await measureNet(net, { ...cfg, seed: k === 0 ? cfg.seed : mixSeed(cfg.seed, k) }, onProgress));
    results.push(averageDraws(runs, cfg));
  }
  return { results, summaries: results.map(summarize) };
}

/**
 * The block-by-block mean of several draws of one net (over the blocks every draw reached), with
 * each block's scatter over draws (drawSd). The prediction is made once, at the mean Var(x_0) of
 * the draws (the fc and unnormalized predictions are linear in it, so this is their mean; conv-bn's
 * recursion is run once from it), and its label shows that v0. Without cfg the draws' own
 * predictions are kept only when there is one draw.
 */
export function averageDraws(runs: NetResult[], cfg?: SignalConfig): NetResult {
  const mean = (f: (r: NetResult) => number) => runs.reduce((s, r) => s + f(r), 0) / runs.length;
  const input = { sqMean: mean((r) => r.input.sqMean), variance: mean((r) => r.input.variance) };
  const v0 = input.sqMean + input.variance;
  const prediction = cfg ? predictionFor(runs[0].net, v0, cfg) : runs.length === 1 ? runs[0].prediction : null;
  if (runs.length === 1) return { ...runs[0], prediction };
  const blocks = Math.min(...runs.map((r) => r.rows.length));
  const rows: BlockRow[] = Array.from({ length: blocks }, (_, i) => {
    const m = mean((r) => r.rows[i].sqMean + r.rows[i].variance);
    const sd = Math.sqrt(runs.reduce((s, r) => s + (r.rows[i].sqMean + r.rows[i].variance - m) ** 2, 0) / (runs.length - 1));
    return {
      ...runs[0].rows[i],
      sqMean: mean((r) => r.rows[i].sqMean),
      variance: mean((r) => r.rows[i].variance),
      branchSqMean: mean((r) => r.rows[i].branchSqMean),
      branchVariance: mean((r) => r.rows[i].branchVariance),
      drawSd: sd / m,
    };
  });
  return {
    ...runs[0],
    description: `${runs[0].description}; mean of ${runs.length} independent draws`,
    input,
    rows,
    stoppedAt: runs.some((r) => r.stoppedAt !== null) ? Math.min(...runs.map((r) => r.stoppedAt ?? Infinity)) : null,
    prediction,
    draws: runs.length,
    seconds: runs.reduce((s, r) => s + r.seconds, 0),
  };
}
