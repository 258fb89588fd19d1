// `wrn train`: train a Wide-ResNet on Fashion-MNIST (default, when installed), the embedded
// synthetic data, or a directory of IDX / CIFAR-10 files.
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { initWebGPU } from '../index.js';
import { applyTuningCache } from './tuning_cache.js';
import { fashionMnistInstalled, loadDataset, FASHION_MNIST_DIR } from '../data/load.js';
import { writeSampleGrid } from '../data/png.js';
import { VARIANTS, checkWrnSize } from '../model/wrn.js';
import { BROWSER_FILES_SOURCE } from '../train/config.js';
import { train, DEFAULT_TRAIN, DivergedError, checkpointConfig, loadTrainCheckpoint, resumeConfig, validateTrainConfig, type TrainCheckpoint, type TrainConfig } from '../train/trainer.js';
import { GPUKernelError } from '../gpu/device.js';
import { ensureDir } from '../util/fsx.js';
import { writeCurves } from '../train/curves.js';
import { parseFlags, flagsGiven, usage, requireRange, requireWrnDepth, requireTensorSize, UsageError } from './args.js';

/**
 * The main job (`wrn train` with no flags), chosen by measurement on a 2-core machine with
 * SwiftShader: WRN-10-1 with BN on Fashion-MNIST at 12x12, 3 epochs of 75 steps of 64 over the
 * first 4,800 training images, lr 0.2 then halved each epoch after the first, no augmentation (at
 * 225 steps the net underfits: crops and flips only slow it), evaluated on the first 2,000 test
 * images. Measured: 84.4% test accuracy, 1 min 41 s wall (see README). Batch 64 runs 1.7x the
 * images/s of batch 32 on a CPU adapter; 12x12 keeps 2.2x the images/s of 16x16.
 */
