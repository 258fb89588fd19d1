// The WebGPU runtime: pipelines (cached under an explicit key), the buffer pools, one command
// encoder that collects a whole step's dispatches, uniforms, readback, error scopes, the optional
// GPU timestamp profiler, and the tuning profile the programs read (src/gpu/profile.ts).
//
// Ordering rule: queue.writeBuffer runs before any command still sitting in the open encoder. So
// (1) uniforms go into a CPU-side arena that is written just before the encoder is submitted, and
// (2) a released buffer returns to its pool's free list only after the encoder that last used it
// has been submitted; an upload into a reused buffer can then never overtake a pending reader.
import { openDevice, describeAdapter, GPUKernelError, type GpuContext, type OpenDeviceOptions } from './device.js';
import { reflectKernel, packUniforms, type KernelSpec, type ReflectedKernel } from './kernel.js';
import { BufferPool } from './pool.js';
import { withPolling } from './poll.js';
import { makeProfile, profileFor, type ProfileName, type TuningProfile } from './profile.js';
import type { DispatchCost, DispatchRecord } from './cost.js';

export interface GpuBuf {
  buffer: GPUBuffer;
  /** Bytes the owner asked for (the pooled buffer may be larger). */
  bytes: number;
}

interface Pipeline {
  key: string;
  spec: KernelSpec;
  info: ReflectedKernel;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment on every adapter we know
// Bind groups kept for reuse; past this many the cache starts over (a step of a WRN-40 has ~600).
const MAX_BIND_GROUPS = 8192;
const UNIFORM_CHUNK = 64 * 1024;
// Submit the open encoder when this many dispatches or deferred-release bytes have piled up, so a
// long forward pass does not hold every temporary until the end of the step.
const AUTO_FLUSH_DISPATCHES = 1024;
const AUTO_FLUSH_BYTES = 256 * 1024 * 1024;

export interface DispatchOptions {
  /** Override constants of the WGSL. */
  constants?: Record<string, number>;
  /** The shapes, for error messages and profiles. */
  label?: string;
  /** What the dispatch must read, write and compute, from its geometry (src/gpu/cost.ts). */
  cost: DispatchCost;
}

export interface ProfileEntry extends DispatchRecord {
  ns: number;
}

export class GpuRuntime {
  readonly device: GPUDevice;
  readonly storage: BufferPool;
  private readback: BufferPool;
  private uniformPool: BufferPool;
  private pipelines = new Map<string, Pipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private passLabels: string[] = [];
  private deferred: GpuBuf[] = [];
  private deferredBytes = 0;
  private uniformChunks: { gpu: GPUBuffer; cpu: ArrayBuffer; used: number }[] = [];
  private scopeChecks: Promise<string | null>[] = [];
  private tuning: TuningProfile;
  // A step records the same dispatches on the same pooled buffers (and uniform slots) as the
  // last one, so its bind groups are those of the last step: created once, then looked up.
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private lastBufferId = 0;
  private cpuChunks = new WeakMap<GPUBuffer, ArrayBuffer>();
  /** Bind groups created since the runtime was opened (for tests: flat across identical steps). */
  bindGroupsCreated = 0;
  /** Dispatches recorded since the runtime was opened (for tests and reports). */
  dispatchCount = 0;
  private costLog: DispatchRecord[] | null = null;
  private profiler: { querySet: GPUQuerySet; capacity: number; records: DispatchRecord[] } | null = null;

  private constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    const U = GPUBufferUsage;
    this.storage = new BufferPool(this.device, U.STORAGE | U.COPY_SRC | U.COPY_DST, 'storage');
    this.readback = new BufferPool(this.device, U.MAP_READ | U.COPY_DST, 'readback');
    this.uniformPool = new BufferPool(this.device, U.UNIFORM | U.COPY_DST, 'uniform');
    const forced = typeof process !== 'undefined' ? process.env?.WRN_PROFILE : undefined;
    this.tuning = profileFor(ctx.adapter, forced || undefined);
    this.pushScopes();
  }

  static async open(opts: OpenDeviceOptions = {}): Promise<GpuRuntime> {
    return new GpuRuntime(await openDevice(opts));
  }

