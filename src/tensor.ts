// Tensors, the two backends' storage, kernel dispatch, scopes and the autograd tape.
//
// Memory layout: a tensor is a dense row-major f32 array; images are NCHW (see README, "Layout").
// A tensor lives on 'cpu' (a Float32Array) or 'webgpu' (a pooled GPUBuffer). Ops never mix
// devices: moving data is explicit (`toDevice`).
import type { GpuRuntime, GpuBuf } from './gpu/runtime.js';
import { gpu } from './gpu/current.js';

export type Device = 'cpu' | 'webgpu';
export type Shape = readonly number[];
/** CPU storage: f32 normally; f64 inside `withFloat64()`, where gradient checks run. */
export type CpuArray = Float32Array | Float64Array;

let cpuFloat64 = false;

/** Run `fn` with new CPU tensors stored in float64 (the reference kernels then compute in f64). */
export function withFloat64<T>(fn: () => T): T {
  const prev = cpuFloat64;
  cpuFloat64 = true;
  try {
    return fn();
  } finally {
    cpuFloat64 = prev;
  }
}

function cpuArray(n: number): CpuArray {
  return cpuFloat64 ? new Float64Array(n) : new Float32Array(n);
}

export { gpu, setRuntime } from './gpu/current.js';

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: shape ${fmtShape(shape)} must be a list of non-negative integers`);
  }
}

// ---- scopes -----------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];

type Kept = Tensor | Kept[] | { [k: string]: Kept } | number | string | boolean | null | undefined | void;

function collect(value: Kept, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, into);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) collect(v, into);
}

/**
 * Run `fn` and release every tensor created inside it, except what it returns (tensors, arrays
 * and plain objects of tensors) and tensors marked with `keep()`. Returned tensors move to the
 * enclosing scope.
 */
export function scope<T extends Kept>(fn: () => T): T {
  const created = new Set<Tensor>();
  scopes.push(created);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    // Nothing is returned from a throw: every tensor made inside is released (kept ones stay).
    for (const t of created) if (!t.kept) t.release();
    throw e;
  } finally {
    scopes.pop();
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  const outer = scopes[scopes.length - 1];
  for (const t of created) {
    if (keep.has(t)) outer?.add(t);
    else if (!t.kept) t.release();
  }
  return result;
}

// ---- no-grad ----------------------------------------------------------------------------------

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Run `fn` without recording anything on the tape. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

// ---- tensor -----------------------------------------------------------------------------------

interface TapeNode {
  op: string;
  inputs: Tensor[];
  /** Given the output's gradient, the inputs' gradients (null where an input needs none). */
  backward: (grad: Tensor) => (Tensor | null)[];
  /** Temporaries only backward needs (BN's mean and rstd, ...): released with the node. */
  saved: Tensor[];
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly size: number;
  readonly device: Device;
  private _cpu: CpuArray | null;
  private _gpu: GpuBuf | null;
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The op that produced this tensor, while the tape holds it. */
  node: TapeNode | null = null;
  /** Kept tensors (parameters, optimizer state) survive the scope they were made in. */
  kept = false;
  released = false;
  name = '';

  constructor(shape: Shape, device: Device, storage: CpuArray | GpuBuf) {
    checkShape(shape, 'Tensor');
    this.shape = [...shape];
    this.size = numel(shape);
    this.device = device;
    if (device === 'cpu') {
      this._cpu = storage as CpuArray;
      this._gpu = null;
      if (this._cpu.length !== this.size) throw new Error(`Tensor: ${this._cpu.length} values do not fill shape ${fmtShape(shape)} (${this.size} values)`);
    } else {
      this._gpu = storage as GpuBuf;
      this._cpu = null;
    }
    scopes[scopes.length - 1]?.add(this);
  }

  // -- construction

  static empty(shape: Shape, device: Device): Tensor {
    checkShape(shape, 'Tensor.empty');
    const n = numel(shape);
    return device === 'cpu' ? new Tensor(shape, 'cpu', cpuArray(n)) : new Tensor(shape, 'webgpu', gpu().alloc(4 * n));
  }

  static from(data: ArrayLike<number>, shape: Shape, device: Device = 'cpu'): Tensor {
    checkShape(shape, 'Tensor.from');
    if (data.length !== numel(shape)) {
      throw new Error(`Tensor.from: ${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} values)`);
    }
    if (device === 'cpu') {
      const c = cpuArray(data.length);
      c.set(data);
      return new Tensor(shape, 'cpu', c);
    }
    return new Tensor(shape, 'webgpu', gpu().upload(data instanceof Float32Array ? data : Float32Array.from(data)));
  }

  static zeros(shape: Shape, device: Device = 'cpu'): Tensor {
    return Tensor.full(shape, 0, device);
  }

  static full(shape: Shape, value: number, device: Device = 'cpu'): Tensor {
    return Tensor.from(new Float32Array(numel(shape)).fill(value), shape, device);
  }

  // -- storage

  private alive(what: string): void {
    if (this.released) throw new Error(`${what}: tensor #${this.id}${this.name ? ` '${this.name}'` : ''} ${fmtShape(this.shape)} was released and cannot be used again`);
  }

  /** The CPU array (device 'cpu' only). */
  cpuData(what = 'cpuData'): CpuArray {
    this.alive(what);
    if (!this._cpu) throw new Error(`${what}: tensor ${fmtShape(this.shape)} is on '${this.device}', expected 'cpu'`);
    return this._cpu;
  }

  /** The GPU buffer (device 'webgpu' only). */
  gpuBuf(what = 'gpuBuf'): GpuBuf {
    this.alive(what);
    if (!this._gpu) throw new Error(`${what}: tensor ${fmtShape(this.shape)} is on '${this.device}', expected 'webgpu'`);
    return this._gpu;
  }

  /** Copy the values to a new Float32Array (waits for the GPU). */
  async toArray(): Promise<Float32Array> {
    this.alive('toArray');
    if (this._cpu) return new Float32Array(this._cpu);
    return gpu().read(this._gpu!);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor has shape ${fmtShape(this.shape)}; expected a single value`);
    return (await this.toArray())[0];
  }

  /** A copy on `device` (no gradient flows through). */
  async toDevice(device: Device): Promise<Tensor> {
    return Tensor.from(await this.toArray(), this.shape, device);
  }

  /** Overwrite the values in place (parameters, loading a checkpoint). */
  assign(data: Float32Array): void {
    this.alive('assign');
    if (data.length !== this.size) throw new Error(`assign: ${data.length} values given for tensor ${fmtShape(this.shape)} (${this.size} values)`);
    if (this._cpu) this._cpu.set(data);
    else gpu().write(this._gpu!, data);
  }

  /** Overwrite the first `count` values with `src`'s first `count` (same device; recorded in order, no autograd). */
  copyFrom(src: Tensor, count: number): void {
    this.alive('copyFrom');
    src.alive('copyFrom');
    if (src.device !== this.device) throw new Error(`copyFrom: source on '${src.device}', destination on '${this.device}'`);
    if (!(Number.isInteger(count) && count >= 0 && count <= src.size && count <= this.size)) {
      throw new Error(`copyFrom: ${count} values from ${fmtShape(src.shape)} into ${fmtShape(this.shape)}`);
    }
    if (this._cpu) this._cpu.set(src._cpu!.subarray(0, count));
    else gpu().copy(src._gpu!, this._gpu!, 4 * count);
  }

  /** Free the storage now. Using the tensor afterwards is an error. */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this._gpu) gpu().release(this._gpu);
    this._gpu = null;
    this._cpu = null;
    this.node = null;
  }

  /** Survive scopes (parameters, optimizer state). */
  keep(): this {
    this.kept = true;
    for (const s of scopes) s.delete(this);
    return this;
  }

  /** Mark as a parameter: kept, and gradients accumulate into `.grad`. */
  param(name = ''): this {
    this.requiresGrad = true;
    this.name = name;
    return this.keep();
  }

  /** A copy with another shape of the same size (a copy, not a view: every tensor owns its storage). */
  reshape(shape: Shape): Tensor {
    this.alive('reshape');
    if (numel(shape) !== this.size) throw new Error(`reshape: cannot view ${fmtShape(this.shape)} (${this.size} values) as ${fmtShape(shape)}`);
    let out: Tensor;
    if (this._cpu) out = new Tensor(shape, 'cpu', this._cpu.slice());
    else {
      out = Tensor.empty(shape, 'webgpu');
      gpu().copy(this._gpu!, out._gpu!);
    }
    return record('reshape', out, [this], (g) => [g.reshape(this.shape)]);
  }

  /** Back-propagate from this scalar. Gradients accumulate into `.grad` of tensors that require it. */
  backward(): void {
    backward(this);
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.device}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

// ---- kernels ----------------------------------------------------------------------------------

/**
 * A kernel with its two implementations: `cpu`, the reference in plain TypeScript, and `webgpu`,
 * which dispatches hand-written WGSL. Both read `inputs` and write every element of `outputs`
 * (preallocated; an output given as an existing tensor is updated in place).
 */
export interface Kernel<P> {
  name: string;
  cpu(inputs: CpuArray[], outputs: CpuArray[], p: P, shapes: Shape[]): void;
  webgpu(inputs: GpuBuf[], outputs: GpuBuf[], p: P, shapes: Shape[]): void;
}

/** Check that every tensor is alive and on one device. */
export function sameDevice(op: string, tensors: Tensor[]): Device {
  const dev = tensors[0].device;
  for (const t of tensors) {
    if (t.released) throw new Error(`${op}: input tensor #${t.id}${t.name ? ` '${t.name}'` : ''} ${fmtShape(t.shape)} was released and cannot be used again`);
    if (t.device !== dev) throw new Error(`${op}: inputs are on different devices (${tensors.map((x) => `${fmtShape(x.shape)} on ${x.device}`).join(', ')}); move them with toDevice()`);
  }
  return dev;
}

