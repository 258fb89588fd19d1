// A training run's settings, the learning-rate schedule and a training checkpoint's header: the
// parts of the trainer the browser page shares (no node:* here; the trainer re-exports them).
import type { Variant } from '../model/wrn.js';
import type { Device } from '../tensor.js';
import type { DataSpec } from '../data/load.js';
import { MIN_IMAGE_SIZE, type ChannelNorm, type Dataset } from '../data/dataset.js';
import { epochBatches, type Batch } from '../data/augment.js';
import { mixSeed } from '../util/rng.js';
import { RESUMABLE_FIELDS } from './settings.js';

/**
 * The data source the browser page records for files the user dropped there (followed by what they
 * were): `wrn train --resume` of such a checkpoint needs --data DIR naming the same files.
 */
export const BROWSER_FILES_SOURCE = 'browser-files:';

export interface TrainConfig {
  depth: number;
  widen: number;
  variant: Variant;
  /** Variant bn: BN fused into the convolutions (the same model and parameters, fewer passes over memory). */
  fuseBn: boolean;
  alphaInit: number;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** The learning rate is constant for this fraction of the epochs, then decays. */
  lrConstantFraction: number;
  /** ... multiplied by lrDecayFactor every lrDecayEvery epochs. */
  lrDecayEvery: number;
  lrDecayFactor: number;
  /**
   * The epochs the schedule was laid out for: the run's first --epochs (0: --epochs). A resume
   * that changes --epochs keeps it, so the decay points stay where the run put them; epochs past
   * it continue at the schedule's last rate.
   */
  scheduleEpochs: number;
  seed: number;
  device: Device;
  /** Run directory: log.jsonl, checkpoint.wrnckpt, curves.png, summary.json. */
  out: string;
  /** Also checkpoint every this many steps (0: at the end of each epoch only). */
  checkpointEvery: number;
  /** Stop after this many steps in total (0: no limit); for tests and quick looks. */
  maxSteps: number;
  evalBatchSize: number;
  /** Print a progress line at most this often (seconds). */
  progressSeconds: number;
  /** Random crops and flips on the training images. */
  augment: boolean;
  /** The data the run trains on (recorded, so a resume loads the same). */
  data: DataSpec;
}

export const DEFAULT_TRAIN: TrainConfig = {
  depth: 10,
  widen: 1,
  variant: 'bn',
  fuseBn: false,
  alphaInit: 0,
  epochs: 2,
  batchSize: 32,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  lrConstantFraction: 0.5,
  lrDecayEvery: 1,
  lrDecayFactor: 0.5,
  scheduleEpochs: 0,
  seed: 0,
  device: 'webgpu',
  out: 'runs/default',
  checkpointEvery: 0,
  maxSteps: 0,
  evalBatchSize: 100,
  progressSeconds: 5,
  augment: true,
  data: { source: 'auto', trainCount: 0, testCount: 0, imageSize: 0 },
};

/**
 * The main job (`wrn train` with no flags, and the lab's training view), chosen by measurement on a 2-core machine with
 * SwiftShader: WRN-10-1 with BN on Fashion-MNIST at 12x12, 3 epochs of 75 steps of 64 over the
 * first 4,800 training images, lr 0.2 then halved each epoch after the first, no augmentation (at
 * 225 steps the net underfits: crops and flips only slow it), evaluated on the first 2,000 test
 * images. Measured: 82.55% ± 0.22% test accuracy over seeds 0-2, about 2 min wall (see README). Batch 64 runs 1.7x the
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
/** Settings a resume may change: the rest must match the checkpoint (see resumeConfig). From the table of settings (settings.ts). */
export const RESUME_MAY_CHANGE: readonly (keyof TrainConfig)[] = RESUMABLE_FIELDS;

/**
 * The paper's schedule: constant for the first lrConstantFraction of the schedule's epochs (at
 * least the first epoch where the fraction is > 0: `--epochs 1` trains at --lr), then multiplied
 * by `factor` every `every` epochs; past the schedule's epochs (a resume that extends the run) it
 * stays at its last rate.
 */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'epochs' | 'lrConstantFraction' | 'lrDecayEvery' | 'lrDecayFactor'> & { scheduleEpochs?: number }, epoch: number): number {
  const total = cfg.scheduleEpochs || cfg.epochs;
  const e = Math.min(epoch, total - 1);
  const start = cfg.lrConstantFraction > 0 ? Math.max(1, Math.floor(total * cfg.lrConstantFraction)) : 0;
  if (e < start) return cfg.lr;
  return cfg.lr * Math.pow(cfg.lrDecayFactor, 1 + Math.floor((e - start) / cfg.lrDecayEvery));
}

/** A run's settings with its schedule fixed to its epochs (a fresh run; a checkpoint from before scheduleEpochs was recorded). */
export function withSchedule(cfg: TrainConfig): TrainConfig {
  return cfg.scheduleEpochs ? cfg : { ...cfg, scheduleEpochs: cfg.epochs };
}

