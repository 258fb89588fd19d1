// `wrn signal`: signal propagation at initialization (De & Smith 2020, Figure 2), measured against
// the analysis' predictions; writes signal.csv, signal.json and signal.png.
import { initWebGPU } from '../index.js';
import { ensureDir } from '../util/fsx.js';
import { loadCifar10 } from '../data/cifar.js';
import { makeSynthetic, IMAGE_CHANNELS, IMAGE_NUMEL, IMAGE_SIZE } from '../data/synthetic.js';
import { normalizeImage } from '../data/augment.js';
import { channelNorm } from '../data/dataset.js';
import {
  DEFAULT_DRAWS,
  DEFAULT_SIGNAL,
  SIGNAL_NETS,
  drawsFor,
  isSignalNet,
  runSignal,
  describeResult,
  regimeTable,
  verdictTable,
  writeSignalOutputs,
  type SignalConfig,
  type SignalNet,
} from '../signal/index.js';
import { checkWrnSize, type Variant } from '../model/wrn.js';
import { parseFlags, usage, requireRange, requireTensorSize, UsageError, requireWrnDepth } from './args.js';

const D = DEFAULT_SIGNAL;
export const DEFAULT_SIGNAL_NETS: readonly SignalNet[] = ['fc-unnorm', 'fc-bn', 'fc-linear-unnorm', 'fc-linear-bn', 'conv-bn', 'skipinit', 'skipinit-alpha', 'wrn-bn', 'wrn-skipinit', 'wrn-unnormalized'];

