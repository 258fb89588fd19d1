// 2D convolution (NCHW), forward and both backward kernels: what they mean, their CPU reference
// and autograd. The GPU side (three tiled implicit GEMMs, their tile shapes and grids, and the
// direct kernels of narrow 3x3 stride-1 layers) is src/gpu/programs/conv2d.ts; the WGSL is
// shaders/conv2d_tile.wgsl (the shared tile machinery) with its column layouts,
// conv2d_forward.wgsl, conv2d_backward_input.wgsl, conv2d_backward_filter.wgsl,
// conv2d_reduce.wgsl (the sum of the filter gradient's split-K partials), conv2d_direct.wgsl,
// conv2d_direct_filter.wgsl, Winograd F(2x2, 3x3)'s conv2d_winograd_{filter,input,output}.wgsl,
// conv2d_direct_s2.wgsl (3x3 stride 2) and conv2d_pointwise{,_filter}.wgsl (1x1).
//
// Shapes: x [N, Cin, H, W], w [Cout, Cin, KH, KW], bias [Cout], y [N, Cout, Ho, Wo] with
// Ho = floor((H + 2*pad - KH) / stride) + 1 (zero padding).
import { conv2dBackwardFilterProgram, conv2dBackwardInputProgram, conv2dForwardProgram, convImplementation, winogradTolerance, type ConvImplementation } from '../gpu/programs/conv2d.js';
import { gpu } from '../gpu/current.js';
import type { ConvImplementationName } from '../gpu/profile.js';
import { fmtShape, record, runKernel, sameDevice, Tensor, type Kernel, type Shape } from '../tensor.js';
import { sum } from './reduce.js';
import { expectRank } from './shapes.js';
import { input, registerChecks, type KernelCase } from '../check.js';
import type { ConvGeometry } from '../gpu/programs/conv2d.js';
export type { ConvGeometry } from '../gpu/programs/conv2d.js';


export interface Conv2dOptions {
  stride?: number;
  pad?: number;
}

export interface Conv2dParams {
  stride: number;
  pad: number;
}

/** Output size along one axis: floor((size + 2*pad - k) / stride) + 1. */
export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/** The geometry of conv(x, w) with these options. */
export function convGeometry(xShape: Shape, wShape: Shape, { stride, pad }: Conv2dParams): ConvGeometry {
  const [batch, cin, h, w] = xShape;
  const [cout, , kh, kw] = wShape;
  return { batch, cin, h, w, cout, kh, kw, ho: convOutSize(h, kh, stride, pad), wo: convOutSize(w, kw, stride, pad), stride, pad };
}

// ---- kernels (the CPU reference beside the GPU program) ------------------------------------------

/** y = conv(x, w) (+ bias). Inputs [x, w] or [x, w, bias]; output y [N, Cout, Ho, Wo]. */
export const conv2dForwardKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.forward',
  cpu(inputs, [y], p, shapes) {
    const [x, w, bias] = inputs;
    const g = convGeometry(shapes[0], shapes[1], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let n = 0; n < batch; n++) {
      for (let co = 0; co < cout; co++) {
        for (let oh = 0; oh < ho; oh++) {
          for (let ow = 0; ow < wo; ow++) {
            let acc = bias ? bias[co] : 0; // float64 accumulation
            for (let ci = 0; ci < cin; ci++) {
              for (let r = 0; r < kh; r++) {
                const ih = oh * stride - pad + r;
                if (ih < 0 || ih >= h) continue;
                for (let s = 0; s < kw; s++) {
                  const iw = ow * stride - pad + s;
                  if (iw < 0 || iw >= W) continue;
                  acc += w[((co * cin + ci) * kh + r) * kw + s] * x[((n * cin + ci) * h + ih) * W + iw];
                }
              }
            }
            y[((n * cout + co) * ho + oh) * wo + ow] = acc;
          }
        }
      }
    }
  },
  webgpu: ([x, weight, bias], [y], p, shapes) => conv2dForwardProgram(convGeometry(shapes[0], shapes[1], p), x, weight, bias, y),
};

