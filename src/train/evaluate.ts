// Evaluation and the checkpoint's tensors of a model: browser-safe (the trainer and the page use them).
import { Tensor, scope, noGrad, type Device } from '../tensor.js';
import { softmaxCrossEntropy, labelsTensor } from '../ops/loss.js';
import type { WideResNet } from '../model/wrn.js';
import { evalBatches } from '../data/augment.js';
import type { ChannelNorm, Dataset } from '../data/dataset.js';
import { CheckpointError } from './checkpoint_format.js';

/** Everything a checkpoint holds: parameters, BN running statistics, optimizer velocities. */
export function checkpointEntries(model: WideResNet, velocities: Tensor[]): { name: string; tensor: Tensor }[] {
  return [...model.stateTensors(), ...model.params.map((p, i) => ({ name: `velocity:${p.name}`, tensor: velocities[i] }))];
}

export function restore(ckpt: { tensors: { name: string; shape: number[]; data: Float32Array }[] }, path: string, model: WideResNet, velocities: Tensor[]): void {
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
export async function evaluate(model: WideResNet, ds: Dataset, batchSize: number, device: Device, norm?: ChannelNorm): Promise<{ loss: number; accuracy: number }> {
  let correct = 0;
  let lossSum = 0;
  for (const batch of evalBatches(ds, batchSize, norm)) {
    const { logits, loss } = noGrad(() =>
      scope(() => {
        const x = Tensor.from(batch.x, batch.shape, device);
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
