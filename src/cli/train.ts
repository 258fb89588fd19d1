// `wrn train`: train a Wide-ResNet on Fashion-MNIST (default, when installed), the embedded
// synthetic data, or a directory of IDX / CIFAR-10 files.
import { dirname, join } from 'node:path';
import { initWebGPU } from '../index.js';
import { applyTuningCache } from './tuning_cache.js';
import { fashionMnistInstalled, loadDataset, FASHION_MNIST_DIR } from '../data/load.js';
import { DATA_SETTINGS, SETTINGS, flagOfField, settingValue, withSetting, type SettingFlag } from '../train/settings.js';
import { writeSampleGrid } from '../data/png.js';
import { checkWrnSize } from '../model/wrn.js';
import { BROWSER_FILES_SOURCE, DEFAULT_JOB } from '../train/config.js';
import { train, DEFAULT_TRAIN, DivergedError, checkpointConfig, loadTrainCheckpoint, resumeConfig, validateTrainConfig, type TrainCheckpoint, type TrainConfig } from '../train/trainer.js';
import { GPUKernelError } from '../gpu/device.js';
import { ensureDir, PathError, statPath } from '../util/fsx.js';
import { writeCurves } from '../train/curves.js';
import { parseFlags, flagsGiven, usage, requireRange, requireWrnDepth, requireTensorSize, UsageError, type FlagSpec } from './args.js';

const D = DEFAULT_JOB;