/** dx from dy [N, Cout, Ho, Wo] and w; inputs [dy, w], output dx [N, Cin, H, W]. */
export const conv2dBackwardInputKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_input',
  cpu([dy, w], [dx], p, shapes) {
    const g = convGeometry(shapes[2], shapes[1], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let n = 0; n < batch; n++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let ih = 0; ih < h; ih++) {
          for (let iw = 0; iw < W; iw++) {
            let acc = 0;
            for (let r = 0; r < kh; r++) {
              const ohs = ih + pad - r; // = oh * stride
              if (ohs < 0 || ohs % stride !== 0 || ohs / stride >= ho) continue;
              const oh = ohs / stride;
              for (let s = 0; s < kw; s++) {
                const ows = iw + pad - s;
                if (ows < 0 || ows % stride !== 0 || ows / stride >= wo) continue;
                const ow = ows / stride;
                for (let co = 0; co < cout; co++) acc += w[((co * cin + ci) * kh + r) * kw + s] * dy[((n * cout + co) * ho + oh) * wo + ow];
              }
            }
            dx[((n * cin + ci) * h + ih) * W + iw] = acc;
          }
        }
      }
    }
  },
  webgpu: ([dy, weight], [dx], p, shapes) => conv2dBackwardInputProgram(convGeometry(shapes[2], shapes[1], p), dy, weight, dx),
};

/** dw from x and dy; inputs [x, dy], output dw [Cout, Cin, KH, KW]. */
export const conv2dBackwardFilterKernel: Kernel<Conv2dParams> = {
  name: 'conv2d.backward_filter',
  cpu([x, dy], [dw], p, shapes) {
    const g = convGeometry(shapes[0], shapes[2], p);
    const { batch, cin, h, w: W, cout, kh, kw, ho, wo, stride, pad } = g;
    for (let co = 0; co < cout; co++) {
      for (let ci = 0; ci < cin; ci++) {
        for (let r = 0; r < kh; r++) {
          for (let s = 0; s < kw; s++) {
            let acc = 0;
            for (let n = 0; n < batch; n++) {
              for (let oh = 0; oh < ho; oh++) {
                const ih = oh * stride - pad + r;
                if (ih < 0 || ih >= h) continue;
                for (let ow = 0; ow < wo; ow++) {
                  const iw = ow * stride - pad + s;
                  if (iw < 0 || iw >= W) continue;
                  acc += dy[((n * cout + co) * ho + oh) * wo + ow] * x[((n * cin + ci) * h + ih) * W + iw];
                }
              }
            }
            dw[((co * cin + ci) * kh + r) * kw + s] = acc;
          }
        }
      }
    }
  },
  webgpu: ([x, dy], [dw], p, shapes) => conv2dBackwardFilterProgram(convGeometry(shapes[0], shapes[2], p), x, dy, dw),
};

// ---- ops --------------------------------------------------------------------------------------

function checkConv(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions): Conv2dParams {
  sameDevice('conv2d', b ? [x, w, b] : [x, w]);
  expectRank('conv2d', 'x', x, 4, '[N, Cin, H, W]');
  expectRank('conv2d', 'weight', w, 4, '[Cout, Cin, KH, KW]');
  const stride = opts.stride ?? 1;
  const pad = opts.pad ?? 0;
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`conv2d: stride must be an integer >= 1, got ${stride}`);
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`conv2d: pad must be an integer >= 0, got ${pad}`);
  if (x.shape.some((d) => d === 0) || w.shape.some((d) => d === 0)) {
    throw new Error(`conv2d: x ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} must have no empty dimension`);
  }
  if (x.shape[1] !== w.shape[1]) {
    throw new Error(`conv2d: x ${fmtShape(x.shape)} has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${w.shape[1]} (x [N, Cin, H, W], weight [Cout, Cin, KH, KW])`);
  }
  if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) {
    throw new Error(`conv2d: bias ${fmtShape(b.shape)} must be [Cout] = [${w.shape[0]}] for weight ${fmtShape(w.shape)}`);
  }
  const ho = convOutSize(x.shape[2], w.shape[2], stride, pad);
  const wo = convOutSize(x.shape[3], w.shape[3], stride, pad);
  if (ho < 1 || wo < 1) {
    throw new Error(
      `conv2d: a ${w.shape[2]}x${w.shape[3]} kernel with stride ${stride} and pad ${pad} does not fit x ${fmtShape(x.shape)} (output would be ${ho}x${wo}; need H + 2*pad >= KH and W + 2*pad >= KW)`,
    );
  }
  return { stride, pad };
}

