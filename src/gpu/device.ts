// The device layer: one way to get a GPUDevice in Node (Dawn, the `webgpu` package) and in the
// browser (navigator.gpu), plus the error plumbing that turns WebGPU's asynchronous validation,
// out-of-memory and device-loss reports into JavaScript errors that name the kernel.

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export const NO_ADAPTER_HELP =
  'No WebGPU adapter found. On a machine without a GPU, install the SwiftShader Vulkan driver:\n' +
  '  sudo apt-get install -y --no-install-recommends libvulkan1 chromium-common\n' +
  `(it provides ${SWIFTSHADER_ICD}, which wrn-webgpu finds by itself), or point VK_ICD_FILENAMES at a Vulkan ICD.\n` +
  'Everything also runs without a GPU on the reference backend: pass --device cpu.';

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** 'node-dawn' or 'browser' */
  runtime: string;
  features: string[];
}

export function describeAdapter(info: AdapterDescription): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0);
  return `${parts.join(' / ')}${info.isFallbackAdapter ? ' (fallback adapter)' : ''} [${info.runtime}]`;
}

let nodeGpu: GPU | null = null;

async function getGPU(): Promise<{ gpu: GPU; runtime: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, runtime: 'browser' };
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error('WebGPU is not available in this browser (navigator.gpu is missing). Try Chrome with WebGPU enabled.');
  }
  // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates its instance, so it must be set
  // before the first create(). A value the user set wins.
  const fs = await import('node:fs');
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && fs.existsSync(SWIFTSHADER_ICD) && !hasSystemVulkanDriver(fs)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  // Dawn destroys its instance when the JS object is collected, and the device dies with it
  // (a crash inside ProcessEvents, not an error). Hold it for the life of the process.
  // Timestamp quantization (a fingerprinting guard for the web) would round GPU timings to 100 us.
  nodeGpu ??= webgpu.create(['disable-dawn-features=timestamp_quantization']);
  return { gpu: nodeGpu, runtime: `node-dawn (webgpu ${await webgpuPackageVersion()}, node ${process.version})` };
}

/** True when a real Vulkan ICD is installed system-wide (then we let the loader pick it). */
function hasSystemVulkanDriver(fs: typeof import('node:fs')): boolean {
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d']) {
    try {
      // lavapipe is rejected by Dawn, so it does not count as a driver.
      if (fs.readdirSync(dir).some((f) => f.endsWith('.json') && !f.includes('lvp'))) return true;
    } catch {
      /* no such dir */
    }
  }
  return false;
}

async function webgpuPackageVersion(): Promise<string> {
  try {
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    return (require('webgpu/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A GPU error reported by WebGPU, rethrown with the kernels that were in flight. */
export class GPUKernelError extends Error {}

export interface GpuContext {
  device: GPUDevice;
  adapter: AdapterDescription;
  timestamps: boolean;
  /**
   * The device has the 'subgroups' feature with subgroups of at least 4 invocations (what the
   * kernels that share values through subgroups assume: conv2d_direct_weights_subgroup.wgsl).
   */
  subgroups4: boolean;
  /** Set once the device is lost; every later use throws this. */
  lost: string | null;
  /** Errors reported outside any error scope (uncapturederror). */
  uncaptured: string[];
}

export interface OpenDeviceOptions {
  /** Ask for the timestamp-query feature (benchmarks). */
  timestamps?: boolean;
  powerPreference?: GPUPowerPreference;
}

export async function openDevice(opts: OpenDeviceOptions = {}): Promise<GpuContext> {
  const { gpu, runtime } = await getGPU();
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  const info = adapter.info;
  const wantTimestamps = !!opts.timestamps && adapter.features.has('timestamp-query');
  const subgroupMinSize = (info as { subgroupMinSize?: number }).subgroupMinSize ?? 0;
  const subgroups4 = adapter.features.has('subgroups') && subgroupMinSize >= 4;
  const features: GPUFeatureName[] = [];
  if (wantTimestamps) features.push('timestamp-query');
  if (subgroups4) features.push('subgroups' as GPUFeatureName);
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  });
  const ctx: GpuContext = {
    device,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      runtime,
      features: [...adapter.features].sort(),
    },
    timestamps: wantTimestamps,
    subgroups4,
    lost: null,
    uncaptured: [],
  };
  device.lost.then((l) => {
    ctx.lost = `WebGPU device lost (${l.reason}): ${l.message}`;
  });
  device.addEventListener('uncapturederror', (ev) => {
    ctx.uncaptured.push((ev as GPUUncapturedErrorEvent).error.message);
  });
  return ctx;
}
