// What a dispatch costs by its definition, not by how its kernel happens to run: the bytes it must
// read and write (every input tensor read once, every output written once: the traffic a kernel
// with a perfect cache would still need) and the floating-point operations of the op's formula.
// Each program computes these from its geometry and passes them with the dispatch; the step
// benchmark turns them into roofline floors (src/bench/roofline.ts). The category says which part
// of a training step a kernel belongs to, declared by its KernelSpec, never guessed from a name.

export const CATEGORIES = ['conv', 'bn', 'relu', 'skip-add', 'pool/classifier/loss', 'optimizer', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface DispatchCost {
  /** bytes read from storage buffers (uniforms excluded) */
  read: number;
  /** bytes written to storage buffers */
  written: number;
  /** floating-point operations (a multiply-add counts 2) */
  flops: number;
}

/** Bytes of `values` f32 values. */
export const f32 = (values: number): number => 4 * values;

export function cost(read: number, written: number, flops = 0): DispatchCost {
  return { read, written, flops };
}

export function addCost(a: DispatchCost, b: DispatchCost): DispatchCost {
  return { read: a.read + b.read, written: a.written + b.written, flops: a.flops + b.flops };
}

export const ZERO_COST: DispatchCost = Object.freeze({ read: 0, written: 0, flops: 0 });

/** One recorded dispatch: what it was, where it is booked, what it costs. */
export interface DispatchRecord {
  label: string;
  category: Category;
  cost: DispatchCost;
}
