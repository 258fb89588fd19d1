// Training a Wide-ResNet: SGD with heavy-ball momentum and L2, the paper's schedule, evaluation
// every epoch, a JSON-lines log, atomic resumable checkpoints, and a clear stop on divergence.
//
// Determinism: the batches of epoch e are a pure function of (seed, e) (src/data/augment.ts), the
// dropout mask of step s a pure function of (seed, s), and the kernels use no atomics, so a run
// resumed from a checkpoint produces the same losses as the uninterrupted run.
import { appendFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, scope, noGrad, gpu, type Device } from '../tensor.js';
import { ReadPacer } from '../gpu/runtime.js';
import { softmaxCrossEntropy, labelsTensor } from '../ops/loss.js';
import { sgdStep } from '../ops/sgd.js';
import { WideResNet, type Variant, type WrnConfig } from '../model/wrn.js';
import { epochBatches, evalBatches, numBatches } from '../data/augment.js';
import { mixSeed } from '../data/synthetic.js';
import type { Dataset } from '../data/cifar.js';
import { saveCheckpoint, loadCheckpoint, writeFileAtomic, CheckpointError } from './checkpoint.js';

export interface TrainConfig {
  depth: number;
  widen: number;
  variant: Variant;
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
}

export const DEFAULT_TRAIN: TrainConfig = {
  depth: 10,
  widen: 1,
  variant: 'bn',
  alphaInit: 0,
  epochs: 2,
  batchSize: 32,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  lrConstantFraction: 0.5,
  lrDecayEvery: 1,
  lrDecayFactor: 0.5,
  seed: 0,
  device: 'webgpu',
  out: 'runs/default',
  checkpointEvery: 0,
  maxSteps: 0,
  evalBatchSize: 100,
  progressSeconds: 5,
};

/** The paper's schedule: constant, then multiplied by `factor` every `every` epochs. */
export function learningRate(cfg: Pick<TrainConfig, 'lr' | 'epochs' | 'lrConstantFraction' | 'lrDecayEvery' | 'lrDecayFactor'>, epoch: number): number {
  const start = Math.floor(cfg.epochs * cfg.lrConstantFraction);
  if (epoch < start) return cfg.lr;
  return cfg.lr * Math.pow(cfg.lrDecayFactor, 1 + Math.floor((epoch - start) / cfg.lrDecayEvery));
}

export class DivergedError extends Error {}

interface CheckpointHeader {
  kind: 'wrn-train';
  config: TrainConfig;
  /** The next step to run: epoch, batch within it, global step. */
  epoch: number;
  batch: number;
  step: number;
  history: EpochRecord[];
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
  lr: number;
  seconds: number;
}

export interface TrainResult {
  steps: number;
  losses: number[];
  history: EpochRecord[];
  finalTestAccuracy: number;
  imagesPerSecond: number;
  diverged: boolean;
  message: string;
}

export interface TrainHooks {
  log?: (line: string) => void;
}

/** Sanity-check a configuration; errors name the setting and the expected range. */
export function validateTrainConfig(c: TrainConfig): void {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`train: ${what}`);
  };
  need(Number.isInteger(c.epochs) && c.epochs >= 1, `epochs must be a positive integer, got ${c.epochs}`);
  need(Number.isInteger(c.batchSize) && c.batchSize >= 1, `batch size must be a positive integer, got ${c.batchSize}`);
  need(c.lr > 0 && Number.isFinite(c.lr), `learning rate must be a positive number, got ${c.lr}`);
  need(c.momentum >= 0 && c.momentum < 1, `momentum must be in [0, 1), got ${c.momentum}`);
  need(c.weightDecay >= 0, `weight decay must be >= 0, got ${c.weightDecay}`);
  need(c.lrConstantFraction >= 0 && c.lrConstantFraction <= 1, `lr constant fraction must be in [0, 1], got ${c.lrConstantFraction}`);
  need(Number.isInteger(c.lrDecayEvery) && c.lrDecayEvery >= 1, `lr decay interval must be a positive integer of epochs, got ${c.lrDecayEvery}`);
  need(c.lrDecayFactor > 0 && c.lrDecayFactor <= 1, `lr decay factor must be in (0, 1], got ${c.lrDecayFactor}`);
  need(Number.isInteger(c.evalBatchSize) && c.evalBatchSize >= 1, `eval batch size must be a positive integer, got ${c.evalBatchSize}`);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

/**
 * Train on `data`. With `resume`, the run continues from that checkpoint (its configuration wins
 * over `cfg`, except `out`, `maxSteps` and `progressSeconds`).
 */
