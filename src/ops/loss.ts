// Softmax cross-entropy with integer class labels, averaged over the batch (what it means, CPU
// reference, autograd). The GPU side is src/gpu/programs/loss.ts; the WGSL is shaders/loss.wgsl.
// The engine is f32-only, so labels are a [B] tensor of integer values stored as f32; make them
// with labelsTensor(), which checks them on the CPU (a GPU kernel cannot throw).
import { softmaxCrossEntropyBackwardProgram, softmaxCrossEntropyProgram } from '../gpu/programs/loss.js';
import { fmtShape, record, runKernel, sameDevice, Tensor, type CpuArray, type Device, type Kernel } from '../tensor.js';
import { expectRank } from './shapes.js';
import { input, registerChecks } from '../check.js';

const MAX_EXACT_F32_INT = 2 ** 24; // class indices above this are not exact in f32

/** A [B] tensor of class indices (as f32) for `numClasses` classes, each checked to be an integer in [0, K). */
export function labelsTensor(labels: ArrayLike<number>, numClasses: number, device: Device = 'cpu'): Tensor {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > MAX_EXACT_F32_INT) {
    throw new Error(`labelsTensor: numClasses must be an integer in [1, ${MAX_EXACT_F32_INT}], got ${numClasses}`);
  }
  for (let i = 0; i < labels.length; i++) checkLabel('labelsTensor', labels[i], i, numClasses);
  return Tensor.from(labels, [labels.length], device);
}

function checkLabel(op: string, label: number, index: number, k: number): void {
  if (!Number.isInteger(label) || label < 0 || label >= k) {
    throw new Error(`${op}: label ${label} at index ${index} is not a class index for ${k} classes (expected an integer in [0, ${k}))`);
  }
}

/**
 * Inputs: logits [B, K], labels [B]. Outputs: loss [1] = mean_b (logsumexp(x_b) - x_b[label_b]),
 * grad [B, K] = (softmax(x_b) - onehot(label_b)) / B, the gradient of that mean.
 */
export const softmaxCrossEntropyKernel: Kernel<void> = {
  name: 'softmaxCrossEntropy',
  cpu([logits, labels], [loss, grad], _p, shapes) {
    const [b, k] = shapes[0];
    let total = 0; // float64 throughout
    for (let r = 0; r < b; r++) {
      checkLabel('softmaxCrossEntropy', labels[r], r, k);
      const row = r * k;
      let m = -Infinity;
      for (let j = 0; j < k; j++) m = Math.max(m, logits[row + j]);
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(logits[row + j] - m);
      for (let j = 0; j < k; j++) grad[row + j] = (Math.exp(logits[row + j] - m) / s - (j === labels[r] ? 1 : 0)) / b;
      total += m - logits[row + labels[r]] + Math.log(s);
    }
    loss[0] = total / b;
  },
  webgpu: softmaxCrossEntropyProgram,
};

/** dlogits = grad * dloss[0]. Inputs: grad [B, K] (saved by the forward), dloss (one element). */
export const softmaxCrossEntropyBackwardKernel: Kernel<void> = {
  name: 'softmaxCrossEntropy.backward',
  cpu([grad, dloss], [dlogits]) {
    const d = dloss[0];
    for (let i = 0; i < dlogits.length; i++) dlogits[i] = grad[i] * d;
  },
  webgpu: softmaxCrossEntropyBackwardProgram,
};

/** Mean softmax cross-entropy of logits [B, K] against labels [B] (class indices as f32): a [1] tensor. */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  sameDevice('softmaxCrossEntropy', [logits, labels]);
  expectRank('softmaxCrossEntropy', 'logits', logits, 2, '[B, K]');
  const [b, k] = logits.shape;
  if (labels.shape.length !== 1 || labels.shape[0] !== b) {
    throw new Error(`softmaxCrossEntropy: labels ${fmtShape(labels.shape)} must be [B] = [${b}] for logits ${fmtShape(logits.shape)} ([B, K])`);
  }
  if (b === 0 || k === 0) throw new Error(`softmaxCrossEntropy: logits ${fmtShape(logits.shape)} must have B >= 1 rows and K >= 1 classes`);
  if (labels.device === 'cpu') {
    const data = labels.cpuData('softmaxCrossEntropy');
    for (let i = 0; i < b; i++) checkLabel('softmaxCrossEntropy', data[i], i, k);
  }
  const [loss, grad] = runKernel(softmaxCrossEntropyKernel, [logits, labels], [[1], logits.shape], undefined);
  return record(
    'softmaxCrossEntropy',
    loss,
    [logits, labels],
    (g) => [runKernel(softmaxCrossEntropyBackwardKernel, [grad, g], [logits.shape], undefined)[0], null],
    [grad],
  );
}

/** Index of the largest logit in each row of logits [B, K] (reads the tensor back). */
export async function argmaxRows(logits: Tensor): Promise<Int32Array> {
  expectRank('argmaxRows', 'logits', logits, 2, '[B, K]');
  const [b, k] = logits.shape;
  const x: CpuArray = await logits.toArray();
  const out = new Int32Array(b);
  for (let r = 0; r < b; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (x[r * k + j] > x[r * k + best]) best = j;
    out[r] = best;
  }
  return out;
}

// ---- checks for `wrn check` (more rows than a workgroup, K = 10 as in CIFAR) ---------------------

const LOSS_TOL = { atol: 1e-6, rtol: 1e-5 }; // f32 exp/log over 10 classes vs f64
const labels = (b: number, k: number) => ({ shape: [b], data: Array.from({ length: b }, (_, i) => (i * 7) % k) });
registerChecks(
  { name: 'softmaxCrossEntropy', make: () => ({ kernel: softmaxCrossEntropyKernel, inputs: [input([130, 10], 1, -5, 5), labels(130, 10)], outputs: [[1], [130, 10]], params: undefined, tol: LOSS_TOL }) },
  { name: 'softmaxCrossEntropy.backward', make: () => ({ kernel: softmaxCrossEntropyBackwardKernel, inputs: [input([130, 10], 1), { shape: [1], data: [0.3] }], outputs: [[130, 10]], params: undefined, tol: { atol: 0, rtol: 1e-6 } }) },
);