/** Where a run stands: everything a checkpoint holds besides the tensors and the settings. */
export interface TrainProgress {
  /** The next step to run: epoch, batch within it, global step. */
  epoch: number;
  batch: number;
  step: number;
  history: EpochRecord[];
  /** Every step's loss and learning rate so far (the log and the curves are rebuilt from them). */
  losses: number[];
  lrs: number[];
  /** The running sums of the epoch in progress, so its average is the uninterrupted run's. */
  epochLossSum: number;
  epochSteps: number;
}

/** A training checkpoint's header (what `wrn train --resume` reads). */
/** Which implementation each convolution ran (the tuned choices; none: the static profile's), and of which implementation set. */
export interface KernelChoices {
  chosen: Record<string, string>;
  checksum: string;
}

export interface CheckpointHeader extends TrainProgress {
  kind: 'wrn-train';
  config: TrainConfig;
  /** On webgpu: the convolution choices the run made, so that a resume makes the same (absent in older checkpoints). */
  kernels?: KernelChoices;
  /** dataHash of the images and labels the run saw (absent in older checkpoints): a resume on other data is refused. */
  dataHash?: string;
}

/** The progress of a fresh run, or a copy of a checkpoint's (older checkpoints may lack the sums). */
export function startProgress(h?: TrainProgress): TrainProgress {
  return h
    ? { epoch: h.epoch, batch: h.batch, step: h.step, history: [...h.history], losses: [...(h.losses ?? [])], lrs: [...(h.lrs ?? [])], epochLossSum: h.epochLossSum ?? 0, epochSteps: h.epochSteps ?? 0 }
    : { epoch: 0, batch: 0, step: 0, history: [], losses: [], lrs: [], epochLossSum: 0, epochSteps: 0 };
}

export interface EpochRecord {
  epoch: number;
  /** Global step at the end of the epoch. */
  step: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
}

/**
 * What is wrong with a training checkpoint's header, one line per violation (empty: nothing):
 * the types and ranges of every field, the settings as validateTrainConfig sees them, and the
 * progress's consistency (the step's losses and rates, the epoch within the run). A checkpoint is
 * a file people share: its CRC only says it is the file that was written, not that it is sane.
 */
export function trainHeaderProblems(h: unknown): string[] {
  const out: string[] = [];
  const isInt = (v: unknown, min = 0) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (!h || typeof h !== 'object') return ['the header is not an object'];
  const r = h as Record<string, unknown>;
  if (r.kind !== 'wrn-train') out.push(`kind is ${JSON.stringify(r.kind)}, expected 'wrn-train'`);
  const c = r.config as Record<string, unknown> | null;
  let epochs = Infinity;
  if (!c || typeof c !== 'object' || Array.isArray(c)) out.push('config is not an object');
  else {
    for (const [k, def] of Object.entries(DEFAULT_TRAIN) as [keyof TrainConfig, unknown][]) {
      if (!(k in c)) continue; // older checkpoints: the default
      const v = c[k];
      if (k === 'data') {
        const d = v as Record<string, unknown> | null;
        if (!d || typeof d !== 'object' || typeof d.source !== 'string' || !['trainCount', 'testCount', 'imageSize'].every((f) => isInt(d[f]))) {
          out.push(`config.data is ${JSON.stringify(v)}, expected {source: string, trainCount, testCount, imageSize: integers >= 0}`);
        }
      } else if (typeof v !== typeof def || (typeof def === 'number' && !Number.isFinite(v as number))) out.push(`config.${k} is ${JSON.stringify(v)}, expected a ${typeof def === 'number' ? 'finite number' : typeof def}`);
    }
    if (!out.some((l) => l.startsWith('config'))) {
      try {
        validateTrainConfig({ ...DEFAULT_TRAIN, ...(c as Partial<TrainConfig>) });
      } catch (e) {
        out.push(`config: ${(e as Error).message.replace(/^train: /, '')}`);
      }
      epochs = (c.epochs as number | undefined) ?? DEFAULT_TRAIN.epochs;
    }
  }
  for (const f of ['epoch', 'batch', 'step'] as const) if (!isInt(r[f])) out.push(`${f} is ${JSON.stringify(r[f])}, expected an integer >= 0`);
  if ('epochSteps' in r && !isInt(r.epochSteps)) out.push(`epochSteps is ${JSON.stringify(r.epochSteps)}, expected an integer >= 0`);
  if (isInt(r.epoch) && (r.epoch as number) > epochs) out.push(`epoch ${r.epoch} is past the run's ${epochs} epochs`);
  if (!Array.isArray(r.history) || !r.history.every((e) => e && typeof e === 'object' && isInt((e as EpochRecord).epoch, 1) && isInt((e as EpochRecord).step) && ['trainLoss', 'testLoss', 'testAccuracy', 'lr'].every((f) => isNum((e as Record<string, unknown>)[f])))) {
    out.push('history is not a list of epoch records {epoch, step, trainLoss, testLoss, testAccuracy, lr}');
  } else if (isInt(r.epoch) && r.history.length > (r.epoch as number)) out.push(`history holds ${r.history.length} epochs but the run is at epoch ${r.epoch}`);
  for (const f of ['losses', 'lrs'] as const) {
    if (!(f in r)) continue; // older checkpoints
    const a = r[f];
    if (!Array.isArray(a) || !a.every(isNum)) out.push(`${f} is not a list of finite numbers`);
    else if (isInt(r.step) && a.length !== r.step) out.push(`${f} holds ${a.length} values for ${r.step} steps`);
  }
  if ('dataHash' in r && !(typeof r.dataHash === 'string' && /^[0-9a-f]{8}$/.test(r.dataHash))) out.push(`dataHash is ${JSON.stringify(r.dataHash)}, expected 8 hexadecimal digits`);
  if ('epochLossSum' in r && !isNum(r.epochLossSum)) out.push(`epochLossSum is ${JSON.stringify(r.epochLossSum)}, expected a finite number`);
  if (isInt(r.epochSteps) && isInt(r.step) && (r.epochSteps as number) > (r.step as number)) out.push(`epochSteps ${r.epochSteps} is more than the ${r.step} steps run`);
  return out;
}

