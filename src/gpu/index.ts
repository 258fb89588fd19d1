export { GpuRuntime, grid1d, type GpuBuf, type ProfileEntry } from './runtime.js';
export { gpu } from './current.js';
export { describeAdapter, NO_ADAPTER_HELP, GPUKernelError } from './device.js';
