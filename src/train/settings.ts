// The training settings, one table: every field of a run's TrainConfig with its flag, type and
// range, whether a resume may change it, and whether the learning-rate schedule is computed from
// it. The CLI's flags and their mapping to TrainConfig (src/cli/train.ts), the flag a message
// names for a field, and the settings a resume may change (RESUME_MAY_CHANGE, config.ts) all come
// from here: a setting cannot be added to one and missed by another (the `satisfies` below makes
// every TrainConfig field an entry). No node:* here: the page shares it.
import { VARIANTS } from '../model/wrn.js';
import { FASHION_MNIST_DIR } from '../data/dataset.js';
import type { DataSpec } from '../data/load.js';
import type { TrainConfig } from './config.js';

/** A TrainConfig field, or a field of its data spec (`data.trainCount`, ...). */
export type SettingPath = Exclude<keyof TrainConfig, 'data'> | `data.${keyof DataSpec}`;

export interface TrainSetting {
  /** The flag that sets it (without --); none: set by the program (progress output, the schedule laid out by train()). */
  flag?: string;
  type: 'int' | 'number' | 'string' | 'bool';
  choices?: readonly string[];
  /** The flag's range, checked on the command line (validateTrainConfig checks the rest of a configuration's rules). */
  min?: number;
  max?: number;
  /** A rule beyond the range: a WRN depth (6N + 4). (validateTrainConfig holds the rules between settings and the image size's 0 or >= 4.) */
  rule?: 'wrn-depth';
  /** A resume may change it (the others must match the checkpoint). */
  resumable: boolean;
  /** The learning-rate schedule is computed from it (a resume keeps the run's decay points: scheduleEpochs). */
  schedule: boolean;
  help: string;
}

/** In --help order. */
export const TRAIN_SETTINGS = {
  depth: { flag: 'depth', type: 'int', rule: 'wrn-depth', resumable: false, schedule: false, help: 'WRN depth n = 6N + 4 (10, 16, 22, 28, ...)' },
  widen: { flag: 'width', type: 'int', min: 1, resumable: false, schedule: false, help: 'WRN width factor k' },
  variant: { flag: 'variant', type: 'string', choices: VARIANTS, resumable: false, schedule: false, help: 'normalization variant' },
  fuseBn: { flag: 'fuse-bn', type: 'bool', resumable: false, schedule: false, help: 'variant bn: BN fused into the convolutions (statistics from the producing kernel, normalize + ReLU in the consuming conv; the same model)' },
  alphaInit: { flag: 'alpha-init', type: 'number', resumable: false, schedule: false, help: "SkipInit's alpha at init (paper: 0; ablation: 1)" },
  epochs: { flag: 'epochs', type: 'int', min: 1, resumable: true, schedule: true, help: 'epochs' },
  batchSize: { flag: 'batch-size', type: 'int', min: 1, resumable: false, schedule: false, help: 'batch size' },
  lr: { flag: 'lr', type: 'number', min: 1e-12, resumable: false, schedule: true, help: 'learning rate' },
  momentum: { flag: 'momentum', type: 'number', min: 0, max: 0.999999, resumable: false, schedule: false, help: 'heavy-ball momentum' },
  weightDecay: { flag: 'weight-decay', type: 'number', min: 0, resumable: false, schedule: false, help: 'L2 regularization on all parameters' },
  lrConstantFraction: { flag: 'lr-constant-fraction', type: 'number', resumable: false, schedule: true, help: 'fraction of epochs at the initial learning rate' },
  lrDecayEvery: { flag: 'lr-decay-every', type: 'int', resumable: false, schedule: true, help: 'then multiply the learning rate by the decay factor every this many epochs (paper: 10)' },
  lrDecayFactor: { flag: 'lr-decay-factor', type: 'number', resumable: false, schedule: true, help: 'learning-rate decay factor' },
  scheduleEpochs: { type: 'int', resumable: false, schedule: true, help: "the epochs the schedule is laid out for: the run's first --epochs (kept by a resume)" },
  seed: { flag: 'seed', type: 'int', resumable: false, schedule: false, help: 'seed for init, data order, augmentation and dropout' },
  device: { flag: 'device', type: 'string', choices: ['webgpu', 'cpu'], resumable: true, schedule: false, help: "'cpu' runs the reference kernels (slow, for checking)" },
  'data.source': {
    flag: 'data',
    type: 'string',
    resumable: false,
    schedule: false,
    help: `'fashion-mnist' (${FASHION_MNIST_DIR}, apt install dataset-fashion-mnist), 'synthetic' (embedded), a directory of IDX or CIFAR-10 binary files, or 'auto' (fashion-mnist if installed, else synthetic)`,
  },
  'data.trainCount': { flag: 'train-count', type: 'int', min: 0, max: 1e7, resumable: false, schedule: false, help: 'training images: the first N of the set (0: all)' },
  'data.testCount': { flag: 'test-count', type: 'int', min: 0, max: 1e7, resumable: false, schedule: false, help: 'test images: the first N of the official test set (0: all)' },
  'data.imageSize': { flag: 'image-size', type: 'int', min: 0, max: 1024, resumable: false, schedule: false, help: "resize images to N x N by area averaging (0: the dataset's own size)" },
  out: { flag: 'out', type: 'string', resumable: true, schedule: false, help: 'run directory (log.jsonl, checkpoint.wrnckpt, curves.png, samples.png, summary.json)' },
  checkpointEvery: { flag: 'checkpoint-every', type: 'int', min: 0, resumable: true, schedule: false, help: 'also checkpoint every this many steps (0: each epoch)' },
  maxSteps: { flag: 'max-steps', type: 'int', min: 0, resumable: true, schedule: false, help: 'stop after this many steps (0: no limit)' },
  evalBatchSize: { flag: 'eval-batch-size', type: 'int', resumable: true, schedule: false, help: 'evaluation batch size' },
  progressSeconds: { type: 'number', resumable: true, schedule: false, help: 'print a progress line at most this often (seconds)' },
  augment: { flag: 'augment', type: 'bool', resumable: false, schedule: false, help: 'random crops (zero padding of size/8) and left-right flips of the training images; --augment=false turns them off' },
} as const satisfies Record<SettingPath, TrainSetting>;