export const SIGNAL_FLAGS = {
  nets: { type: 'list', default: DEFAULT_SIGNAL_NETS, help: `networks to measure, from: ${SIGNAL_NETS.join(', ')}` },
  depth: { type: 'int', default: D.depth, help: 'residual blocks of the fc-*, skipinit* and conv-bn nets' },
  width: { type: 'int', default: D.width, help: 'fully connected nets: features' },
  batch: { type: 'int', default: D.batch, help: 'fully connected nets: batch size (Gaussian inputs, mean 0, variance 1)' },
  'conv-channels': { type: 'int', default: D.convChannels, help: 'conv-bn: channels' },
  'conv-batch': { type: 'int', default: D.convBatch, help: 'conv-bn: batch size' },
  'conv-size': { type: 'int', default: D.convSize, help: 'conv-bn: image height and width' },
  alpha: { type: 'number', help: "skipinit-alpha's alpha (default: 1/sqrt(depth))" },
  'wrn-depth': { type: 'int', default: D.wrnDepth, help: 'Wide-ResNets: depth 6N + 4 (10, 16, 22, 28, ...)' },
  'wrn-width': { type: 'int', default: D.wrnWidth, help: 'Wide-ResNets: width factor k' },
  'wrn-batch': { type: 'int', default: D.wrnBatch, help: 'Wide-ResNets: batch size' },
  data: { type: 'string', default: 'gaussian', help: "WRN inputs: 'gaussian', 'synthetic' (embedded images, standardized) or a CIFAR-10 binary directory" },
  device: { type: 'string', default: D.device, choices: ['webgpu', 'cpu'], help: "'cpu' runs the reference kernels (slow, for checking)" },
  seed: { type: 'int', default: D.seed, help: 'seed for inputs and weights' },
  chunk: { type: 'int', default: D.chunk, help: 'blocks recorded between two readbacks' },
  draws: {
    type: 'int',
    help: `independent draws of weights and inputs per net, averaged block by block (the predictions are expectations over the initialization); default per net: ${Object.entries(DEFAULT_DRAWS)
      .map(([n, k]) => `${n} ${k}`)
      .join(', ')}, the others 1`,
  },
  'keep-going': { type: 'bool', default: false, help: 'do not stop a net whose variance has overflowed for a whole chunk' },
  out: { type: 'string', default: 'runs/signal', help: 'output directory (signal.csv, signal.json, signal.png)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

const SUMMARY =
  'Signal propagation at initialization (De & Smith 2020, Figure 2). For every residual block: the channel-averaged\n' +
  'squared mean and variance after the add and of the residual branch, against Var(x_l) = 2^l (unnormalized),\n' +
  'v0 + l (fc batch norm), the conv-bn recursion over each channel\'s covariance across batch and pixels (conv-bn),\n' +
  'constant (SkipInit, alpha = 0), with a PASS/FAIL line per net: within 5% at every block (fc-bn, fc-linear-bn,\n' +
  'conv-bn, skipinit), within 0.5 + 0.05 l in log2 (unnormalized). Defaults (several draws per net, see --draws)\n' +
  'took 8.5 minutes on a shared 2-core CPU adapter (SwiftShader).';

/** The configuration named by the flags; throws UsageError naming the bad flag. */
export function signalConfigFromFlags(f: ReturnType<typeof parseFlags<typeof SIGNAL_FLAGS>>): { nets: SignalNet[]; cfg: SignalConfig; data: string } {
  const cmd = 'signal';
  const nets = (f.nets as (string | number)[]).map(String);
  if (nets.length === 0) throw new UsageError(`wrn ${cmd}: --nets is empty; give one or more of ${SIGNAL_NETS.join(', ')}`);
  for (const n of nets) if (!isSignalNet(n)) throw new UsageError(`wrn ${cmd}: --nets: unknown network '${n}' (known: ${SIGNAL_NETS.join(', ')})`);
  requireRange(cmd, 'depth', f.depth, 1);
  requireRange(cmd, 'width', f.width, 1);
  requireRange(cmd, 'batch', f.batch, 2);
  requireRange(cmd, 'conv-channels', f['conv-channels'], 1);
  requireRange(cmd, 'conv-batch', f['conv-batch'], 1);
  requireRange(cmd, 'conv-size', f['conv-size'], 1);
  requireRange(cmd, 'wrn-width', f['wrn-width'], 1);
  requireRange(cmd, 'wrn-batch', f['wrn-batch'], 1);
  requireRange(cmd, 'chunk', f.chunk, 1);
  if (f.draws !== undefined) requireRange(cmd, 'draws', f.draws, 1, 1000);
  requireWrnDepth(cmd, 'wrn-depth', f['wrn-depth']);
  // Sizes no tensor can hold are refused here, naming the flags, for the nets asked for only.
  const wrns = nets.filter((n) => n.startsWith('wrn-'));
  if (nets.some((n) => !n.startsWith('wrn-') && n !== 'conv-bn')) {
    requireTensorSize(cmd, 'the fc weights', [f.width, f.width], '--width');
    requireTensorSize(cmd, 'the fc activations [--batch, --width] =', [f.batch, f.width], '--batch or --width');
  }
  if (nets.includes('conv-bn')) {
    requireTensorSize(cmd, 'the conv-bn weights', [f['conv-channels'], f['conv-channels'], 3, 3], '--conv-channels');
    requireTensorSize(cmd, 'the conv-bn activations [--conv-batch, --conv-channels, --conv-size, --conv-size] =', [f['conv-batch'], f['conv-channels'], f['conv-size'], f['conv-size']], '--conv-batch, --conv-channels or --conv-size');
  }
  for (const n of wrns) {
    try {
      checkWrnSize({ depth: f['wrn-depth'], widen: f['wrn-width'], variant: n.slice('wrn-'.length) as Variant }, 'lower --wrn-width or --wrn-depth');
    } catch (e) {
      throw new UsageError(`wrn ${cmd}: --wrn-depth ${f['wrn-depth']} --wrn-width ${f['wrn-width']}: ${(e as Error).message}`);
    }
  }
  if (wrns.length) requireTensorSize(cmd, 'the WRN activations [--wrn-batch, 16 x --wrn-width, 32, 32] =', [f['wrn-batch'], 16 * f['wrn-width'], 32, 32], '--wrn-batch or --wrn-width');
  const alpha = f.alpha ?? 1 / Math.sqrt(f.depth);
  return {
    nets: nets as SignalNet[],
    data: f.data,
    cfg: {
      depth: f.depth,
      width: f.width,
      batch: f.batch,
      convChannels: f['conv-channels'],
      convBatch: f['conv-batch'],
      convSize: f['conv-size'],
      alpha,
      wrnDepth: f['wrn-depth'],
      wrnWidth: f['wrn-width'],
      wrnBatch: f['wrn-batch'],
      device: f.device,
      seed: f.seed,
      chunk: f.chunk,
      stopAfterOverflow: !f['keep-going'],
      draws: f.draws,
    },
  };
}

/** The first `count` images of the set named by --data, normalized per channel, NCHW. */
function loadImages(data: string, count: number, seed: number): Float32Array {
  const ds = data === 'synthetic' ? makeSynthetic({ trainCount: count, testCount: 1, seed }).train : loadCifar10(data, { limit: count, trainFiles: 1, testLimit: 1 }).train;
  if (ds.count < count) throw new UsageError(`wrn signal: --data ${data} holds ${ds.count} images; --wrn-batch ${count} needs at least that many`);
  const norm = channelNorm(ds);
  const out = new Float32Array(count * IMAGE_NUMEL);
  for (let i = 0; i < count; i++) normalizeImage(ds.images, i * IMAGE_NUMEL, out, i * IMAGE_NUMEL, IMAGE_CHANNELS, IMAGE_SIZE * IMAGE_SIZE, norm);
  return out;
}

export async function signalCommand(argv: string[]): Promise<number> {
  const f = parseFlags('signal', argv, SIGNAL_FLAGS);
  if (f.help) {
    console.log(usage('signal', SUMMARY, SIGNAL_FLAGS));
    return 0;
  }
  const { nets, cfg, data } = signalConfigFromFlags(f);
  ensureDir(f.out, '--out'); // a bad --out fails now, not after the whole measurement
  if (data !== 'gaussian' && nets.some((n) => n.startsWith('wrn-'))) {
    cfg.wrnImages = loadImages(data, cfg.wrnBatch, cfg.seed);
    console.log(`WRN inputs: ${cfg.wrnBatch} images from ${data === 'synthetic' ? 'the embedded synthetic set' : data}, normalized per channel`);
  }
  if (cfg.device === 'webgpu') console.log(`adapter: ${(await initWebGPU()).adapterName}`);
  console.log(`nets (draws): ${nets.map((n) => `${n} (${drawsFor(n, cfg)})`).join(', ')}; depth ${cfg.depth}, fc [${cfg.batch}, ${cfg.width}], conv [${cfg.convBatch}, ${cfg.convChannels}, ${cfg.convSize}, ${cfg.convSize}], WRN-${cfg.wrnDepth}-${cfg.wrnWidth} batch ${cfg.wrnBatch}, alpha ${Number(cfg.alpha.toPrecision(4))}, seed ${cfg.seed}, ${cfg.device}`);
  const t0 = performance.now();
  if (cfg.device === 'webgpu') process.once('SIGINT', () => (console.error(`\nwrn signal: SIGINT: stopped before every net was measured; nothing is written (signal.csv, signal.json and signal.png in ${f.out} are written at the end)`), process.kill(process.pid, 'SIGINT')));
  let lastPrint = 0;
  const { results, summaries } = await runSignal(nets, cfg, (net, done, total, seconds) => {
    const now = performance.now();
    if (done < total && now - lastPrint < 5000) return;
    lastPrint = now;
    console.log(`  ${net}: block ${done}/${total}, ${seconds.toFixed(1)} s`);
  });
  console.log('');
  results.forEach((r, i) => console.log(describeResult(r, summaries[i]).join('\n')));
  const table = regimeTable(results);
  if (table.length) console.log(`\n${table.join('\n')}`);
  const checks = verdictTable(summaries);
  if (checks.lines.length) console.log(`\nchecks (second moment, per net):\n${checks.lines.join('\n')}`);
  const files = writeSignalOutputs(f.out, cfg, results, summaries);
  console.log(`\n${((performance.now() - t0) / 1000).toFixed(1)} s; wrote ${files.csv}, ${files.json}, ${files.png}`);
  return 0;
}