export async function train(cfgIn: TrainConfig, data: { train: Dataset; test: Dataset }, opts: { resume?: string } & TrainHooks = {}): Promise<TrainResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  let cfg = cfgIn;
  let start = { epoch: 0, batch: 0, step: 0 };
  let history: EpochRecord[] = [];
  let ckpt: ReturnType<typeof loadCheckpoint<CheckpointHeader>> | null = null;
  if (opts.resume) {
    ckpt = loadCheckpoint<CheckpointHeader>(opts.resume);
    if (ckpt.header?.kind !== 'wrn-train') throw new CheckpointError(`checkpoint ${opts.resume}: not a training checkpoint (kind '${ckpt.header?.kind}')`);
    cfg = { ...ckpt.header.config, out: cfgIn.out, maxSteps: cfgIn.maxSteps, progressSeconds: cfgIn.progressSeconds, device: cfgIn.device };
    start = { epoch: ckpt.header.epoch, batch: ckpt.header.batch, step: ckpt.header.step };
    history = ckpt.header.history;
  }
  validateTrainConfig(cfg);
  const batchesPerEpoch = numBatches(data.train.count, cfg.batchSize, true);
  if (batchesPerEpoch < 1) throw new Error(`train: batch size ${cfg.batchSize} is larger than the ${data.train.count} training images`);

  const wrnCfg: WrnConfig = { depth: cfg.depth, widen: cfg.widen, variant: cfg.variant, alphaInit: cfg.alphaInit, seed: cfg.seed, numClasses: data.train.classes.length };
  const model = new WideResNet(wrnCfg, cfg.device);
  const velocities = model.params.map((p) => Tensor.zeros(p.tensor.shape, cfg.device).keep());
  if (ckpt) restore(ckpt, opts.resume!, model, velocities);

  mkdirSync(cfg.out, { recursive: true });
  const logPath = join(cfg.out, 'log.jsonl');
  const ckptPath = join(cfg.out, 'checkpoint.wrnckpt');
  if (!ckpt && existsSync(logPath)) writeFileSync(logPath, ''); // a fresh run starts a fresh log
  const writeLog = (rec: object) => appendFileSync(logPath, JSON.stringify(rec) + '\n');
  if (!ckpt) writeLog({ type: 'config', ...cfg, parameters: model.parameterCount, trainImages: data.train.count, testImages: data.test.count, dataset: data.train.name });
  log(
    `wrn train: WRN-${cfg.depth}-${cfg.widen} ${cfg.variant} (${model.parameterCount.toLocaleString('en')} parameters) on ${data.train.name}: ` +
      `${data.train.count} train / ${data.test.count} test images, ${cfg.epochs} epochs x ${batchesPerEpoch} steps of ${cfg.batchSize}, device ${cfg.device}` +
      (ckpt ? `; resumed at epoch ${start.epoch + 1} step ${start.step}` : ''),
  );

  const save = async (epoch: number, batch: number, step: number) => {
    const entries = checkpointEntries(model, velocities);
    const arrays = await Promise.all(entries.map((e) => e.tensor.toArray()));
    const header: CheckpointHeader = { kind: 'wrn-train', config: cfg, epoch, batch, step, history };
    saveCheckpoint(ckptPath, header, entries.map((e, i) => ({ name: e.name, shape: [...e.tensor.shape], data: arrays[i] })));
  };

  const totalSteps = cfg.epochs * batchesPerEpoch;
  const losses: number[] = [];
  let step = start.step;
  const t0 = performance.now();
  let stepsThisRun = 0;
  let imagesThisRun = 0;
  let lastPrint = 0;
  let lastLoss = NaN;
  const params = model.params.map((p) => p.tensor);
  let stoppedEarly = false;
  const pacer = new ReadPacer(); // sleeps through most of a step instead of Dawn's polling (see GpuRuntime.idle)

  outer: for (let epoch = start.epoch; epoch < cfg.epochs; epoch++) {
    const lr = learningRate(cfg, epoch);
    const tEpoch = performance.now();
    let epochLoss = 0;
    let epochSteps = 0;
    for (const batch of epochBatches(data.train, { batchSize: cfg.batchSize, seed: cfg.seed, epoch, augment: true, shuffle: true, dropLast: true, startBatch: epoch === start.epoch ? start.batch : 0 })) {
      if (cfg.maxSteps && step >= cfg.maxSteps) {
        stoppedEarly = true;
        break outer;
      }
      const loss = scope(() => {
        const x = Tensor.from(batch.x, [batch.count, 3, 32, 32], cfg.device);
        const labels = labelsTensor(batch.labels, data.train.classes.length, cfg.device);
        const l = softmaxCrossEntropy(model.forward(x, true, mixSeed(cfg.seed, step, 0x0d0)), labels);
        l.backward();
        sgdStep(params, velocities, { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
        for (const p of params) {
          p.grad?.release();
          p.grad = null;
        }
        return l;
      });
      if (cfg.device === 'webgpu') await pacer.beforeRead(gpu());
      const value = await loss.item(); // the one wait per step: the whole step was submitted at once
      pacer.afterRead();
      loss.release();
      if (!Number.isFinite(value)) {
        const msg =
          `training diverged at step ${step} (epoch ${epoch + 1}): loss is ${value}; last finite loss ${Number.isFinite(lastLoss) ? lastLoss.toFixed(4) : 'none'} ` +
          `at learning rate ${lr}. The log (${logPath}) and the last good checkpoint (${existsSync(ckptPath) ? ckptPath : 'none written yet'}) are kept.`;
        writeLog({ type: 'diverged', step, epoch, loss: String(value), lastFiniteLoss: lastLoss, lr });
        model.release();
        velocities.forEach((v) => v.release());
        throw new DivergedError(msg);
      }
      lastLoss = value;
      losses.push(value);
      epochLoss += value;
      epochSteps++;
      step++;
      stepsThisRun++;
      imagesThisRun += batch.count;
      writeLog({ type: 'step', step, epoch, loss: value, lr });
      const now = performance.now();
      if ((now - lastPrint) / 1000 >= cfg.progressSeconds || step === totalSteps) {
        lastPrint = now;
        const elapsed = (now - t0) / 1000;
        const ips = imagesThisRun / elapsed;
        const eta = ((totalSteps - step) * elapsed) / stepsThisRun;
        log(`epoch ${epoch + 1}/${cfg.epochs}  step ${step}/${totalSteps}  loss ${value.toFixed(4)}  lr ${lr.toPrecision(3)}  ${ips.toFixed(1)} img/s  ETA ${fmtTime(eta)}`);
      }
      if (cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) await save(epoch, batch.batch + 1, step);
    }
    const ev = await evaluate(model, data.test, cfg.evalBatchSize, cfg.device);
    const rec: EpochRecord = { epoch: epoch + 1, trainLoss: epochSteps ? epochLoss / epochSteps : NaN, testLoss: ev.loss, testAccuracy: ev.accuracy, lr, seconds: (performance.now() - tEpoch) / 1000 };
    history.push(rec);
    writeLog({ type: 'epoch', ...rec });
    log(`epoch ${epoch + 1}/${cfg.epochs} done: train loss ${rec.trainLoss.toFixed(4)}, test loss ${ev.loss.toFixed(4)}, test accuracy ${(100 * ev.accuracy).toFixed(2)}% (${rec.seconds.toFixed(0)} s)`);
    await save(epoch + 1, 0, step);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const result: TrainResult = {
    steps: step,
    losses,
    history,
    finalTestAccuracy: history.length ? history[history.length - 1].testAccuracy : NaN,
    imagesPerSecond: imagesThisRun / elapsed,
    diverged: false,
    message: stoppedEarly ? `stopped after ${step} steps (--max-steps)` : 'finished',
  };
  writeFileAtomic(join(cfg.out, 'summary.json'), [new TextEncoder().encode(JSON.stringify({ config: cfg, ...result, losses: undefined }, null, 2) + '\n')]);
  model.release();
  velocities.forEach((v) => v.release());
  return result;
}

/** Everything a checkpoint holds: parameters, BN running statistics, optimizer velocities. */
function checkpointEntries(model: WideResNet, velocities: Tensor[]): { name: string; tensor: Tensor }[] {
  return [...model.stateTensors(), ...model.params.map((p, i) => ({ name: `velocity:${p.name}`, tensor: velocities[i] }))];
}

function restore(ckpt: { tensors: { name: string; shape: number[]; data: Float32Array }[] }, path: string, model: WideResNet, velocities: Tensor[]): void {
  const byName = new Map(ckpt.tensors.map((t) => [t.name, t]));
  const targets = checkpointEntries(model, velocities);
  for (const { name, tensor } of targets) {
    const t = byName.get(name);
    if (!t) throw new CheckpointError(`checkpoint ${path}: has no tensor '${name}' (was it written for another model?)`);
    if (t.data.length !== tensor.size) throw new CheckpointError(`checkpoint ${path}: tensor '${name}' has shape [${t.shape}] but the model expects [${tensor.shape}]`);
    tensor.assign(t.data);
  }
  if (byName.size !== targets.length) throw new CheckpointError(`checkpoint ${path}: holds ${byName.size} tensors, the model has ${targets.length}`);
}

/** Test loss and accuracy with BN in eval mode (running statistics). */
export async function evaluate(model: WideResNet, ds: Dataset, batchSize: number, device: Device): Promise<{ loss: number; accuracy: number }> {
  let correct = 0;
  let lossSum = 0;
  for (const batch of evalBatches(ds, batchSize)) {
    const { logits, loss } = noGrad(() =>
      scope(() => {
        const x = Tensor.from(batch.x, [batch.count, 3, 32, 32], device);
        const labels = labelsTensor(batch.labels, ds.classes.length, device);
        const out = model.forward(x, false);
        return { logits: out, loss: softmaxCrossEntropy(out, labels) };
      }),
    );
    const [l, lv] = await Promise.all([logits.toArray(), loss.item()]);
    logits.release();
    loss.release();
    lossSum += lv * batch.count;
    const k = ds.classes.length;
    for (let i = 0; i < batch.count; i++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (l[i * k + j] > l[i * k + best]) best = j;
      if (best === batch.labels[i]) correct++;
    }
  }
  return { loss: lossSum / ds.count, accuracy: correct / ds.count };
}
