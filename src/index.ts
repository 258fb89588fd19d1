// wrn-webgpu: the public API.
import { GpuRuntime } from './gpu/runtime.js';
import type { OpenDeviceOptions } from './gpu/device.js';
import { setRuntime } from './tensor.js';

export { Tensor, scope, noGrad, isGradEnabled, withFloat64, runKernel, record, numel, fmtShape, gpu, type Device, type Shape, type Kernel } from './tensor.js';
export { GpuRuntime, ReadPacer, grid1d } from './gpu/runtime.js';
export { describeAdapter, GPUKernelError, NO_ADAPTER_HELP } from './gpu/device.js';
export * from './ops/index.js';

let opened: Promise<GpuRuntime> | null = null;

/** Open the WebGPU device once and make it the runtime behind 'webgpu' tensors. */
export function initWebGPU(opts: OpenDeviceOptions = {}): Promise<GpuRuntime> {
  if (!opened) {
    opened = GpuRuntime.open(opts).then((rt) => {
      setRuntime(rt);
      return rt;
    });
    opened.catch(() => {
      opened = null;
    });
  }
  return opened;
}