export type SettingFlag = { [K in SettingPath]: (typeof TRAIN_SETTINGS)[K] extends { flag: infer F extends string } ? F : never }[SettingPath];

/** [path, setting] in table order. */
export const SETTINGS: readonly (readonly [SettingPath, TrainSetting])[] = Object.entries(TRAIN_SETTINGS) as [SettingPath, TrainSetting][];

/** The settings of the data spec, compared by a resume as one (`data`). */
export const DATA_SETTINGS = SETTINGS.filter(([p]) => p.startsWith('data.'));

/** Fields a resume may change: the rest must match the checkpoint (see resumeConfig). */
export const RESUMABLE_FIELDS: readonly (keyof TrainConfig)[] = SETTINGS.filter(([p, s]) => s.resumable && !p.startsWith('data.')).map(([p]) => p as keyof TrainConfig);

/** The flag a message names for a TrainConfig field (`data`: its four flags), or the field itself when no flag sets it. */
export function flagOfField(k: keyof TrainConfig): string {
  if (k === 'data') return DATA_SETTINGS.map(([, s]) => `--${s.flag}`).join('/');
  const s: TrainSetting = TRAIN_SETTINGS[k];
  return s.flag ? `--${s.flag}` : String(k);
}

/** Whether a flag sets this TrainConfig field (`data`: its flags do). */
export function hasFlag(k: keyof TrainConfig): boolean {
  return k === 'data' || !!(TRAIN_SETTINGS[k] as TrainSetting).flag;
}

/** A setting's value in a configuration. */
export function settingValue(cfg: TrainConfig, path: SettingPath): unknown {
  return path.startsWith('data.') ? cfg.data[path.slice(5) as keyof DataSpec] : cfg[path as Exclude<keyof TrainConfig, 'data'>];
}

/** `cfg` with one setting replaced (a copy; the data spec copied too). */
export function withSetting(cfg: TrainConfig, path: SettingPath, v: unknown): TrainConfig {
  if (path.startsWith('data.')) return { ...cfg, data: { ...cfg.data, [path.slice(5)]: v } };
  return { ...cfg, [path]: v };
}