/** Sanity-check a configuration; errors name the flag and the expected range. */
export function validateTrainConfig(c: TrainConfig): void {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`train: ${what}`);
  };
  need(Number.isInteger(c.epochs) && c.epochs >= 1, `--epochs must be a positive integer, got ${c.epochs}`);
  need(Number.isInteger(c.batchSize) && c.batchSize >= 1, `--batch-size must be a positive integer, got ${c.batchSize}`);
  need(c.lr > 0 && Number.isFinite(c.lr), `--lr must be a positive number, got ${c.lr}`);
  need(c.momentum >= 0 && c.momentum < 1, `--momentum must be in [0, 1), got ${c.momentum}`);
  need(c.weightDecay >= 0, `--weight-decay must be >= 0, got ${c.weightDecay}`);
  need(c.lrConstantFraction >= 0 && c.lrConstantFraction <= 1, `--lr-constant-fraction must be in [0, 1], got ${c.lrConstantFraction}`);
  need(Number.isInteger(c.lrDecayEvery) && c.lrDecayEvery >= 1, `--lr-decay-every must be a positive integer of epochs, got ${c.lrDecayEvery}`);
  need(c.lrDecayFactor > 0 && c.lrDecayFactor <= 1, `--lr-decay-factor must be in (0, 1], got ${c.lrDecayFactor}`);
  need(Number.isInteger(c.evalBatchSize) && c.evalBatchSize >= 1, `--eval-batch-size must be a positive integer, got ${c.evalBatchSize}`);
  need(!c.fuseBn || c.variant === 'bn', `--fuse-bn fuses batch norm into the convolutions: it needs --variant bn, got --variant ${c.variant}`);
  need(Number.isFinite(Math.fround(c.alphaInit)), `--alpha-init must be a finite float32 (|x| < 3.4e38), got ${c.alphaInit}`);
  const size = c.data?.imageSize ?? 0;
  need(size === 0 || size >= MIN_IMAGE_SIZE, `--image-size must be 0 (native) or at least ${MIN_IMAGE_SIZE} (two stride-2 stages), got ${size}`);
}


// ---- the run's rules, shared by the trainer and the page, so a checkpoint resumes the same run ----

/** The batches of the epoch `p` is in, from the batch it stands at (a pure function of seed and epoch). */
export function progressBatches(cfg: TrainConfig, train: Dataset, p: TrainProgress, norm: ChannelNorm): Generator<Batch, void, undefined> {
  return epochBatches(train, { batchSize: cfg.batchSize, seed: cfg.seed, epoch: p.epoch, augment: cfg.augment, shuffle: true, dropLast: true, startBatch: p.batch, norm });
}

/** The SGD settings of the step `p` is at (its dropout seed a pure function of seed and step). */
export function stepOptions(cfg: TrainConfig, p: TrainProgress, lr: number) {
  return { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay, dropoutSeed: mixSeed(cfg.seed, p.step, 0x0d0) };
}

/** Count a finished step of batch `batchIndex` with its loss. */
export function recordStep(p: TrainProgress, loss: number, lr: number, batchIndex: number): void {
  p.losses.push(loss);
  p.lrs.push(lr);
  p.epochLossSum += loss;
  p.epochSteps++;
  p.step++;
  p.batch = batchIndex + 1;
}

/** Move on to the next epoch (after its evaluation was recorded). */
export function endEpoch(p: TrainProgress): void {
  p.epoch++;
  p.batch = 0;
  p.epochLossSum = 0;
  p.epochSteps = 0;
}
