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
// Instances made for a fallback: held like nodeGpu (Dawn's instance dies with its JS object).
const fallbackGpus: GPU[] = [];

/** Which Vulkan drivers a Node instance was made with, and who chose them. */
interface IcdChoice {
  /** 'user': VK_ICD_FILENAMES or VK_DRIVER_FILES was set before wrn-webgpu ran; 'swiftshader': set by it; 'system': the loader's own search. */
  source: 'user' | 'swiftshader' | 'system';
  /** what it was, in words */
  what: string;
}
let icdChoice: IcdChoice | null = null;

async function getGPU(): Promise<{ gpu: GPU; runtime: string }> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, runtime: 'browser' };
  if (typeof process === 'undefined' || !process.versions?.node) {
    throw new Error('WebGPU is not available in this browser (navigator.gpu is missing). Try Chrome with WebGPU enabled.');
  }
  // The Vulkan loader reads VK_ICD_FILENAMES when Dawn creates its instance, so it must be set
  // before the first create(). A value the user set wins.
  const fs = await import('node:fs');
  if (!icdChoice) {
    const userIcd = process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES; // empty: unset
    const system = systemVulkanDrivers(fs);
    if (userIcd) icdChoice = { source: 'user', what: `VK_ICD_FILENAMES/VK_DRIVER_FILES=${userIcd}` };
    else if (fs.existsSync(SWIFTSHADER_ICD) && system.length === 0) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
      icdChoice = { source: 'swiftshader', what: `SwiftShader (${SWIFTSHADER_ICD})` };
    } else icdChoice = { source: 'system', what: `the system's Vulkan drivers (${system.join(', ') || 'none found'})` };
  }
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  // Dawn destroys its instance when the JS object is collected, and the device dies with it
  // (a crash inside ProcessEvents, not an error). Hold it for the life of the process.
  nodeGpu ??= createNodeGpu(webgpu);
  return { gpu: nodeGpu, runtime: `node-dawn (webgpu ${await webgpuPackageVersion()}, node ${process.version})` };
}

// Timestamp quantization (a fingerprinting guard for the web) would round GPU timings to 100 us.
const createNodeGpu = (webgpu: typeof import('webgpu')): GPU => webgpu.create(['disable-dawn-features=timestamp_quantization']);

/**
 * Where the system's Vulkan drivers gave no adapter (a desktop with Mesa's drivers for other
 * hardware, or lavapipe, which Dawn refuses) and the user chose none: a Dawn instance on
 * SwiftShader's ICD, if it is installed. Null when there is nothing to fall back to.
 */
async function swiftShaderFallback(): Promise<GPU | null> {
  if (typeof process === 'undefined' || !process.versions?.node || icdChoice?.source !== 'system') return null;
  const fs = await import('node:fs');
  if (!fs.existsSync(SWIFTSHADER_ICD)) return null;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the new instance's loader
  delete process.env.VK_DRIVER_FILES; // empty here (a set one is the user's choice); it would win over VK_ICD_FILENAMES
  const gpu = createNodeGpu(await import('webgpu'));
  fallbackGpus.push(gpu);
  return gpu;
}

/**
 * The JSON manifests of the Vulkan drivers installed system-wide (then the loader picks among
 * them). WRN_SYSTEM_ICD_DIRS (colon-separated) replaces the standard directories, for tests.
 */
function systemVulkanDrivers(fs: typeof import('node:fs')): string[] {
  const dirs = process.env.WRN_SYSTEM_ICD_DIRS?.split(':') ?? ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  const found: string[] = [];
  for (const dir of dirs) {
    try {
      // lavapipe is rejected by Dawn, so it does not count as a driver.
      found.push(...fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.includes('lvp')).map((f) => `${dir}/${f}`));
    } catch {
      /* no such dir */
    }
  }
  return found;
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
  const powerPreference = opts.powerPreference ?? 'high-performance';
  let adapter = await gpu.requestAdapter({ powerPreference });
  const tried = icdChoice ? [icdChoice.what] : [];
  if (!adapter) {
    const fallback = await swiftShaderFallback();
    if (fallback) {
      adapter = await fallback.requestAdapter({ powerPreference });
      tried.push(`SwiftShader (${SWIFTSHADER_ICD}), tried after them`);
      if (adapter) {
        console.warn(`wrn-webgpu: ${tried[0]} gave no WebGPU adapter (Dawn refused them); using SwiftShader (${SWIFTSHADER_ICD}) instead`);
        if (nodeGpu) fallbackGpus.push(nodeGpu);
        nodeGpu = fallback; // later devices open there directly
        icdChoice = { source: 'swiftshader', what: `SwiftShader (${SWIFTSHADER_ICD}), after the system's drivers gave no adapter` };
      }
    }
  }
  if (!adapter) throw new Error(tried.length ? `${NO_ADAPTER_HELP}\nTried: ${tried.join('; ')}: none gave an adapter.` : NO_ADAPTER_HELP);
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