  get adapterName(): string {
    return describeAdapter(this.ctx.adapter);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** The tuning profile every program reads its device-dependent choices from (src/gpu/profile.ts). */
  get profile(): TuningProfile {
    return this.tuning;
  }

  /**
   * Use another tuning profile from now on (tests run every op under each; a benchmark may try
   * one). Submits what is recorded first. Returns the previous profile, to put back.
   */
  setProfile(p: ProfileName | TuningProfile): TuningProfile {
    this.flush();
    const prev = this.tuning;
    this.tuning = typeof p === 'string' ? makeProfile(p) : p;
    return prev;
  }

  private checkAlive(): void {
    if (this.ctx.lost) throw new GPUKernelError(this.ctx.lost);
  }

  // ---- pipelines ---------------------------------------------------------------------------

  /**
   * The pipeline for `spec` with override `constants`, cached under
   * name/entry<composed constants>{override constants}.
   */
  pipeline(spec: KernelSpec, constants: Record<string, number> = {}): Pipeline {
    const entry = spec.entry ?? 'main';
    const ckeys = Object.keys(constants).sort();
    const dkeys = Object.keys(spec.defines ?? {}).sort();
    const key =
      `${spec.name}/${entry}` +
      (dkeys.length ? `<${dkeys.map((k) => `${k}=${spec.defines![k]}`).join(',')}>` : '') +
      (ckeys.length ? `{${ckeys.map((k) => `${k}=${constants[k]}`).join(',')}}` : '');
    let p = this.pipelines.get(key);
    if (p) {
      if (p.spec.source !== spec.source) throw new Error(`pipeline cache key '${key}' is used by two different WGSL sources; give the kernels distinct names`);
      return p;
    }
    const info = reflectKernel(spec);
    for (const k of ckeys) {
      if (!info.overrides.includes(k)) throw new Error(`kernel '${spec.name}': override constant '${k}' is not declared in the WGSL (declared: ${info.overrides.join(', ') || 'none'})`);
    }
    const layout = this.device.createBindGroupLayout({
      label: key,
      entries: info.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: b.access === 'uniform' ? 'uniform' : b.access === 'read' ? 'read-only-storage' : 'storage' },
      })),
    });
    const module = this.device.createShaderModule({ label: spec.name, code: spec.source });
    this.scopeChecks.push(compileErrors(spec, module));
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: this.device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: entry, constants: ckeys.length ? constants : undefined },
    });
    p = { key, spec, info, pipeline, layout };
    this.pipelines.set(key, p);
    return p;
  }

  // ---- buffers -----------------------------------------------------------------------------

  alloc(bytes: number): GpuBuf {
    this.checkAlive();
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    if (bytes > maxBinding) {
      throw new GPUKernelError(`cannot allocate a ${bytes}-byte tensor: the adapter binds at most ${maxBinding} bytes per storage buffer`);
    }
    return { buffer: this.storage.acquire(Math.max(4, bytes)), bytes };
  }

  /** Give a buffer back; it is reused once the commands that may read it have been submitted. */
  release(b: GpuBuf): void {
    this.deferred.push(b);
    this.deferredBytes += b.buffer.size;
    if (this.deferredBytes > AUTO_FLUSH_BYTES) this.flush();
  }

  upload(data: Float32Array): GpuBuf {
    const b = this.alloc(data.byteLength);
    if (data.byteLength > 0) this.device.queue.writeBuffer(b.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return b;
  }

  /** Write into an existing buffer. Submits pending work first, so earlier readers see the old data. */
  write(b: GpuBuf, data: Float32Array, byteOffset = 0): void {
    if (byteOffset + data.byteLength > b.bytes) throw new Error(`write of ${data.byteLength} bytes at ${byteOffset} overruns a ${b.bytes}-byte buffer`);
    this.flush();
    this.device.queue.writeBuffer(b.buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  copy(src: GpuBuf, dst: GpuBuf, bytes = src.bytes): void {
    if (bytes === 0) return;
    this.enc().copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, Math.ceil(bytes / 4) * 4);
  }

  /** Read a buffer back to the CPU. The only place that waits on the GPU (with sync()). */
  async read(b: GpuBuf): Promise<Float32Array> {
    this.checkAlive();
    const out = new Float32Array(b.bytes / 4);
    if (b.bytes === 0) {
      await this.sync();
      return out;
    }
    const staging = this.readback.acquire(b.bytes);
    this.enc().copyBufferToBuffer(b.buffer, 0, staging, 0, b.bytes);
    this.flush();
    try {
      await this.waitFor(() => staging.mapAsync(GPUMapMode.READ, 0, b.bytes));
    } catch (e) {
      this.readback.release(staging); // the pool owns it on every path (it is unmapped: mapping failed)
      await this.throwPendingErrors();
      throw new GPUKernelError(this.ctx.lost ?? `reading a ${b.bytes}-byte buffer back failed: ${(e as Error).message}`);
    }
    out.set(new Float32Array(staging.getMappedRange(0, b.bytes)));
    staging.unmap();
    this.readback.release(staging);
    await this.throwPendingErrors();
    return out;
  }

  /** Submit everything and wait for the GPU to finish it; rethrows GPU errors. */
  async sync(): Promise<void> {
    this.flush();
    await this.waitFor(() => this.device.queue.onSubmittedWorkDone());
    await this.throwPendingErrors();
  }

  /** Await a WebGPU promise with Dawn's polling paced as the profile says (src/gpu/poll.ts). */
  private waitFor<T>(wait: () => Promise<T>): Promise<T> {
    return withPolling(this.tuning.pollIntervalMs, wait);
  }

  memory(): { bytesInUse: number; bytesAllocated: number; buffers: number } {
    const pools = [this.storage, this.readback, this.uniformPool];
    return {
      bytesInUse: this.storage.bytesInUse,
      bytesAllocated: pools.reduce((s, p) => s + p.bytesAllocated, 0),
      buffers: pools.reduce((s, p) => s + p.buffersAllocated, 0),
    };
  }

  // ---- dispatch ----------------------------------------------------------------------------

  /** The entry point's @workgroup_size, as reflected from its WGSL. */
  workgroupSize(spec: KernelSpec, constants?: Record<string, number>): [number, number, number] {
    return this.pipeline(spec, constants).info.workgroupSize;
  }

  /**
   * Dispatch a kernel whose invocation `i = gid.x + gid.y * nwg.x * WG` handles item i (a 1D
   * @workgroup_size(WG)) over `items` items: the grid comes from the reflected workgroup size.
   */
  dispatchItems(
    spec: KernelSpec,
    buffers: Record<string, GpuBuf>,
    uniforms: Record<string, number>,
    items: number,
    opts: DispatchOptions,
  ): void {
    const [wx, wy, wz] = this.workgroupSize(spec, opts.constants);
    if (wy !== 1 || wz !== 1) throw new Error(`kernel '${spec.name}': dispatchItems needs a 1D @workgroup_size, the WGSL has (${wx}, ${wy}, ${wz})`);
    this.dispatch(spec, buffers, uniforms, grid1d(items, wx), opts);
  }

  private enc(): GPUCommandEncoder {
    this.checkAlive();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'wrn-step' });
    return this.encoder;
  }

  /**
   * Record one dispatch of `spec`. `buffers` maps every WGSL binding name to a buffer; `uniforms`
   * gives every field of the params struct; `label` names the shapes for error messages.
   */
  dispatch(
    spec: KernelSpec,
    buffers: Record<string, GpuBuf>,
    uniforms: Record<string, number>,
    workgroups: [number, number?, number?],
    opts: DispatchOptions,
  ): void {
    const p = this.pipeline(spec, opts.constants);
    const label = opts.label ? `${spec.name} ${opts.label}` : spec.name;
    const [x, y = 1, z = 1] = workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new GPUKernelError(`kernel ${label}: dispatch of ${x}x${y}x${z} workgroups exceeds the adapter's ${maxWg} per dimension`);
    }
    const entries: GPUBindGroupEntry[] = [];
    for (const b of p.info.bindings) {
      if (b.access === 'uniform') {
        entries.push({ binding: b.binding, resource: this.uniformSlot(spec.name, p.info.uniform!, uniforms) });
        continue;
      }
      const buf = buffers[b.name];
      if (!buf) throw new Error(`kernel ${label}: no buffer given for binding '${b.name}' (given: ${Object.keys(buffers).join(', ')})`);
      // Bound in whole vec4s (pool classes are multiples of 256 bytes), so vec4 kernels can read
      // the last partial vec4; kernels take their logical sizes from uniforms, not arrayLength().
      entries.push({ binding: b.binding, resource: { buffer: buf.buffer, offset: 0, size: Math.max(16, Math.ceil(buf.bytes / 16) * 16) } });
    }
    for (const k of Object.keys(buffers)) {
      if (!p.info.bindings.some((b) => b.name === k)) throw new Error(`kernel ${label}: buffer '${k}' is not a binding of the kernel`);
    }
    if (!p.info.uniform && Object.keys(uniforms).length) throw new Error(`kernel ${label}: uniforms given but the WGSL declares no uniform buffer`);
    if (x * y * z === 0) return;
    const bindGroup = this.bindGroup(p, entries);
    const desc: GPUComputePassDescriptor = { label };
    // A record only where something collects them: a step records hundreds of dispatches.
    const record = this.costLog || this.profiler ? { label, category: spec.category, cost: opts.cost } : null;
    if (record) this.costLog?.push(record);
    if (record && this.profiler && this.profiler.records.length < this.profiler.capacity) {
      const i = this.profiler.records.length;
      this.profiler.records.push(record);
      desc.timestampWrites = { querySet: this.profiler.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
    }
    const pass = this.enc().beginComputePass(desc);
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.passLabels.push(label);
    this.dispatchCount++;
    if (this.passLabels.length >= AUTO_FLUSH_DISPATCHES) this.flush();
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = ++this.lastBufferId));
    return id;
  }

  private bindGroup(p: Pipeline, entries: GPUBindGroupEntry[]): GPUBindGroup {
    let key = p.key;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${e.binding}:${this.bufferId(r.buffer)}:${r.offset ?? 0}:${r.size}`;
    }
    let g = this.bindGroups.get(key);
    if (!g) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      g = this.device.createBindGroup({ label: p.spec.name, layout: p.layout, entries });
      this.bindGroups.set(key, g);
      this.bindGroupsCreated++;
    }
    return g;
  }

  private uniformSlot(kernel: string, u: NonNullable<ReflectedKernel['uniform']>, values: Record<string, number>): GPUBufferBinding {
    if (u.size > UNIFORM_SLOT) throw new Error(`kernel '${kernel}': uniform struct is ${u.size} bytes; at most ${UNIFORM_SLOT}`);
    let chunk = this.uniformChunks[this.uniformChunks.length - 1];
    if (!chunk || chunk.used + UNIFORM_SLOT > UNIFORM_CHUNK) {
      const gpuChunk = this.uniformPool.acquire(UNIFORM_CHUNK);
      let cpu = this.cpuChunks.get(gpuChunk);
      if (!cpu) this.cpuChunks.set(gpuChunk, (cpu = new ArrayBuffer(UNIFORM_CHUNK)));
      chunk = { gpu: gpuChunk, cpu, used: 0 };
      this.uniformChunks.push(chunk);
    }
    const offset = chunk.used;
    packUniforms(kernel, u, values, new DataView(chunk.cpu), offset);
    chunk.used += UNIFORM_SLOT;
    return { buffer: chunk.gpu, offset, size: u.size };
  }

  /** Submit the open encoder (no waiting). Deferred releases become reusable afterwards. */
  flush(): void {
    for (const c of this.uniformChunks) this.device.queue.writeBuffer(c.gpu, 0, c.cpu, 0, c.used);
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
    }
    for (const c of this.uniformChunks) this.uniformPool.release(c.gpu);
    this.uniformChunks = [];
    for (const b of this.deferred) this.storage.release(b.buffer);
    this.deferred = [];
    this.deferredBytes = 0;
    this.popScopes(this.passLabels);
    this.passLabels = [];
    this.pushScopes();
  }

  // ---- errors ------------------------------------------------------------------------------

  private pushScopes(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  private popScopes(labels: string[]): void {
    const describe = (kind: string) => (e: GPUError | null) =>
      e ? `WebGPU ${kind} error${labels.length ? ` in a step with kernels [${summarize(labels)}]` : ''}: ${e.message}` : null;
    this.scopeChecks.push(this.device.popErrorScope().then(describe('validation')));
    this.scopeChecks.push(this.device.popErrorScope().then(describe('out-of-memory')));
  }

  private async throwPendingErrors(): Promise<void> {
    const checks = this.scopeChecks;
    this.scopeChecks = [];
    const errors = (await Promise.all(checks)).filter((e): e is string => e !== null);
    errors.push(...this.ctx.uncaptured.splice(0).map((m) => `WebGPU error: ${m}`));
    if (this.ctx.lost) errors.push(this.ctx.lost);
    if (errors.length) throw new GPUKernelError(errors.join('\n'));
  }

  // ---- profiling ---------------------------------------------------------------------------

  /** Start listing every dispatch recorded from now on, with its category and cost (no GPU work). */
  startCostLog(): void {
    this.costLog = [];
  }

  /** Stop listing and return the dispatches recorded since startCostLog(). */
  stopCostLog(): DispatchRecord[] {
    const log = this.costLog ?? [];
    this.costLog = null;
    return log;
  }

  /** Start recording a GPU timestamp pair around each of the next `capacity` dispatches. */
  startProfile(capacity: number): void {
    if (!this.ctx.timestamps) throw new Error('this device was opened without timestamp-query; use GpuRuntime.open({ timestamps: true })');
    this.flush();
    this.profiler?.querySet.destroy();
    this.profiler = { querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * capacity }), capacity, records: [] };
  }

  /** Stop profiling and return each recorded dispatch's GPU time. */
  async stopProfile(): Promise<ProfileEntry[]> {
    const prof = this.profiler;
    if (!prof) return [];
    this.profiler = null;
    const n = prof.records.length;
    if (n === 0) return [];
    const U = GPUBufferUsage;
    const resolve = this.device.createBuffer({ size: 16 * n, usage: U.QUERY_RESOLVE | U.COPY_SRC });
    const staging = this.device.createBuffer({ size: 16 * n, usage: U.MAP_READ | U.COPY_DST });
    const enc = this.enc();
    enc.resolveQuerySet(prof.querySet, 0, 2 * n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, 16 * n);
    this.flush();
    try {
      await this.waitFor(() => staging.mapAsync(GPUMapMode.READ));
    } catch (e) {
      for (const b of [staging, resolve]) b.destroy();
      prof.querySet.destroy();
      await this.throwPendingErrors();
      throw new GPUKernelError(this.ctx.lost ?? `reading ${n} GPU timestamps back failed: ${(e as Error).message}`);
    }
    const t = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    resolve.destroy();
    prof.querySet.destroy();
    await this.throwPendingErrors();
    return prof.records.map((r, i) => ({ ...r, ns: Number(t[2 * i + 1] - t[2 * i]) }));
  }

  /** The device has subgroups of at least 4 invocations (GpuContext.subgroups4). */
  get hasSubgroups4(): boolean {
    return this.ctx.subgroups4;
  }

  get hasTimestamps(): boolean {
    return this.ctx.timestamps;
  }

  destroy(): void {
    this.flush();
    this.device.destroy();
  }
}

/** The compiler's errors for `module`, at the file and line of the composed WGSL they came from. */
async function compileErrors(spec: KernelSpec, module: GPUShaderModule): Promise<string | null> {
  let info: GPUCompilationInfo;
  try {
    info = await module.getCompilationInfo();
  } catch {
    return null; // not offered: the validation error scope still reports the failure
  }
  const errors = info.messages.filter((m) => m.type === 'error');
  if (!errors.length) return null;
  const at = (m: GPUCompilationMessage) => {
    const o = spec.origin?.(m.lineNum) ?? { path: `kernel '${spec.name}'`, line: m.lineNum };
    return `${o.path}:${o.line}:${m.linePos}`;
  };
  // The first line of each message (Tint adds candidate lists; the validation error has them all).
  return `WGSL compile error in kernel '${spec.name}': ${errors.map((m) => `${at(m)}: ${m.message.split('\n')[0]}`).join('; ')}`;
}

function summarize(labels: string[]): string {
  const uniq = [...new Set(labels)];
  return uniq.length > 12 ? `${uniq.slice(0, 12).join('; ')}; ... ${uniq.length - 12} more` : uniq.join('; ');
}

/** Workgroup grid for `n` items with `perGroup` items each, folded into 2D past 65535 groups. */
export function grid1d(n: number, perGroup: number): [number, number] {
  const groups = Math.ceil(n / perGroup);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
