import { describe, expect, it } from 'vitest';
import { add, addKernel, sum, mul, mulKernel, relu, reluBackwardKernel, reluForwardKernel, scale, scaleKernel, Tensor } from '../src/index.js';
import { compareKernel, describeGpuProfiles, gradCheck, input } from './helpers/optest.js';

// Awkward sizes: 1, odd, not a multiple of 4 (vec4 tail) or of 256 (workgroup), several workgroups.
const SHAPES = [[1], [7], [3, 5], [2, 3, 5, 7], [1031], [4, 513]];
// Elementwise f32 ops are exact up to one rounding: a few ulps.
const EXACT = { atol: 0, rtol: 1e-6 };

describeGpuProfiles('elementwise kernels: WGSL vs CPU reference', () => {
  for (const shape of SHAPES) {
    it(`add, mul, scale, relu on ${JSON.stringify(shape)}`, async () => {
      const a = input(shape, 1);
      const b = input(shape, 2);
      await compareKernel({ kernel: addKernel, inputs: [a, b], outputs: [shape], params: undefined, tol: EXACT });
      await compareKernel({ kernel: mulKernel, inputs: [a, b], outputs: [shape], params: undefined, tol: EXACT });
      await compareKernel({ kernel: scaleKernel, inputs: [a], outputs: [shape], params: { alpha: -2.5 }, tol: EXACT });
      await compareKernel({ kernel: reluForwardKernel, inputs: [a], outputs: [shape], params: undefined, tol: EXACT });
      await compareKernel({ kernel: reluBackwardKernel, inputs: [a, b], outputs: [shape], params: undefined, tol: EXACT });
    });
  }
});

describe('elementwise gradients (finite differences, float64)', () => {
  const a = input([3, 5], 3);
  const b = input([3, 5], 4);
  it('add', () => void gradCheck(([x, y]) => add(x, y), [a, b]));
  it('mul', () => void gradCheck(([x, y]) => mul(x, y), [a, b]));
  it('scale', () => void gradCheck(([x]) => scale(x, 0.3), [a]));
  // keep inputs away from the kink at 0, where the derivative is undefined
  it('relu', () => void gradCheck(([x]) => relu(x), [{ shape: [17], data: Array.from({ length: 17 }, (_, i) => (i % 2 ? 1 : -1) * (0.1 + i / 10)) }]));
  it('a tensor used twice accumulates both gradients', () => {
    const x = Tensor.from([1, 2, 3], [3]).param('x');
    const y = add(mul(x, x), x); // d/dx = 2x + 1
    sum(y).backward();
    expect(Array.from(x.grad!.cpuData())).toEqual([3, 5, 7]);
  });
});

