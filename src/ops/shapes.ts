// Shape checks shared by the ops: each names the op, the shapes and the expected relation.
import { fmtShape, type Shape, type Tensor } from '../tensor.js';

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function expectSameShape(op: string, a: Tensor, b: Tensor, names = ['a', 'b']): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new Error(`${op}: ${names[0]} ${fmtShape(a.shape)} and ${names[1]} ${fmtShape(b.shape)} must have the same shape`);
  }
}

export function expectRank(op: string, name: string, t: Tensor, rank: number, form: string): void {
  if (t.shape.length !== rank) {
    throw new Error(`${op}: ${name} has shape ${fmtShape(t.shape)}; expected rank ${rank} (${form})`);
  }
}
