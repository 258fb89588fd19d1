// Signal propagation at initialization (De & Smith 2020, Figure 2): measure, predict, report.
import { measureNet, type NetResult, type ProgressFn, type SignalConfig, type SignalNet } from './nets.js';
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

/** Measure `nets` one after the other and summarize each. */
export async function runSignal(nets: readonly SignalNet[], cfg: SignalConfig, onProgress?: ProgressFn): Promise<{ results: NetResult[]; summaries: NetSummary[] }> {
  const results: NetResult[] = [];
  for (const net of nets) results.push(await measureNet(net, cfg, onProgress));
  return { results, summaries: results.map(summarize) };
}