/**
 * 2D convolution: x [N, Cin, H, W], weight [Cout, Cin, KH, KW], optional bias [Cout] ->
 * [N, Cout, Ho, Wo], Ho = floor((H + 2*pad - KH) / stride) + 1. Zero padding; stride >= 1.
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
  const p = checkConv(x, w, b, opts);
  const g = convGeometry(x.shape, w.shape, p);
  const [y] = runKernel(conv2dForwardKernel, b ? [x, w, b] : [x, w], [[g.batch, g.cout, g.ho, g.wo]], p);
  return record('conv2d', y, b ? [x, w, b] : [x, w], (dy) => [
    x.requiresGrad ? conv2dBackwardInput(dy, w, x.shape, p) : null,
    w.requiresGrad ? conv2dBackwardFilter(x, dy, w.shape, p) : null,
    b?.requiresGrad ? sum(dy, [0, 2, 3]) : null,
  ]);
}

/** Check that dy is conv2d's output shape for x and w. */
function checkDy(op: string, dy: Tensor, xShape: Shape, wShape: Shape, p: Conv2dParams): void {
  const g = convGeometry(xShape, wShape, p);
  const want = [g.batch, g.cout, g.ho, g.wo];
  if (dy.shape.length !== 4 || dy.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${op}: dy ${fmtShape(dy.shape)} must be ${fmtShape(want)} for x ${fmtShape(xShape)}, weight ${fmtShape(wShape)}, stride ${p.stride}, pad ${p.pad}`);
  }
}

/** The gradient of conv2d with respect to x (of shape xShape), given dy and the weights. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, p: Conv2dParams): Tensor {
  checkDy('conv2dBackwardInput', dy, xShape, w.shape, p);
  return runKernel(conv2dBackwardInputKernel, [dy, w], [xShape], p)[0];
}

/** The gradient of conv2d with respect to the weights (of shape wShape), given x and dy. */
export function conv2dBackwardFilter(x: Tensor, dy: Tensor, wShape: Shape, p: Conv2dParams): Tensor {
  checkDy('conv2dBackwardFilter', dy, x.shape, wShape, p);
  return runKernel(conv2dBackwardFilterKernel, [x, dy], [wShape], p)[0];
}

// ---- checks for `wrn check` and the browser page ----------------------------------------------

// Dot products of up to Cin*9 = 144 terms of values in [-1, 1]: f32 vs f64 within 1e-4.
export const CONV_TOL = { atol: 1e-4, rtol: 1e-4 };
const stem = { x: [1, 3, 9, 7], w: [5, 3, 3, 3], y: [1, 5, 9, 7], p: { stride: 1, pad: 1 } };
const down = { x: [2, 16, 9, 9], w: [24, 16, 3, 3], y: [2, 24, 5, 5], p: { stride: 2, pad: 1 } };
// Cout between 33 and 63: the 64-row tile with partial rows (past the direct kernels' 32
// channels), so a version that breaks only there fails `wrn check` and the versions' validation.
const mid = { x: [1, 8, 7, 11], w: [40, 8, 3, 3], y: [1, 40, 7, 11], p: { stride: 1, pad: 1 } };
registerChecks(
  { name: 'conv2d.forward (stem: N=1, Cin=3, Cout=5, 3x3 pad 1)', make: () => ({ kernel: conv2dForwardKernel, inputs: [input(stem.x, 1), input(stem.w, 2)], outputs: [stem.y], params: stem.p, tol: CONV_TOL }) },
  { name: 'conv2d.forward + bias (3x3 stride 2)', make: () => ({ kernel: conv2dForwardKernel, inputs: [input(down.x, 1), input(down.w, 2), input([24], 3)], outputs: [down.y], params: down.p, tol: CONV_TOL }) },
  { name: 'conv2d.backward_input (3x3 stride 2)', make: () => ({ kernel: conv2dBackwardInputKernel, inputs: [input(down.y, 4), input(down.w, 2)], outputs: [down.x], params: down.p, tol: CONV_TOL }) },
  { name: 'conv2d.backward_filter (3x3 stride 2)', make: () => ({ kernel: conv2dBackwardFilterKernel, inputs: [input(down.x, 1), input(down.y, 4)], outputs: [down.w], params: down.p, tol: CONV_TOL }) },
  { name: 'conv2d.forward (Cout=40, 3x3 pad 1 on 7x11)', make: () => ({ kernel: conv2dForwardKernel, inputs: [input(mid.x, 1), input(mid.w, 2)], outputs: [mid.y], params: mid.p, tol: CONV_TOL }) },
  { name: 'conv2d.backward_filter (Cout=40, 3x3 pad 1 on 7x11)', make: () => ({ kernel: conv2dBackwardFilterKernel, inputs: [input(mid.x, 1), input(mid.y, 4)], outputs: [mid.w], params: mid.p, tol: CONV_TOL }) },
);

// ---- one implementation forced: how `wrn check` checks those no profile selects -----------------

type ForcedKernel = 'forward' | 'backward_input' | 'backward_filter';
const forced = <K extends ForcedKernel>(kernel: K, name: ConvImplementationName, g: ConvGeometry): ConvImplementation<K> => {
  const impl = convImplementation(kernel, name);
  if (!impl.supports(g, gpu())) throw new Error(`conv2d.${kernel} '${name}' does not support x[${g.batch},${g.cin},${g.h},${g.w}] w[${g.cout},${g.cin},${g.kh},${g.kw}] s${g.stride} p${g.pad} on this device`);
  return impl;
};

/**
 * conv2d's forward and input-gradient kernels with the GPU side forced to the implementation
 * `name`, whatever the profile prefers (the CPU reference is the op's). A geometry it does not
 * support is an error, never a silent fallback.
 */
export function forcedConvKernels(name: ConvImplementationName): { [K in ForcedKernel]: Kernel<Conv2dParams> } {
  return {
    forward: {
      ...conv2dForwardKernel,
      name: `conv2d.forward[${name}]`,
      webgpu: ([x, weight, bias], [y], p, shapes) => {
        const g = convGeometry(shapes[0], shapes[1], p);
        forced('forward', name, g).run(g, { x, weight, bias, y });
      },
    },
    backward_input: {
      ...conv2dBackwardInputKernel,
      name: `conv2d.backward_input[${name}]`,
      webgpu: ([dy, weight], [dx], p, shapes) => {
        const g = convGeometry(shapes[2], shapes[1], p);
        forced('backward_input', name, g).run(g, { dy, weight, dx });
      },
    },
    backward_filter: {
      ...conv2dBackwardFilterKernel,
      name: `conv2d.backward_filter[${name}]`,
      webgpu: ([x, dy], [dw], p, shapes) => {
        const g = convGeometry(shapes[0], shapes[2], p);
        forced('backward_filter', name, g).run(g, { x, dy, dw });
      },
    },
  };
}

/**
 * Winograd F(2x2, 3x3) (forward and input gradient) on awkward shapes: N=1, odd H and W with
 * partial 2x2 output blocks, H=W=1, channel counts that are not multiples of 4 or of its 8
 * channels per invocation, pad 0, 1 and 2, more 2x2 blocks than a workgroup (64) and not a
 * multiple of it. Tolerance: winogradTolerance over the summed channels (Cin forward, Cout input
 * gradient), a bound that follows from the transforms (src/gpu/programs/conv2d.ts). Named
 * 'winograd-f2: ...', not 'conv2d....': the kernel versions' validation runs the 'conv2d.' cases
 * under each version (src/bench/kernels.ts), and these ignore the version.
 */
export function winogradCases(): { name: string; make: () => KernelCase<Conv2dParams> }[] {
  const k = forcedConvKernels('winograd-f2');
  const shapes: { what: string; x: Shape; cout: number; pad: number; bias?: boolean }[] = [
    { what: 'N=1, Cin=3, Cout=5, 7x5, pad 0', x: [1, 3, 7, 5], cout: 5, pad: 0 },
    { what: 'N=1, Cin=3, Cout=5, 7x5, pad 1, bias', x: [1, 3, 7, 5], cout: 5, pad: 1, bias: true },
    { what: 'N=1, Cin=3, Cout=5, 7x5, pad 2', x: [1, 3, 7, 5], cout: 5, pad: 2 },
    { what: 'H=W=1, pad 1', x: [2, 3, 1, 1], cout: 5, pad: 1 },
    { what: 'H=W=1, pad 2', x: [1, 5, 1, 1], cout: 3, pad: 2 },
    { what: 'N=2, Cin=13, Cout=11, 13x11 (84 blocks), pad 1, bias', x: [2, 13, 13, 11], cout: 11, pad: 1, bias: true },
  ];
  return shapes.flatMap(({ what, x, cout, pad, bias }) => {
    const p = { stride: 1, pad };
    const w = [cout, x[1], 3, 3];
    const g = convGeometry(x, w, p);
    const y = [g.batch, g.cout, g.ho, g.wo];
    return [
      { name: `winograd-f2: conv2d.forward (${what})`, make: () => ({ kernel: k.forward, inputs: [input(x, 1), input(w, 2), ...(bias ? [input([cout], 3)] : [])], outputs: [y], params: p, tol: winogradTolerance(g.cin) }) },
      { name: `winograd-f2: conv2d.backward_input (${what.replace(', bias', '')})`, make: () => ({ kernel: k.backward_input, inputs: [input(y, 4), input(w, 2)], outputs: [x], params: p, tol: winogradTolerance(g.cout) }) },
    ];
  });
}
registerChecks(...winogradCases());

/**
 * The direct 3x3 stride-2 forward ('direct-s2') and the 1x1 kernels ('pointwise': forward, input
 * and filter gradients) forced, on awkward shapes: N=1, odd H and W (partial runs of 8 pixels),
 * H=W=1, channel counts that are not multiples of 4 or of the 8 channels per invocation, pads
 * 0-3 and a stride of 3 (what `supports` claims beyond the WRN's pad 1 / pad 0), more items than
 * a workgroup (64) and not a multiple of it, a filter gradient split over the rows and one not.
 * Named '<implementation>: conv2d....' for the reason winogradCases gives. CONV_TOL: the sums are
 * direct sums of at most Cin x 9 (or Cout) products.
 */
export function directStridedCases(): { name: string; make: () => KernelCase<Conv2dParams> }[] {
  const cases = (impl: ConvImplementationName, kernels: readonly ForcedKernel[], k: number, shapes: { what: string; x: Shape; cout: number; stride: number; pad: number; bias?: boolean }[]) => {
    const forcedK = forcedConvKernels(impl);
    return shapes.flatMap(({ what, x, cout, stride, pad, bias }) => {
      const p = { stride, pad };
      const w = [cout, x[1], k, k];
      const g = convGeometry(x, w, p);
      const y = [g.batch, g.cout, g.ho, g.wo];
      const at = `${what}, ${k}x${k} stride ${stride} pad ${pad}`;
      const all: Record<ForcedKernel, { name: string; make: () => KernelCase<Conv2dParams> }> = {
        forward: { name: `${impl}: conv2d.forward (${at}${bias ? ', bias' : ''})`, make: () => ({ kernel: forcedK.forward, inputs: [input(x, 1), input(w, 2), ...(bias ? [input([cout], 3)] : [])], outputs: [y], params: p, tol: CONV_TOL }) },
        backward_input: { name: `${impl}: conv2d.backward_input (${at})`, make: () => ({ kernel: forcedK.backward_input, inputs: [input(y, 4), input(w, 2)], outputs: [x], params: p, tol: CONV_TOL }) },
        backward_filter: { name: `${impl}: conv2d.backward_filter (${at})`, make: () => ({ kernel: forcedK.backward_filter, inputs: [input(x, 1), input(y, 4)], outputs: [w], params: p, tol: CONV_TOL }) },
      };
      return kernels.map((kernel) => all[kernel]);
    });
  };
  return [
    ...cases('direct-s2', ['forward'], 3, [
      { what: 'N=1, Cin=3, Cout=5, odd 7x5', x: [1, 3, 7, 5], cout: 5, stride: 2, pad: 1 },
      { what: 'N=1, Cin=3, Cout=5, odd 7x5', x: [1, 3, 7, 5], cout: 5, stride: 2, pad: 0, bias: true },
      { what: 'H=W=1', x: [2, 3, 1, 1], cout: 5, stride: 2, pad: 1 },
      { what: 'pad 2 on 4x5', x: [1, 4, 4, 5], cout: 9, stride: 2, pad: 2 },
      { what: 'pad 3 on 5x5', x: [1, 2, 5, 5], cout: 3, stride: 2, pad: 3 },
      { what: 'N=2, Cin=13, Cout=11, 35x19 (72 items, 2 channel groups)', x: [2, 13, 35, 19], cout: 11, stride: 2, pad: 1, bias: true },
    ]),
    ...cases('pointwise', ['forward', 'backward_input', 'backward_filter'], 1, [
      { what: 'N=1, Cin=3, Cout=5, odd 7x5', x: [1, 3, 7, 5], cout: 5, stride: 1, pad: 0 },
      { what: 'N=1, Cin=3, Cout=5, odd 7x5', x: [1, 3, 7, 5], cout: 5, stride: 2, pad: 0, bias: true },
      { what: 'H=W=1', x: [1, 6, 1, 1], cout: 3, stride: 2, pad: 0 }, // one output row: the filter gradient is not split
      { what: 'pad 1 on 6x6', x: [1, 4, 6, 6], cout: 9, stride: 2, pad: 1 },
      { what: 'pad 2 on 5x7', x: [1, 2, 5, 7], cout: 3, stride: 3, pad: 2 },
      { what: 'N=2, Cin=13, Cout=11, 35x35 (108 items, split rows)', x: [2, 13, 35, 35], cout: 11, stride: 2, pad: 0, bias: true },
    ]),
  ];
}
registerChecks(...directStridedCases());
