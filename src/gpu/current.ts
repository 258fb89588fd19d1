// The runtime behind 'webgpu' tensors: set once by initWebGPU (src/index.ts), read by the
// programs (src/gpu/programs/) and by tensor.ts. It lives in gpu/ so that gpu/ imports nothing
// from the engine above it.
import type { GpuRuntime } from './runtime.js';

let runtime: GpuRuntime | null = null;

/** Make `rt` the runtime behind every 'webgpu' tensor. */
export function setRuntime(rt: GpuRuntime | null): void {
  runtime = rt;
}

export function gpu(): GpuRuntime {
  if (!runtime) throw new Error("no WebGPU runtime: call `await initWebGPU()` first (or use device 'cpu')");
  return runtime;
}