/** The flags of a run that are not settings of it. */
const RUN_FLAGS = {
  resume: { type: 'string', default: '', help: 'continue the run of this checkpoint file (or run directory): its settings, data and directory; only --epochs, --max-steps, --out, --device, --checkpoint-every and --eval-batch-size may change' },
  force: { type: 'bool', default: false, help: 'start afresh (or resume into --out) even if --out holds an earlier run (its files are deleted)' },
  verbose: { type: 'bool', default: false, help: 'progress lines also report GPU pool memory (in use / allocated)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

/**
 * The flags: one per setting of the table (src/train/settings.ts), with DEFAULT_JOB's values as
 * defaults, and the run's own flags (after --out, as --help has always listed them).
 */
function buildTrainFlags(): Record<SettingFlag, FlagSpec> & typeof RUN_FLAGS {
  const out: Record<string, FlagSpec> = {};
  for (const [path, s] of SETTINGS) {
    if (!s.flag) continue;
    out[s.flag] = { type: s.type, default: settingValue(D, path) as FlagSpec['default'], help: s.help, ...(s.choices ? { choices: s.choices } : {}) };
    if (s.flag === 'out') for (const k of ['resume', 'force', 'verbose'] as const) out[k] = RUN_FLAGS[k];
  }
  out.help = RUN_FLAGS.help;
  return out as Record<SettingFlag, FlagSpec> & typeof RUN_FLAGS;
}
export const TRAIN_FLAGS = buildTrainFlags();
type TrainFlagValues = ReturnType<typeof parseFlags<typeof TRAIN_FLAGS>>;

export function trainConfigFromFlags(f: TrainFlagValues): TrainConfig {
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

/** The flags' values checked against the table's ranges and rules, and set on DEFAULT_TRAIN's fields by the table. */
function trainConfigFromFlagsUnchecked(f: TrainFlagValues): TrainConfig {
  const cmd = 'train';
  // scheduleEpochs: laid out by train() (this run's --epochs, or the checkpoint's); progress every 5 s.
  let c: TrainConfig = { ...DEFAULT_TRAIN, scheduleEpochs: 0, progressSeconds: 5, data: { ...DEFAULT_TRAIN.data } };
  for (const [path, s] of SETTINGS) {
    if (!s.flag) continue;
    const v: unknown = f[s.flag as SettingFlag];
    if (s.min !== undefined || s.max !== undefined) requireRange(cmd, s.flag, v as number, s.min ?? -Infinity, s.max ?? Infinity);
    if (s.rule === 'wrn-depth') requireWrnDepth(cmd, s.flag, v);
    c = withSetting(c, path, v);
  }
  return c;
}

/** 'auto': Fashion-MNIST where Debian's package is installed, else the synthetic set (said in one line). */
export function resolveDataSource(source: string, log: (l: string) => void = console.log): string {
  if (source !== 'auto') return source;
  if (fashionMnistInstalled()) return 'fashion-mnist';
  log(`data: Fashion-MNIST is not installed (${FASHION_MNIST_DIR}; apt install dataset-fashion-mnist): using the embedded synthetic set`);
  return 'synthetic';
}


/** The TrainConfig fields the given flags set (a data flag sets `data` as a whole: see trainCommand). */
export function givenSettings(cfg: TrainConfig, given: Set<string>): Partial<TrainConfig> {
  const out: Partial<TrainConfig> = {};
  for (const [path, s] of SETTINGS) {
    if (s.flag && !path.startsWith('data.') && given.has(s.flag)) (out as Record<string, unknown>)[path] = settingValue(cfg, path);
  }
  return out;
}

export async function trainCommand(argv: string[]): Promise<number> {
  const f = parseFlags('train', argv, TRAIN_FLAGS);
  if (f.help) {
    console.log(usage('train', 'Train a Wide-ResNet (default: WRN-10-1 with BN on Fashion-MNIST at 12x12, 3 epochs over 4,800 images: 82.8% ± 0.8% test accuracy over 3 seeds in about 1.5 minutes on a 2-core CPU adapter; the embedded synthetic set where Fashion-MNIST is not installed).', TRAIN_FLAGS));
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
      saved.data = { ...saved.data, source: resolveDataSource(cfg.data.source, () => {}) };
    }
    const overrides = givenSettings(cfg, given);
    // The data flags given, over the checkpoint's data spec: compared as one.
    const dataGiven = DATA_SETTINGS.filter(([, s]) => given.has(s.flag!));
    if (dataGiven.length) {
      let want: TrainConfig = { ...saved, data: { ...saved.data } };
      for (const [path] of dataGiven) want = withSetting(want, path, path === 'data.source' ? resolveDataSource(cfg.data.source, () => {}) : settingValue(cfg, path));
      overrides.data = want.data;
    }
    if (!given.has('out')) overrides.out = dirname(resume);
    cfg = resumeConfig(saved, overrides, flagOfField);
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
    if (stopSignal) {
      quitAtOnce(sig, join(cfg.out, 'checkpoint.wrnckpt'));
      return;
    }
    stopSignal = sig;
    console.error(`\nwrn train: ${sig}: finishing the current step and writing a checkpoint (send it again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await train(cfg, data, { resume, resumed, force: f.force, verbose: f.verbose, shouldStop: () => stopSignal });
    const c = r.config;
    const samples = join(c.out, 'samples.png');
    let curves: string;
    try {
      writeSampleGrid(data.train, samples);
      curves = writeCurves(c.out, r.losses, r.history, `WRN-${c.depth}-${c.widen} ${c.variant}`);
    } catch (e) {
      if (e instanceof PathError) throw new PathError(`${e.message}; the run itself is kept: ${r.message}, checkpoint ${r.checkpoint ?? 'none written'}, log ${join(c.out, 'log.jsonl')}, summary ${join(c.out, 'summary.json')}`, e.code);
      throw e;
    }
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

/**
 * A second signal: quit without waiting for the step in flight, but never through process.exit,
 * whose exit handlers (Dawn's destructors) ran while a GPU step was in flight and crashed
 * (SIGSEGV). The signal's default action is restored and the signal raised again: the kernel ends
 * the process where it stands (status: killed by the signal, 130 / 143 in a shell). Every file
 * written so far is whole (atomic writes; the log appends whole lines); a half-written checkpoint
 * is a temporary the next run removes, and the lock is stale, so the next run takes it over.
 */
function quitAtOnce(sig: NodeJS.Signals, checkpoint: string): void {
  let written = false;
  try {
    written = statPath(checkpoint, 'checkpoint')?.isFile() ?? false;
  } catch {
    // unreadable: said as not written
  }
  const kept = written ? `the last checkpoint written is kept: resume with wrn train --resume ${checkpoint}` : 'no checkpoint was written yet';
  console.error(`wrn train: ${sig} again: quitting at once, without finishing the step in flight; ${kept}`);
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  process.kill(process.pid, sig);
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
  if (statPath(p, '--resume')?.isDirectory()) {
    const inside = join(p, 'checkpoint.wrnckpt');
    if (statPath(inside, '--resume')) return inside;
    throw new UsageError(`wrn train: --resume ${p} is a directory without a checkpoint.wrnckpt; expected a checkpoint file or a run directory holding one`);
  }
  return p;
}