/**
 * Run `k` on `inputs`. Each output is a shape (a new tensor) or an existing tensor (updated in
 * place). `shapes` passed to the kernel are the inputs' shapes then the outputs'.
 */
export function runKernel<P>(k: Kernel<P>, inputs: Tensor[], outputs: (Shape | Tensor)[], p: P): Tensor[] {
  const dev = sameDevice(k.name, [...inputs, ...outputs.filter((o): o is Tensor => o instanceof Tensor)]);
  const outs = outputs.map((o) => (o instanceof Tensor ? o : Tensor.empty(o, dev)));
  const shapes = [...inputs.map((t) => t.shape), ...outs.map((t) => t.shape)];
  if (dev === 'cpu') k.cpu(inputs.map((t) => t.cpuData(k.name)), outs.map((t) => t.cpuData(k.name)), p, shapes);
  else k.webgpu(inputs.map((t) => t.gpuBuf(k.name)), outs.map((t) => t.gpuBuf(k.name)), p, shapes);
  return outs;
}

// ---- autograd ---------------------------------------------------------------------------------

/**
 * Put `out` on the tape as the result of `op` on `inputs`, if gradients are on and any input
 * needs one. `backward` maps the output's gradient to the inputs' gradients.
 */
export function record(op: string, out: Tensor, inputs: Tensor[], backward: TapeNode['backward'], saved: Tensor[] = []): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward, saved };
  } else {
    for (const s of saved) s.release();
  }
  return out;
}

