// The training step, once, for the trainer, the step benchmark and the browser: forward, loss,
// backward, SGD (with momentum and L2), gradients released, and the step's status, all recorded
// into one submission. The status is a [2] tensor: [loss, 1 if any parameter, velocity, gradient
// or BN running statistic became NaN or +-Inf, else 0] (the SGD kernel raises the flag for what it
// updates, a check pass for the running statistics), read with one 8-byte readback per step.
import { Tensor, scope } from '../tensor.js';
import { softmaxCrossEntropy, labelsTensor } from '../ops/loss.js';
import { flagNonFinite, sgdStep, type SgdOptions } from '../ops/sgd.js';
import type { WideResNet } from '../model/wrn.js';

export interface StepInput {
  /** NCHW images. */
  x: Float32Array;
  shape: readonly [number, number, number, number];
  /** Class indices. */
  labels: ArrayLike<number>;
}

/** Record one SGD step of `model` on a batch; returns its status tensor ([loss, nonFinite]). */
export function trainStep(model: WideResNet, velocities: Tensor[], batch: StepInput, opts: SgdOptions & { dropoutSeed: number }): Tensor {
  const device = model.device;
  const params = model.params.map((p) => p.tensor);
  return scope(() => {
    const x = Tensor.from(batch.x, batch.shape, device);
    const labels = labelsTensor(batch.labels, model.config.numClasses, device);
    const loss = softmaxCrossEntropy(model.forward(x, true, opts.dropoutSeed), labels);
    loss.backward();
    const status = Tensor.zeros([2], device);
    sgdStep(params, velocities, opts, status);
    // BN's running statistics can overflow while every parameter stays finite (BN is scale-invariant).
    flagNonFinite(model.buffers.map((b) => b.tensor), status);
    for (const p of params) {
      p.grad?.release();
      p.grad = null;
    }
    status.copyFrom(loss, 1);
    return status;
  });
}

export interface StepStatus {
  loss: number;
  /** A parameter, a velocity, a gradient or a BN running statistic holds NaN or +-Inf after the step. */
  nonFinite: boolean;
}

/** Why a step's status means the run diverged, or null if it did not (trainer and page alike). */
export function divergence({ loss, nonFinite }: StepStatus): string | null {
  if (!Number.isFinite(loss)) return `the loss is ${loss}`;
  if (nonFinite) return `a parameter, its gradient, its momentum or a BN running statistic became NaN or Inf (the loss was still ${loss.toFixed(4)})`;
  return null;
}

/** The first sentence of a divergence message: which step, why, the last finite loss and the rate. */
export function divergedAt(p: { step: number; epoch: number; losses: number[] }, why: string, lr: number): string {
  const last = p.losses.length ? p.losses[p.losses.length - 1] : NaN;
  return `training diverged at step ${p.step + 1} (epoch ${p.epoch + 1}): ${why}; last finite loss ${Number.isFinite(last) ? last.toFixed(4) : 'none'} at learning rate ${lr}.`;
}

/** Wait for a step's status and release it. */
export async function readStatus(status: Tensor): Promise<StepStatus> {
  try {
    const [loss, flag] = await status.toArray();
    // On the CPU backend every await above is a microtask: give the event loop a turn, so signals
    // (SIGINT, SIGTERM) and timers are handled between steps as they are on the GPU.
    if (status.device === 'cpu') await new Promise((r) => setTimeout(r, 0));
    return { loss, nonFinite: flag !== 0 };
  } finally {
    status.release();
  }
}
