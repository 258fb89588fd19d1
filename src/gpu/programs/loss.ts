// The GPU side of softmax cross-entropy (src/ops/loss.ts), shaders/loss.wgsl: one invocation per
// row (loss and saved gradient), one workgroup for the mean, one invocation per vec4 backward.
import lossWgsl from '../../../shaders/loss.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import type { GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const loss = composeWgsl(wgslFile('shaders/loss.wgsl', lossWgsl));
const spec = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({ name: `loss.${entry}`, category: 'pool/classifier/loss', ...loss, entry, bindings });
const ROWS = spec('rows', { logits: 'read', labels: 'read', row_loss: 'read_write', grad: 'read_write', params: 'uniform' });
const MEAN = spec('mean', { row_loss: 'read_write', loss: 'read_write', params: 'uniform' });
const BACKWARD = spec('backward', { saved_grad: 'read', dloss: 'read', dlogits: 'read_write', params: 'uniform' });

/** loss [1] = mean over rows of logsumexp - the label's logit; grad [B, K] its gradient. */
export function softmaxCrossEntropyProgram([logits, labels]: GpuBuf[], [lossOut, grad]: GpuBuf[], _p: void, shapes: readonly (readonly number[])[]): void {
  const rt = gpu();
  const [b, k] = shapes[0];
  const rowLoss = rt.alloc(4 * b);
  // Per value: max, subtract, exp, sum (4), then softmax, onehot subtract, scale (4); exp counts as one.
  rt.dispatchItems(ROWS, { logits, labels, row_loss: rowLoss, grad }, { b, k, inv_b: 1 / b }, b, { label: `[${b}, ${k}]`, cost: cost(f32(b * k + b), f32(b + b * k), 8 * b * k + 3 * b) });
  rt.dispatch(MEAN, { row_loss: rowLoss, loss: lossOut }, { b, inv_b: 1 / b }, [1], { label: `B=${b}`, cost: cost(f32(b), f32(1), b) });
  rt.release(rowLoss);
}

/** dlogits = grad * dloss[0]. */
export function softmaxCrossEntropyBackwardProgram([grad, dloss]: GpuBuf[], [dlogits]: GpuBuf[], _p: void, shapes: readonly (readonly number[])[]): void {
  const [b, k] = shapes[0];
  const n4 = Math.ceil((b * k) / 4);
  gpu().dispatchItems(BACKWARD, { saved_grad: grad, dloss, dlogits }, { n4 }, n4, { label: `[${b}, ${k}]`, cost: cost(f32(b * k + 1), f32(b * k), b * k) });
}
