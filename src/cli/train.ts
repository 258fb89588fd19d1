// `wrn train`: train a Wide-ResNet on the embedded synthetic data (default) or CIFAR-10.
import { join } from 'node:path';
import { initWebGPU } from '../index.js';
import { loadCifar10 } from '../data/cifar.js';
import { makeSynthetic } from '../data/synthetic.js';
import { writeSampleGrid } from '../data/png.js';
import { VARIANTS } from '../model/wrn.js';
import { train, DEFAULT_TRAIN, DivergedError, type TrainConfig, type EpochRecord } from '../train/trainer.js';
import { writeCurves } from '../train/curves.js';
import { parseFlags, usage, requireRange, UsageError } from './args.js';

const D = DEFAULT_TRAIN;
export const TRAIN_FLAGS = {
  depth: { type: 'int', default: D.depth, help: 'WRN depth n = 6N + 4 (10, 16, 22, 28, ...)' },
  width: { type: 'int', default: D.widen, help: 'WRN width factor k' },
  variant: { type: 'string', default: D.variant, choices: [...VARIANTS], help: 'normalization variant' },
  'alpha-init': { type: 'number', default: D.alphaInit, help: "SkipInit's alpha at init (paper: 0; ablation: 1)" },
  epochs: { type: 'int', default: D.epochs, help: 'epochs' },
  'batch-size': { type: 'int', default: D.batchSize, help: 'batch size' },
  lr: { type: 'number', default: D.lr, help: 'learning rate' },
  momentum: { type: 'number', default: D.momentum, help: 'heavy-ball momentum' },
  'weight-decay': { type: 'number', default: D.weightDecay, help: 'L2 regularization on all parameters' },
  'lr-constant-fraction': { type: 'number', default: D.lrConstantFraction, help: 'fraction of epochs at the initial learning rate' },
  'lr-decay-every': { type: 'int', default: D.lrDecayEvery, help: 'then multiply the learning rate by the decay factor every this many epochs (paper: 10)' },
  'lr-decay-factor': { type: 'number', default: D.lrDecayFactor, help: 'learning-rate decay factor' },
  seed: { type: 'int', default: D.seed, help: 'seed for init, data order, augmentation and dropout' },
  device: { type: 'string', default: D.device, choices: ['webgpu', 'cpu'], help: "'cpu' runs the reference kernels (slow, for checking)" },
  data: { type: 'string', default: 'synthetic', help: "'synthetic' (embedded, no download) or a directory with the CIFAR-10 binary files" },
  'train-count': { type: 'int', default: 768, help: 'synthetic data: training images (CIFAR: use at most this many if given explicitly)' },
  'test-count': { type: 'int', default: 250, help: 'synthetic data: test images' },
  out: { type: 'string', default: D.out, help: 'run directory (log.jsonl, checkpoint.wrnckpt, curves.png, samples.png, summary.json)' },
  resume: { type: 'string', default: '', help: 'continue from this checkpoint file' },
  'checkpoint-every': { type: 'int', default: D.checkpointEvery, help: 'also checkpoint every this many steps (0: each epoch)' },
  'max-steps': { type: 'int', default: D.maxSteps, help: 'stop after this many steps (0: no limit)' },
  'eval-batch-size': { type: 'int', default: D.evalBatchSize, help: 'evaluation batch size' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

export function trainConfigFromFlags(f: ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>): TrainConfig {
  const cmd = 'train';
  requireRange(cmd, 'epochs', f.epochs, 1);
  requireRange(cmd, 'batch-size', f['batch-size'], 1);
  requireRange(cmd, 'width', f.width, 1);
  requireRange(cmd, 'lr', f.lr, 1e-12);
  requireRange(cmd, 'momentum', f.momentum, 0, 0.999999);
  requireRange(cmd, 'weight-decay', f['weight-decay'], 0);
  requireRange(cmd, 'train-count', f['train-count'], 1);
  requireRange(cmd, 'test-count', f['test-count'], 1);
  requireRange(cmd, 'max-steps', f['max-steps'], 0);
  requireRange(cmd, 'checkpoint-every', f['checkpoint-every'], 0);
  if (f.depth < 10 || (f.depth - 4) % 6 !== 0) throw new UsageError(`wrn train: --depth must be 6N + 4 with N >= 1 (10, 16, 22, 28, ...), got ${f.depth}`);
  return {
    depth: f.depth,
    widen: f.width,
    variant: f.variant,
    alphaInit: f['alpha-init'],
    epochs: f.epochs,
    batchSize: f['batch-size'],
    lr: f.lr,
    momentum: f.momentum,
    weightDecay: f['weight-decay'],
    lrConstantFraction: f['lr-constant-fraction'],
    lrDecayEvery: f['lr-decay-every'],
    lrDecayFactor: f['lr-decay-factor'],
    seed: f.seed,
    device: f.device,
    out: f.out,
    checkpointEvery: f['checkpoint-every'],
    maxSteps: f['max-steps'],
    evalBatchSize: f['eval-batch-size'],
    progressSeconds: 5,
  };
}

/** The dataset named by --data: the embedded synthetic set, or CIFAR-10 from a directory. */
export function loadData(data: string, trainCount: number, testCount: number, seed: number, limitGiven: boolean) {
  if (data === 'synthetic') return makeSynthetic({ trainCount, testCount, seed });
  return loadCifar10(data, limitGiven ? { limit: trainCount } : {});
}

export async function trainCommand(argv: string[]): Promise<number> {
  const f = parseFlags('train', argv, TRAIN_FLAGS);
  if (f.help) {
    console.log(usage('train', 'Train a Wide-ResNet (default: a small WRN-10-1 with BN on the embedded synthetic data, a few minutes on a CPU adapter).', TRAIN_FLAGS));
    return 0;
  }
  const cfg = trainConfigFromFlags(f);
  const t0 = performance.now();
  const data = loadData(f.data, f['train-count'], f['test-count'], cfg.seed, argv.some((a) => a.startsWith('--train-count')));
  console.log(`data: ${data.train.name} (${data.train.count} train, ${data.test.count} test) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const samples = join(cfg.out, 'samples.png');
  writeSampleGrid(data.train, samples);
  console.log(`sample images: ${samples}`);
  if (cfg.device === 'webgpu') console.log(`adapter: ${(await initWebGPU()).adapterName}`);
  let history: EpochRecord[] = [];
  let losses: number[] = [];
  try {
    const r = await train(cfg, data, { resume: f.resume || undefined });
    history = r.history;
    losses = r.losses;
    const last = r.history[r.history.length - 1];
    const curves = writeCurves(cfg.out, losses, history, `WRN-${cfg.depth}-${cfg.widen} ${cfg.variant}`);
    console.log(
      `summary: WRN-${cfg.depth}-${cfg.widen} ${cfg.variant}, ${r.steps} steps, ${r.imagesPerSecond.toFixed(1)} img/s, ` +
        `final test accuracy ${last ? (100 * last.testAccuracy).toFixed(2) + '%' : 'n/a'} (chance ${(100 / data.train.classes.length).toFixed(0)}%); ` +
        `curves ${curves}, log ${join(cfg.out, 'log.jsonl')}, checkpoint ${join(cfg.out, 'checkpoint.wrnckpt')}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof DivergedError) {
      console.error(`wrn train: ${e.message}`);
      return 3;
    }
    throw e;
  }
}