function backward(root: Tensor): void {
  if (root.size !== 1) {
    throw new Error(`backward: called on a tensor of shape ${fmtShape(root.shape)}; backward starts from a scalar (reduce it with sum() or mean() first)`);
  }
  if (!root.requiresGrad || !root.node) throw new Error('backward: this tensor does not depend on any tensor that requires a gradient (was it computed under noGrad()?)');
  // Topological order: every tensor after everything it depends on.
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const i of t.node?.inputs ?? []) if (i.requiresGrad && !visited.has(i)) stack.push([i, false]);
  }
  const grads = new Map<Tensor, Tensor>();
  const { ones } = accumulate;
  grads.set(root, ones(root));
  const prev = gradEnabled;
  gradEnabled = false; // backward itself is not recorded
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      grads.delete(t);
      if (!g) continue;
      const node = t.node;
      if (!node) {
        // A leaf: gradients accumulate across backward calls until zeroed.
        if (t.grad) {
          const sum = accumulate.add(t.grad, g);
          t.grad.release();
          g.release();
          t.grad = sum.keep();
        } else {
          t.grad = g.keep();
        }
        continue;
      }
      const inGrads = node.backward(g);
      g.release();
      node.inputs.forEach((inp, j) => {
        const ig = inGrads[j];
        if (!ig) return;
        if (!inp.requiresGrad) {
          ig.release();
          return;
        }
        if (ig.shape.length !== inp.shape.length || ig.shape.some((d, k) => d !== inp.shape[k])) {
          throw new Error(`backward of '${node.op}': gradient ${fmtShape(ig.shape)} does not match input ${fmtShape(inp.shape)}`);
        }
        const have = grads.get(inp);
        if (have) {
          grads.set(inp, accumulate.add(have, ig));
          have.release();
          ig.release();
        } else {
          grads.set(inp, ig);
        }
      });
      for (const s of node.saved) s.release();
      t.node = null; // the tape is consumed: intermediates it held can go
    }
  } finally {
    gradEnabled = prev;
  }
}

/** Filled in by ops/elementwise.ts (kept here as a hook to avoid an import cycle). */
export const accumulate = {
  add: (_a: Tensor, _b: Tensor): Tensor => {
    throw new Error('ops not loaded');
  },
  ones: (_like: Tensor): Tensor => {
    throw new Error('ops not loaded');
  },
};