export const DEFAULT_JOB: TrainConfig = {
  ...DEFAULT_TRAIN,
  epochs: 3,
  batchSize: 64,
  lr: 0.2,
  augment: false,
  evalBatchSize: 250,
  data: { source: 'auto', trainCount: 4800, testCount: 2000, imageSize: 12 },
};
const D = DEFAULT_JOB;
export const TRAIN_FLAGS = {
  depth: { type: 'int', default: D.depth, help: 'WRN depth n = 6N + 4 (10, 16, 22, 28, ...)' },
  width: { type: 'int', default: D.widen, help: 'WRN width factor k' },
  variant: { type: 'string', default: D.variant, choices: [...VARIANTS], help: 'normalization variant' },
  'fuse-bn': { type: 'bool', default: D.fuseBn, help: 'variant bn: BN fused into the convolutions (statistics from the producing kernel, normalize + ReLU in the consuming conv; the same model)' },
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
  data: { type: 'string', default: 'auto', help: `'fashion-mnist' (${FASHION_MNIST_DIR}, apt install dataset-fashion-mnist), 'synthetic' (embedded), a directory of IDX or CIFAR-10 binary files, or 'auto' (fashion-mnist if installed, else synthetic)` },
  'train-count': { type: 'int', default: D.data.trainCount, help: 'training images: the first N of the set (0: all)' },
  'test-count': { type: 'int', default: D.data.testCount, help: 'test images: the first N of the official test set (0: all)' },
  'image-size': { type: 'int', default: D.data.imageSize, help: "resize images to N x N by area averaging (0: the dataset's own size)" },
  out: { type: 'string', default: D.out, help: 'run directory (log.jsonl, checkpoint.wrnckpt, curves.png, samples.png, summary.json)' },
  resume: { type: 'string', default: '', help: 'continue the run of this checkpoint file (or run directory): its settings, data and directory; only --epochs, --max-steps, --out, --device, --checkpoint-every and --eval-batch-size may change' },
  force: { type: 'bool', default: false, help: 'start afresh (or resume into --out) even if --out holds an earlier run (its files are deleted)' },
  verbose: { type: 'bool', default: false, help: 'progress lines also report GPU pool memory (in use / allocated)' },
  'checkpoint-every': { type: 'int', default: D.checkpointEvery, help: 'also checkpoint every this many steps (0: each epoch)' },
  'max-steps': { type: 'int', default: D.maxSteps, help: 'stop after this many steps (0: no limit)' },
  'eval-batch-size': { type: 'int', default: D.evalBatchSize, help: 'evaluation batch size' },
  augment: { type: 'bool', default: D.augment, help: 'random crops (zero padding of size/8) and left-right flips of the training images; --augment=false turns them off' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

export function trainConfigFromFlags(f: ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>): TrainConfig {
  const c = trainConfigFromFlagsUnchecked(f);
  try {
    validateTrainConfig(c);
    checkWrnSize({ depth: c.depth, widen: c.widen, variant: c.variant, inChannels: 3 }); // before the run directory is touched
  } catch (e) {
    throw new UsageError(`wrn ${(e as Error).message.replace(/^wrn /, '')}`);
  }
  // The largest activation, stage 1's [batch, 16 x width, size, size], for training and evaluation batches.
  const size = c.data.imageSize;
  if (size > 0) {
    requireTensorSize('train', "stage 1's activations [--batch-size, 16 x --width, --image-size, --image-size] =", [c.batchSize, 16 * c.widen, size, size], '--batch-size, --width or --image-size');
    requireTensorSize('train', "stage 1's activations at evaluation [--eval-batch-size, 16 x --width, --image-size, --image-size] =", [c.evalBatchSize, 16 * c.widen, size, size], '--eval-batch-size, --width or --image-size');
  }
  return c;
}

function trainConfigFromFlagsUnchecked(f: ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>): TrainConfig {
  const cmd = 'train';
  requireRange(cmd, 'epochs', f.epochs, 1);
  requireRange(cmd, 'batch-size', f['batch-size'], 1);
  requireRange(cmd, 'width', f.width, 1);
  requireRange(cmd, 'lr', f.lr, 1e-12);
  requireRange(cmd, 'momentum', f.momentum, 0, 0.999999);
  requireRange(cmd, 'weight-decay', f['weight-decay'], 0);
  requireRange(cmd, 'train-count', f['train-count'], 0, 1e7);
  requireRange(cmd, 'test-count', f['test-count'], 0, 1e7);
  requireRange(cmd, 'image-size', f['image-size'], 0, 1024);
  if (f['image-size'] > 0 && f['image-size'] < 4) throw new UsageError(`wrn train: --image-size must be 0 (native) or at least 4 (two stride-2 stages), got ${f['image-size']}`);
  requireRange(cmd, 'max-steps', f['max-steps'], 0);
  requireRange(cmd, 'checkpoint-every', f['checkpoint-every'], 0);
  requireWrnDepth(cmd, 'depth', f.depth);
  return {
    depth: f.depth,
    widen: f.width,
    variant: f.variant,
    fuseBn: f['fuse-bn'],
    alphaInit: f['alpha-init'],
    epochs: f.epochs,
    batchSize: f['batch-size'],
    lr: f.lr,
    momentum: f.momentum,
    weightDecay: f['weight-decay'],
    lrConstantFraction: f['lr-constant-fraction'],
    lrDecayEvery: f['lr-decay-every'],
    lrDecayFactor: f['lr-decay-factor'],
    scheduleEpochs: 0, // laid out by train(): this run's --epochs, or the checkpoint's
    seed: f.seed,
    device: f.device,
    out: f.out,
    checkpointEvery: f['checkpoint-every'],
    maxSteps: f['max-steps'],
    evalBatchSize: f['eval-batch-size'],
    progressSeconds: 5,
    augment: f.augment,
    data: { source: f.data, trainCount: f['train-count'], testCount: f['test-count'], imageSize: f['image-size'] },
  };
}

/** 'auto': Fashion-MNIST where Debian's package is installed, else the synthetic set (said in one line). */
export function resolveDataSource(source: string, log: (l: string) => void = console.log): string {
  if (source !== 'auto') return source;
  if (fashionMnistInstalled()) return 'fashion-mnist';
  log(`data: Fashion-MNIST is not installed (${FASHION_MNIST_DIR}; apt install dataset-fashion-mnist): using the embedded synthetic set`);
  return 'synthetic';
}


/** TrainConfig field -> its flag, for messages. */
const FLAG_OF: Partial<Record<keyof TrainConfig, string>> = {
  depth: '--depth', widen: '--width', variant: '--variant', fuseBn: '--fuse-bn', alphaInit: '--alpha-init', epochs: '--epochs', batchSize: '--batch-size', lr: '--lr', momentum: '--momentum',
  weightDecay: '--weight-decay', lrConstantFraction: '--lr-constant-fraction', lrDecayEvery: '--lr-decay-every', lrDecayFactor: '--lr-decay-factor', seed: '--seed',
  device: '--device', out: '--out', checkpointEvery: '--checkpoint-every', maxSteps: '--max-steps', evalBatchSize: '--eval-batch-size', augment: '--augment', data: '--data/--train-count/--test-count/--image-size',
};
const flagOf = (k: keyof TrainConfig) => FLAG_OF[k] ?? String(k);

/** Flags -> the TrainConfig fields they set (a data flag sets `data` as a whole). */
function givenSettings(cfg: TrainConfig, given: Set<string>): Partial<TrainConfig> {
  const out: Partial<TrainConfig> = {};
  for (const [k, flag] of Object.entries(FLAG_OF) as [keyof TrainConfig, string][]) {
    if (k === 'data') continue;
    if (given.has(flag.slice(2))) (out as Record<string, unknown>)[k] = cfg[k];
  }
  return out;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const f = parseFlags('train', argv, TRAIN_FLAGS);
  if (f.help) {
    console.log(usage('train', 'Train a Wide-ResNet (default: WRN-10-1 with BN on Fashion-MNIST at 12x12, 3 epochs over 4,800 images: 84.4% test accuracy in about 2 minutes on a 2-core CPU adapter; the embedded synthetic set where Fashion-MNIST is not installed).', TRAIN_FLAGS));
    return 0;
  }
  const given = flagsGiven(argv);
  let cfg = trainConfigFromFlags(f);
  const resume = f.resume ? resolveResumePath(f.resume) : undefined;
  let resumed: TrainCheckpoint | undefined;
  if (resume) {
    // A resume continues the same run: the checkpoint's settings and data, its directory.
    resumed = loadTrainCheckpoint(resume);
    const saved = checkpointConfig(resumed);
    if (saved.data.source.startsWith(BROWSER_FILES_SOURCE)) {
      // Trained in the browser page on dropped files: only the user knows where those files are.
      if (!given.has('data')) {
        throw new UsageError(
          `wrn train: checkpoint ${resume} was trained in the browser on dropped files (${saved.data.source.slice(BROWSER_FILES_SOURCE.length).trim() || 'unnamed'}); ` +
            'resume it with --data DIR, a directory holding the same files',
        );
      }
      saved.data = { ...saved.data, source: resolveDataSource(f.data, () => {}) };
    }
    const overrides = givenSettings(cfg, given);
    const dataFlags = ['data', 'train-count', 'test-count', 'image-size'].filter((k) => given.has(k));
    if (dataFlags.length) {
      const want = { ...saved.data, ...(given.has('data') ? { source: resolveDataSource(f.data, () => {}) } : {}), ...(given.has('train-count') ? { trainCount: f['train-count'] } : {}), ...(given.has('test-count') ? { testCount: f['test-count'] } : {}), ...(given.has('image-size') ? { imageSize: f['image-size'] } : {}) };
      overrides.data = want;
    }
    if (!given.has('out')) overrides.out = dirname(resume);
    cfg = resumeConfig(saved, overrides, flagOf);
  } else {
    cfg.data = { ...cfg.data, source: resolveDataSource(cfg.data.source) };
  }
  ensureDir(cfg.out, '--out'); // a bad --out fails now, before minutes of loading and compiling
  const t0 = performance.now();
  const data = loadDataset(cfg.data, cfg.seed);
  console.log(`data: ${data.note}, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (cfg.device === 'webgpu') {
    const rt = await initWebGPU();
    console.log(`adapter: ${rt.adapterName}`);
    // A resume runs the checkpoint's choices (train() sets them); a fresh run takes the cache's.
    if (!resumed) console.log(applyTuningCache(rt));
    else if (resumed.header.kernels) console.log(`convolution choices: the checkpoint's (${Object.keys(resumed.header.kernels.chosen).length} tuned, the rest the static profile's)`);
    else console.log("convolution choices: the static profile's (the checkpoint records none; the tuning cache is not used)");
  }
  // The first signal lets the step in flight finish and checkpoints; a second one ends at once.
  let stopSignal: string | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopSignal) process.exit(sig === 'SIGINT' ? 130 : 143);
    stopSignal = sig;
    console.error(`\nwrn train: ${sig}: finishing the current step and writing a checkpoint (send it again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await train(cfg, data, { resume, resumed, force: f.force, verbose: f.verbose, shouldStop: () => stopSignal });
    const c = r.config;
    const samples = join(c.out, 'samples.png');
    writeSampleGrid(data.train, samples);
    const curves = writeCurves(c.out, r.losses, r.history, `WRN-${c.depth}-${c.widen} ${c.variant}`);
    const last = r.history[r.history.length - 1];
    console.log(
      `summary: WRN-${c.depth}-${c.widen} ${c.variant} on ${data.train.name.replace(/-train$/, '')} ${data.train.height}x${data.train.width}, ${r.steps} steps (${r.message}), ${r.imagesPerSecond.toFixed(1)} img/s, ${r.seconds.toFixed(0)} s; ` +
        `test accuracy ${last ? (100 * last.testAccuracy).toFixed(2) + '%' : 'n/a (no epoch finished)'} on ${data.test.count} test images (chance ${(100 / data.train.classes.length).toFixed(0)}%); ` +
        `curves ${curves}, samples ${samples}, log ${join(c.out, 'log.jsonl')}, checkpoint ${r.checkpoint ?? 'none written'}`,
    );
    if (r.stop === 'interrupted') {
      console.error(`wrn train: ${r.message}; resume with: wrn train --resume ${r.checkpoint ?? join(c.out, 'checkpoint.wrnckpt')}`);
      return stopSignal === 'SIGINT' ? 130 : 143;
    }
    return 0;
  } catch (e) {
    if (e instanceof DivergedError) {
      console.error(`wrn train: ${e.message}`);
      return 3;
    }
    throw withOomHint(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** An out-of-memory GPU error says which flags to lower; any other error is returned as it is. */
export function withOomHint(e: unknown): unknown {
  if (e instanceof GPUKernelError && /out of memory|OutOfMemory/i.test(e.message)) {
    return new GPUKernelError(`${e.message}\nThe GPU ran out of memory: lower --batch-size, --width or --depth (or --eval-batch-size for the evaluation).`);
  }
  return e;
}

/** --resume FILE, or a run directory holding checkpoint.wrnckpt. */
function resolveResumePath(p: string): string {
  if (existsSync(p) && statSync(p).isDirectory()) {
    const inside = join(p, 'checkpoint.wrnckpt');
    if (existsSync(inside)) return inside;
    throw new UsageError(`wrn train: --resume ${p} is a directory without a checkpoint.wrnckpt; expected a checkpoint file or a run directory holding one`);
  }
  return p;
}
