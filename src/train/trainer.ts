// Training a Wide-ResNet: SGD with heavy-ball momentum and L2, the paper's schedule, evaluation
// every epoch, a JSON-lines log, atomic resumable checkpoints, and a clear stop on divergence.
//
// Determinism: the batches of epoch e are a pure function of (seed, e) (src/data/augment.ts), the
// dropout mask of step s a pure function of (seed, s), and the kernels use no atomics on values,
// so a run resumed from a checkpoint produces the same losses as the uninterrupted run; the
// checkpoint also holds the per-step losses and the running epoch sums, so the log, the summary
// and the curves of a resumed run are those of the uninterrupted one.
//
// The parts: `train` (set-up and the exits), `runLoop` (steps, evaluation), `RunRecorder` (the
// log, checkpoints, summary) and the step itself in src/train/step.ts.
import { dirname, resolve } from 'node:path';
import { gpu, type Tensor } from '../tensor.js';
import type { WideResNet } from '../model/wrn.js';
import { datasetNorm, numBatches } from '../data/augment.js';
import { dataHash, takeFirst, type Dataset } from '../data/dataset.js';
import { appendWhole, PathError, writeFileAtomic } from '../util/fsx.js';
import { faultPoint } from '../util/fault.js';
import { saveCheckpoint, loadCheckpoint, CheckpointError, NonFiniteError } from './checkpoint.js';
import { RunDir } from './rundir.js';
import { divergedAt } from './step.js';
import type { TrainProgress, CheckpointHeader, EpochRecord, KernelChoices, TrainConfig } from './config.js';
import { CONV_IMPLEMENTATIONS_CHECKSUM } from '../gpu/programs/conv2d.js';
import { checkTrainCheckpoint, openModel, openSettings, type Resume, type TrainCheckpoint } from './open.js';
import { CONV_IMPLEMENTATION_NAMES, type ConvImplementationName, type TuningProfile } from '../gpu/profile.js';
import { unknownImplementations, withChosen } from '../gpu/tuning.js';
import { checkpointEntries, evaluate } from './evaluate.js';
import { trainEpochs } from './loop.js';

export { DEFAULT_TRAIN, RESUME_MAY_CHANGE, learningRate, startProgress, validateTrainConfig, type TrainProgress, type CheckpointHeader, type EpochRecord, type TrainConfig } from './config.js';
export { evaluate } from './evaluate.js';
export { checkpointConfig, resumeConfig, type TrainCheckpoint } from './open.js';

/** A run that diverged; `step` is the step it diverged at (or by, when a checkpoint found it). */
export class DivergedError extends Error {
  constructor(message: string, readonly step: number) {
    super(message);
  }
}

export interface TrainResult {
  steps: number;
  losses: number[];
  history: EpochRecord[];
  finalTestAccuracy: number;
  imagesPerSecond: number;
  /** Wall time of this run (this process), seconds. */
  seconds: number;
  diverged: boolean;
  /** 'finished', 'max-steps', or the signal that interrupted the run. */
  stop: 'finished' | 'max-steps' | 'interrupted';
  message: string;
  /** The checkpoint written last (null if none was). */
  checkpoint: string | null;
  /** What actually ran (a resume's configuration comes from its checkpoint). */
  config: TrainConfig;
  /** The final weights on the first `images` training images in inference mode (hooks.evaluateTrainImages, finished runs only). */
  trainEval?: { images: number; loss: number; accuracy: number };
}

export interface TrainHooks {
  log?: (line: string) => void;
  /** Continue from this checkpoint file. */
  resume?: string;
  /** ...already read by the caller (loadTrainCheckpoint), so it is not read twice. */
  resumed?: TrainCheckpoint;
  /** Start afresh over an earlier run in cfg.out (its files are deleted). */
  force?: boolean;
  /** Polled after every step: a reason (e.g. 'SIGINT') makes the run checkpoint and stop. */
  shouldStop?: () => string | null;
  /** Progress lines also report the GPU pool (bytes in use and allocated). */
  verbose?: boolean;
  /** Called after every step (tests: memory over a long run). */
  onStep?: (step: number, loss: number) => void;
  /**
   * When the run finishes, also evaluate the final weights on the first this-many training images
   * in inference mode (no dropout, BN's running statistics): a training loss that does not count
   * the dropout noise (the sweep's claims use it).
   */
  evaluateTrainImages?: number;
}

