// wrn-webgpu: the public API.
import { GpuRuntime } from './gpu/runtime.js';
import type { OpenDeviceOptions } from './gpu/device.js';
import { setRuntime } from './tensor.js';

export { Tensor, scope, noGrad, isGradEnabled, withFloat64, runKernel, record, numel, fmtShape, gpu, type Device, type Shape, type Kernel } from './tensor.js';
export { GpuRuntime, grid1d } from './gpu/runtime.js';
export { describeAdapter, GPUKernelError, NO_ADAPTER_HELP } from './gpu/device.js';
export * from './ops/index.js';

let opened: Promise<GpuRuntime> | null = null;
let openedWith = '';

/**
 * Open the WebGPU device once and make it the runtime behind 'webgpu' tensors. A later call with
 * other options is an error (the device is already open with the first call's).
 */
export function initWebGPU(opts: OpenDeviceOptions = {}): Promise<GpuRuntime> {
  const key = JSON.stringify(opts, Object.keys(opts).sort());
  if (opened && key !== openedWith && Object.keys(opts).length > 0) {
    return Promise.reject(new Error(`initWebGPU: the device is already open with options ${openedWith}; it cannot be reopened with ${key} (pass the options on the first call)`));
  }
  if (!opened) {
    openedWith = key;
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
