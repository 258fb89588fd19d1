// The epochs around the training step, once, for the trainer (Node) and the browser lab: batches
// from where the progress stands, one step and one status read each, a stop on divergence, at
// --max-steps or when the caller asks, an evaluation per epoch. What differs between the two (the
// run's records, progress output, checkpoints, the page's drawing) comes in as hooks. Browser-safe.
import type { Tensor, Device } from '../tensor.js';
import type { WideResNet } from '../model/wrn.js';
import type { ChannelNorm, Dataset } from '../data/dataset.js';
import { trainStep, readStatus, divergence } from './step.js';
import { evaluate } from './evaluate.js';
import { learningRate, progressBatches, stepOptions, recordStep, endEpoch, type EpochRecord, type TrainConfig, type TrainProgress } from './config.js';

export interface LoopHooks {
  /** The step diverged (why: from `divergence`): record it and throw. */
  diverged(why: string, lr: number): never;
  /** After each recorded step; return true to stop the run there. */
  afterStep(loss: number, lr: number): Promise<boolean> | boolean;
  /** Before each epoch's evaluation. */
  beforeEval?(): Promise<void>;
  /** After each epoch's evaluation, with the progress already at the next epoch; `line` is the epoch's summary. */
  afterEpoch(r: EpochRecord, line: string): Promise<void> | void;
}

/** Train `model` from `p` to the end of cfg.epochs; how the run ended. */
export async function trainEpochs(
  cfg: TrainConfig,
  model: WideResNet,
  velocities: Tensor[],
  data: { train: Dataset; test: Dataset },
  p: TrainProgress,
  norm: ChannelNorm,
  device: Device,
  hooks: LoopHooks,
): Promise<'finished' | 'max-steps' | 'stopped'> {
  while (p.epoch < cfg.epochs) {
    const lr = learningRate(cfg, p.epoch);
    const tEpoch = performance.now();
    for (const batch of progressBatches(cfg, data.train, p, norm)) {
      if (cfg.maxSteps && p.step >= cfg.maxSteps) return 'max-steps';
      const st = await readStatus(trainStep(model, velocities, batch, stepOptions(cfg, p, lr))); // the one wait per step: the whole step was submitted at once
      const why = divergence(st);
      if (why) hooks.diverged(why, lr);
      recordStep(p, st.loss, lr, batch.batch);
      if (await hooks.afterStep(st.loss, lr)) return 'stopped';
    }
    await hooks.beforeEval?.();
    const ev = await evaluate(model, data.test, cfg.evalBatchSize, device, norm);
    const r: EpochRecord = { epoch: p.epoch + 1, step: p.step, trainLoss: p.epochSteps ? p.epochLossSum / p.epochSteps : NaN, testLoss: ev.loss, testAccuracy: ev.accuracy, lr, seconds: (performance.now() - tEpoch) / 1000 };
    p.history.push(r);
    endEpoch(p);
    await hooks.afterEpoch(r, `epoch ${r.epoch}/${cfg.epochs} done: train loss ${r.trainLoss.toFixed(4)}, test loss ${ev.loss.toFixed(4)}, test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${data.test.count} images (${r.seconds.toFixed(0)} s)`);
  }
  return 'finished';
}