/** Read a training checkpoint and check it (its kind and every field of its header). */
export function loadTrainCheckpoint(path: string): TrainCheckpoint {
  return checkTrainCheckpoint(loadCheckpoint<CheckpointHeader>(path), path);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

type Progress = TrainProgress;

/**
 * Train on `data`. With `hooks.resume`, the run continues from that checkpoint: `cfg` must be
 * its configuration (resumeConfig) and `data` the data it names. The model, the optimizer state
 * and the run directory's lock are released on every exit path.
 */
export async function train(cfg: TrainConfig, data: { train: Dataset; test: Dataset }, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? ((l: string) => console.log(l));
  const ckpt = hooks.resume ? (hooks.resumed ?? loadTrainCheckpoint(hooks.resume)) : null;
  const resume: Resume | null = ckpt ? { ckpt, name: hooks.resume! } : null;
  // The settings checked against the data and the checkpoint, the schedule the run's (open.ts, as the page does).
  const opened = openSettings(cfg, data, resume);
  cfg = opened.cfg;
  const batchesPerEpoch = opened.batchesPerEpoch;
  const run = new RunDir(cfg.out);
  try {
    run.open();
  } catch (e) {
    if (e instanceof PathError) throw new PathError(`${e.message}; the run did not start, and nothing of it was written${ckpt ? ` (the checkpoint ${hooks.resume} is as it was)` : ''}`, e.code);
    throw e;
  }
  let model: WideResNet | null = null;
  let velocities: Tensor[] = [];
  // On webgpu the run records which implementation each convolution runs; a resume makes the
  // checkpoint's choices again (whatever the tuning cache says now), so its losses stay the same.
  let restoreProfile: TuningProfile | null = null;
  let kernels: KernelChoices | undefined;
  let failedEarly = () => false;
  let recorder: RunRecorder | null = null;
  try {
    if (cfg.device === 'webgpu') {
      const rt = gpu();
      const saved = ckpt?.header.kernels;
      if (saved) {
        const unknown = unknownImplementations(saved.chosen);
        if (unknown.length) {
          throw new CheckpointError(
            `checkpoint ${hooks.resume}: it ran ${unknown.map(([b, n]) => `'${n}' for ${b}`).join(', ')}, and this build has no such implementation (${CONV_IMPLEMENTATION_NAMES.join(', ')}); resume it with the build that made it`,
          );
        }
        if (saved.checksum !== CONV_IMPLEMENTATIONS_CHECKSUM) log(`note: the convolution kernels changed since checkpoint ${hooks.resume} was written; the same implementations run, but the losses may differ in the last digits`);
        restoreProfile = rt.setProfile(withChosen(rt.profile, saved.chosen as Record<string, ConvImplementationName>));
      }
      kernels = { chosen: { ...(rt.profile.conv2d.chosen ?? {}) }, checksum: CONV_IMPLEMENTATIONS_CHECKSUM };
    }
    // A fresh run, or a resume into another directory, would overwrite what that directory holds.
    const elsewhere = !!ckpt && resolve(cfg.out) !== resolve(dirname(hooks.resume!));
    if (!ckpt || elsewhere) {
      const earlier = run.earlierRun();
      if (earlier.length && !hooks.force) {
        throw new CheckpointError(
          ckpt
            ? `run directory ${cfg.out} already holds another run (${earlier.join(', ')}); resuming ${hooks.resume} into it would overwrite it: pass --force to replace it, or choose another --out`
            : `run directory ${cfg.out} already holds a run (${earlier.join(', ')}); resume it with --resume ${run.checkpoint}, pass --force to start it over, or choose another --out`,
        );
      }
      run.clear();
    }
    const built = openModel(cfg, data, resume);
    model = built.model;
    velocities = built.velocities;
    const progress: Progress = built.progress;
    const rec = (recorder = new RunRecorder(run, cfg, model, velocities, data, batchesPerEpoch, kernels, ckpt ? { path: hooks.resume!, step: ckpt.header.step } : null));
    failedEarly = () => !ckpt && rec.stepsLogged === 0;
    rec.startLog(progress);
    log(
      `wrn train: WRN-${cfg.depth}-${cfg.widen} ${cfg.variant} (${model.parameterCount.toLocaleString('en')} parameters) on ${data.train.name}: ` +
        `${data.train.count} train / ${data.test.count} test images of ${data.train.channels}x${data.train.height}x${data.train.width}, ${cfg.epochs} epochs x ${batchesPerEpoch} steps of ${cfg.batchSize}, device ${cfg.device}` +
        (!ckpt ? '' : progress.epoch >= cfg.epochs ? `; the checkpoint has finished all ${cfg.epochs} epochs (step ${progress.step}): nothing to train (a larger --epochs continues the run)` : `; resumed at epoch ${progress.epoch + 1} step ${progress.step}`),
    );
    return await runLoop(cfg, data, model, velocities, progress, rec, hooks, log);
  } catch (e) {
    // A fresh run that failed before its first step (a size that cannot be allocated, a bad
    // kernel) leaves nothing that would make the corrected rerun need --force.
    const cleared = failedEarly() && !(e instanceof DivergedError); // a divergence keeps its log
    if (cleared) run.clear();
    // A file that could not be written (a full disk): the one line also says what is kept.
    if (e instanceof PathError) {
      const when = ['ENOSPC', 'EDQUOT', 'EFBIG'].includes(e.code ?? '') ? 'once there is room' : 'once that is fixed';
      const kept = cleared ? `nothing is kept: the run had not finished a step (what it wrote is removed; run it again ${when})` : recorder ? recorder.kept(when) : `the run did not start${ckpt ? ` (the checkpoint ${hooks.resume} is as it was)` : ''}`;
      throw new PathError(`${e.message}; ${kept}`, e.code);
    }
    throw e;
  } finally {
    model?.release();
    velocities.forEach((v) => v.release());
    run.close();
    if (restoreProfile) gpu().setProfile(restoreProfile);
  }
}

/** The log, the checkpoints and the summary of one run. */
class RunRecorder {
  private dataHash: string | undefined;
  lastCheckpoint: string | null = null;

  constructor(
    readonly run: RunDir,
    private readonly cfg: TrainConfig,
    private readonly model: WideResNet,
    private readonly velocities: Tensor[],
    private readonly data: { train: Dataset; test: Dataset },
    private readonly batchesPerEpoch: number,
    private readonly kernels: KernelChoices | undefined,
    /** The checkpoint this run resumed from, and its step (null: a fresh run). */
    private readonly resumedFrom: { path: string; step: number } | null,
  ) {}

  /** Steps this run has logged (0: it failed before its first step, and leaves nothing behind). */
  stepsLogged = 0;
  /** The last step log.jsonl holds (whole lines only), and the step of the last checkpoint written. */
  private loggedThrough = 0;
  private checkpointStep = 0;

  /** Append a record to log.jsonl, whole or not at all (a full disk leaves no torn line). */
  write(rec: object): void {
    appendWhole(this.run.log, JSON.stringify(rec) + '\n');
    if ((rec as { type?: string }).type === 'step') {
      this.stepsLogged++;
      this.loggedThrough = (rec as { step: number }).step;
    }
  }

  /** What a run stopped by a file-system error leaves: the last good checkpoint and the log. */
  kept(when = 'once that is fixed'): string {
    const ck = this.lastCheckpoint ? { path: this.lastCheckpoint, step: this.checkpointStep } : this.resumedFrom;
    const checkpoint = ck ? `kept: the checkpoint of step ${ck.step} (${ck.path}; resume with wrn train --resume ${ck.path} ${when})` : 'kept: no checkpoint (none was written yet)';
    return `${checkpoint}, and ${this.run.log} through step ${this.loggedThrough}, every line whole`;
  }

  /**
   * Start log.jsonl: for a fresh run its config line; for a resume, the log as it stood at the
   * checkpoint, rebuilt from it, so steps logged after the checkpoint by a killed run are not
   * counted twice.
   */
  startLog(p: Progress): void {
    const lines = [this.configLine()];
    for (let i = 0; i < p.losses.length; i++) {
      const epoch = Math.floor(i / this.batchesPerEpoch);
      lines.push({ type: 'step', step: i + 1, epoch, loss: p.losses[i], lr: p.lrs[i] });
      const done = p.history.find((r) => r.step === i + 1 && r.epoch === epoch + 1);
      if (done) lines.push({ type: 'epoch', ...done });
    }
    writeFileAtomic(this.run.log, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    this.loggedThrough = p.step;
  }

  private configLine(): object {
    const d = this.data;
    return { type: 'config', ...this.cfg, parameters: this.model.parameterCount, trainImages: d.train.count, testImages: d.test.count, dataset: d.train.name, image: [d.train.channels, d.train.height, d.train.width] };
  }

  /** Write a checkpoint of the model and `p`; refuses (DivergedError) a model holding NaN or Inf. */
  async save(p: Progress): Promise<void> {
    const entries = checkpointEntries(this.model, this.velocities);
    const arrays = await Promise.all(entries.map((e) => e.tensor.toArray()));
    this.dataHash ??= dataHash(this.data);
    const header: CheckpointHeader = { kind: 'wrn-train', config: this.cfg, ...p, history: [...p.history], losses: [...p.losses], lrs: [...p.lrs], ...(this.kernels ? { kernels: this.kernels } : {}), dataHash: this.dataHash };
    try {
      saveCheckpoint(this.run.checkpoint, header, entries.map((e, i) => ({ name: e.name, shape: [...e.tensor.shape], data: arrays[i] })));
    } catch (e) {
      if (e instanceof NonFiniteError) throw new DivergedError(`training diverged by step ${p.step}: ${e.message}; the checkpoint was not written (the last good one, if any, is kept)`, p.step);
      throw e;
    }
    this.lastCheckpoint = this.run.checkpoint;
    this.checkpointStep = p.step;
  }

  summary(r: Omit<TrainResult, 'losses'>): void {
    writeFileAtomic(this.run.summary, JSON.stringify({ ...r, data: this.data.train.name, testImages: this.data.test.count, ...(this.kernels ? { kernels: this.kernels } : {}) }, null, 2) + '\n');
  }
}

async function runLoop(
  cfg: TrainConfig,
  data: { train: Dataset; test: Dataset },
  model: WideResNet,
  velocities: Tensor[],
  p: Progress,
  rec: RunRecorder,
  hooks: TrainHooks,
  log: (l: string) => void,
): Promise<TrainResult> {
  const norm = datasetNorm(data.train); // the test set is normalized with the training set's statistics
  const batchesPerEpoch = numBatches(data.train.count, cfg.batchSize, true);
  const totalSteps = cfg.epochs * batchesPerEpoch;
  const t0 = performance.now();
  let stepsThisRun = 0;
  let lastPrint = 0;
  let stopReason = '';
  const diverge = (why: string, lr: number): never => {
    const last = p.losses.length ? p.losses[p.losses.length - 1] : NaN;
    rec.write({ type: 'diverged', step: p.step + 1, epoch: p.epoch, why, lastFiniteLoss: last, lr });
    throw new DivergedError(
      `${divergedAt(p, why, lr)} ` +
        `The log (${rec.run.log}) and the last good checkpoint (${rec.lastCheckpoint ?? (p.step > 0 && hooks.resume ? hooks.resume : 'none written yet')}) are kept.`,
      p.step + 1,
    );
  };

  const ended = await trainEpochs(cfg, model, velocities, data, p, norm, cfg.device, {
    diverged: diverge,
    afterStep: async (loss, lr) => {
      stepsThisRun++;
      rec.write({ type: 'step', step: p.step, epoch: p.epoch, loss, lr });
      faultPoint('step');
      hooks.onStep?.(p.step, loss);
      const now = performance.now();
      if ((now - lastPrint) / 1000 >= cfg.progressSeconds || p.step === totalSteps) {
        lastPrint = now;
        const elapsed = (now - t0) / 1000;
        const ips = (stepsThisRun * cfg.batchSize) / elapsed;
        const eta = ((totalSteps - p.step) * elapsed) / stepsThisRun;
        const mem = hooks.verbose && cfg.device === 'webgpu' ? gpu().memory() : null;
        log(
          `epoch ${p.epoch + 1}/${cfg.epochs}  step ${p.step}/${totalSteps}  loss ${loss.toFixed(4)}  lr ${lr.toPrecision(3)}  ${ips.toFixed(1)} img/s  ETA ${fmtTime(eta)}` +
            (mem ? `  pool ${(mem.bytesInUse / 2 ** 20).toFixed(1)} MiB in use / ${(mem.bytesAllocated / 2 ** 20).toFixed(1)} MiB allocated` : ''),
        );
      }
      const reason = hooks.shouldStop?.();
      if (reason) {
        stopReason = reason;
        return true;
      }
      if (cfg.checkpointEvery > 0 && p.step % cfg.checkpointEvery === 0) await rec.save(p);
      return false;
    },
    afterEpoch: async (r, line) => {
      rec.write({ type: 'epoch', ...r });
      log(line);
      await rec.save(p);
    },
  });
  const stop: TrainResult['stop'] = ended === 'stopped' ? 'interrupted' : ended;
  // A stop mid-epoch (--max-steps, a signal) checkpoints where it stands, so it can be resumed.
  if (stop !== 'finished' && p.batch > 0) await rec.save(p);
  const elapsed = (performance.now() - t0) / 1000;
  const last = p.history[p.history.length - 1];
  const trainImages = stop === 'finished' && hooks.evaluateTrainImages ? takeFirst(data.train, hooks.evaluateTrainImages) : null;
  const trainEval = trainImages ? { images: trainImages.count, ...(await evaluate(model, trainImages, cfg.evalBatchSize, cfg.device, norm)) } : undefined;
  const message =
    stop === 'finished' ? 'finished' : stop === 'max-steps' ? `stopped after ${p.step} steps (--max-steps)` : `interrupted by ${stopReason} after ${p.step} steps`;
  const result: TrainResult = {
    steps: p.step,
    losses: p.losses,
    history: p.history,
    finalTestAccuracy: last ? last.testAccuracy : NaN,
    imagesPerSecond: (stepsThisRun * cfg.batchSize) / elapsed,
    seconds: elapsed,
    diverged: false,
    stop,
    message,
    checkpoint: rec.lastCheckpoint,
    config: cfg,
    ...(trainEval ? { trainEval } : {}),
  };
  const { losses: _omit, ...summary } = result;
  rec.summary(summary);
  return result;
}
