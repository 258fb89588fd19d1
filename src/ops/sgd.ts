// SGD with heavy-ball momentum and L2 weight decay, updating parameters and velocities in place.
// GPU side: src/gpu/programs/sgd.ts; WGSL: shaders/sgd.wgsl. PyTorch's convention (dampening 0, velocities start at zero):
//   g' = grad + weightDecay * param;  v = momentum * v + g';  param -= lr * v.
// Each update also sets status[1] = 1 when a new parameter or velocity value is NaN or +-Inf (the
// training step's finiteness check, read with the loss; see src/train/step.ts).
import { checkFiniteProgram, sgdProgram } from '../gpu/programs/sgd.js';
import { fmtShape, runKernel, sameDevice, Tensor, type Kernel } from '../tensor.js';
import { sameShape } from './shapes.js';
import { input, registerChecks } from '../check.js';
import type { SgdOptions } from '../gpu/programs/sgd.js';
export type { SgdOptions } from '../gpu/programs/sgd.js';


/** Inputs: grad. Outputs (updated in place): param, velocity, status ([2]; status[1] = 1 once a value is non-finite). */
export const sgdKernel: Kernel<SgdOptions> = {
  name: 'sgd',
  cpu([grad], [param, velocity, status], { lr, momentum, weightDecay }) {
    let bad = false;
    for (let i = 0; i < param.length; i++) {
      const v = momentum * velocity[i] + (grad[i] + weightDecay * param[i]);
      velocity[i] = v;
      param[i] -= lr * v;
      if (!Number.isFinite(v) || !Number.isFinite(param[i])) bad = true;
    }
    if (bad) status[1] = Math.max(status[1], 1);
  },
  webgpu: sgdProgram,
};

/** Inputs: x. Output (updated in place): status ([2]); status[1] = 1 if x holds a NaN or +-Inf. */
export const checkFiniteKernel: Kernel<undefined> = {
  name: 'check_finite',
  cpu([x], [status]) {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) {
        status[1] = Math.max(status[1], 1);
        return;
      }
    }
  },
  webgpu: checkFiniteProgram,
};

/**
 * Raise status[1] if any of `tensors` holds a NaN or +-Inf: one dispatch each, nothing read back
 * (the training step checks BN's running statistics with it; SGD flags what it updates itself).
 */
export function flagNonFinite(tensors: Tensor[], status: Tensor): void {
  if (status.size !== 2) throw new Error(`flagNonFinite: status must be a [2] tensor, got ${fmtShape(status.shape)}`);
  sameDevice('flagNonFinite', [...tensors, status]);
  for (const t of tensors) if (t.size > 0) runKernel(checkFiniteKernel, [t], [status], undefined);
}

/**
 * One SGD step over every parameter that has a gradient (parameters without one are skipped, as
 * in PyTorch): one dispatch per tensor, params[i] and velocities[i] updated in place.
 * velocities[i] has params[i]'s shape and starts at zero. `status` ([2]) gets status[1] = 1 if any
 * updated value is non-finite (left as it was otherwise); without one, a scratch tensor is used.
 */
export function sgdStep(params: Tensor[], velocities: Tensor[], opts: SgdOptions, status?: Tensor): void {
  const { lr, momentum, weightDecay } = opts;
  if (params.length !== velocities.length) {
    throw new Error(`sgdStep: ${params.length} parameters but ${velocities.length} velocities; expected one velocity per parameter`);
  }
  if (!Number.isFinite(lr) || lr < 0) throw new Error(`sgdStep: lr must be a finite number >= 0, got ${lr}`);
  if (!Number.isFinite(momentum) || momentum < 0 || momentum >= 1) throw new Error(`sgdStep: momentum must be in [0, 1), got ${momentum}`);
  if (!Number.isFinite(weightDecay) || weightDecay < 0) throw new Error(`sgdStep: weightDecay must be a finite number >= 0, got ${weightDecay}`);
  // Check everything before updating anything, so a bad argument leaves no half-done step.
  const updates: [Tensor, Tensor, Tensor][] = [];
  params.forEach((p, i) => {
    const v = velocities[i];
    const what = `parameter ${i}${p.name ? ` '${p.name}'` : ''}`;
    if (!sameShape(p.shape, v.shape)) throw new Error(`sgdStep: ${what} ${fmtShape(p.shape)} and its velocity ${fmtShape(v.shape)} must have the same shape`);
    if (!p.grad) return;
    if (!sameShape(p.shape, p.grad.shape)) throw new Error(`sgdStep: ${what} ${fmtShape(p.shape)} has a gradient of shape ${fmtShape(p.grad.shape)}`);
    sameDevice('sgdStep', [p, v, p.grad]);
    updates.push([p.grad, p, v]);
  });
  if (status && (status.size !== 2 || status.device !== params[0]?.device)) throw new Error(`sgdStep: status must be a [2] tensor on the parameters' device, got ${fmtShape(status.shape)} on ${status.device}`);
  if (updates.length === 0) return;
  const flags = status ?? Tensor.zeros([2], updates[0][1].device);
  for (const [grad, p, v] of updates) runKernel(sgdKernel, [grad], [p, v, flags], opts);
  if (!status) flags.release();
}

// ---- checks for `wrn check` (odd size, several workgroups, updated in place) -------------------

registerChecks({
  name: 'check_finite',
  make: () => {
    const data = Float32Array.from(input([1031], 9).data);
    data[517] = NaN; // in the last workgroup's range, not at a vec4 boundary
    return { kernel: checkFiniteKernel, inputs: [{ shape: [1031], data }], outputs: [{ shape: [2], data: new Float32Array([5, 0]) }], params: undefined, tol: { atol: 0, rtol: 0 } };
  },
}, {
  name: 'sgd',
  make: () => ({ kernel: sgdKernel, inputs: [input([1031], 1)], outputs: [input([1031], 2), input([1031], 3), { shape: [2], data: new Float32Array(2) }], params: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }, tol: { atol: 1e-7, rtol: 1e-6 } }),
});
