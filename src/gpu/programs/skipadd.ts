// The GPU side of SkipInit's join (src/ops/skipadd.ts), shaders/skipadd.wgsl: the forward in
// workgroups of the profile's size (a composed constant), the backward in workgroups that each
// write one partial of d_alpha, then one workgroup that sums the partials.
import skipaddWgsl from '../../../shaders/skipadd.wgsl';
import { gpu } from '../current.js';
import { cost, f32 } from '../cost.js';
import type { KernelSpec } from '../kernel.js';
import { grid1d, type GpuBuf } from '../runtime.js';
import { composeWgsl, wgslFile } from '../wgsl.js';

const file = wgslFile('shaders/skipadd.wgsl', skipaddWgsl);
interface Specs {
  forward: KernelSpec;
  backward: KernelSpec;
  reduce: KernelSpec;
}
const cache = new Map<number, Specs>();
/** The three kernels, composed with the forward's workgroup size (the profile's). */
function specs(forwardWorkgroupSize: number): Specs {
  let s = cache.get(forwardWorkgroupSize);
  if (!s) {
    const wgsl = composeWgsl(file, { constants: { FWD_WG: forwardWorkgroupSize } });
    s = {
      forward: { name: 'skipadd.forward', category: 'skip-add', ...wgsl, entry: 'forward', bindings: { skip: 'read', branch: 'read', alpha: 'read', out: 'read_write', params: 'uniform' } },
      backward: {
        name: 'skipadd.backward',
        category: 'skip-add',
        ...wgsl,
        entry: 'backward',
        bindings: { g: 'read', branch: 'read', alpha: 'read', d_skip: 'read_write', d_branch: 'read_write', partials: 'read_write', params: 'uniform' },
      },
      reduce: { name: 'skipadd.reduce_partials', category: 'skip-add', ...wgsl, entry: 'reduce_partials', bindings: { partials: 'read_write', d_alpha: 'read_write', params: 'uniform' } },
    };
    cache.set(forwardWorkgroupSize, s);
  }
  return s;
}

/** out = skip + alpha[0] * branch, one vec4 per invocation. */
export function skipAddProgram([skip, branch, alpha]: GpuBuf[], [out]: GpuBuf[]): void {
  const rt = gpu();
  const n = out.bytes / 4;
  const n4 = Math.ceil(n / 4);
  rt.dispatchItems(specs(rt.profile.skipadd.forwardWorkgroupSize).forward, { skip, branch, alpha, out }, { n4 }, n4, { label: `n=${n}`, cost: cost(f32(2 * n + 1), f32(n), 2 * n) });
}

/** d_skip = g, d_branch = alpha * g, d_alpha = sum(g * branch): per_thread vec4s per invocation, a partial per workgroup. */
export function skipAddBackwardProgram([g, branch, alpha]: GpuBuf[], [dSkip, dBranch, dAlpha]: GpuBuf[]): void {
  const rt = gpu();
  const { forwardWorkgroupSize, backwardVec4sPerInvocation: perThread } = rt.profile.skipadd;
  const { backward, reduce } = specs(forwardWorkgroupSize);
  const n = g.bytes / 4;
  const n4 = Math.ceil(n / 4);
  const groups = Math.max(1, Math.ceil(n4 / (rt.workgroupSize(backward)[0] * perThread)));
  const partials = rt.alloc(4 * groups);
  // Per value: alpha * g (1), g * branch and its sum (2).
  rt.dispatch(backward, { g, branch, alpha, d_skip: dSkip, d_branch: dBranch, partials }, { n4, n, partials: groups, per_thread: perThread }, grid1d(groups, 1), {
    label: `n=${n}`,
    cost: cost(f32(2 * n + 1), f32(2 * n + groups), 3 * n),
  });
  rt.dispatch(reduce, { partials, d_alpha: dAlpha }, { partials: groups }, [1], { label: `${groups} partials`, cost: cost(f32(groups), f32(1), groups) });
  rt.release(partials);
}
