// A buffer pool with size classes. Requests are rounded up to a class (four classes per power of
// two, so at most 25% is wasted), and a released buffer waits in its class's free list for the
// next request of that class. Across repeated identical steps the same classes are asked for, so
// the allocated bytes stay flat after the first step. A request gets the oldest free buffer of its
// class, whatever order the buffers came back in, so identical steps get identical buffers (and
// the runtime's cached bind groups stay valid: GpuRuntime.bindGroup).

/** The size class for a request: the smallest of 2^k * {1, 1.25, 1.5, 1.75} that holds `bytes`. */
export function sizeClass(bytes: number): number {
  const min = 256;
  if (bytes <= min) return min;
  const p = 2 ** Math.floor(Math.log2(bytes));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = p * f;
    if (c >= bytes) return c;
  }
  return 2 * p;
}

export class BufferPool {
  /** Per class, the free buffers, newest first (so pop() is the oldest). */
  private free = new Map<number, GPUBuffer[]>();
  private order = new Map<GPUBuffer, number>(); // buffer -> creation index
  private live = new Map<GPUBuffer, number>(); // buffer -> bytes requested
  /** Bytes of all buffers this pool has created and not destroyed. */
  bytesAllocated = 0;
  /** Bytes requested by buffers currently handed out. */
  bytesInUse = 0;
  buffersAllocated = 0;

  constructor(
    private device: GPUDevice,
    readonly usage: GPUBufferUsageFlags,
    private label: string,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const cls = sizeClass(bytes);
    const list = this.free.get(cls);
    let buf = list?.pop();
    if (!buf) {
      buf = this.device.createBuffer({ size: cls, usage: this.usage, label: `${this.label}[${cls}]` });
      this.order.set(buf, this.buffersAllocated);
      this.bytesAllocated += cls;
      this.buffersAllocated++;
    }
    this.live.set(buf, bytes);
    this.bytesInUse += bytes;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const bytes = this.live.get(buf);
    if (bytes === undefined) throw new Error(`BufferPool(${this.label}): release of a buffer that is not in use (double release?)`);
    this.live.delete(buf);
    this.bytesInUse -= bytes;
    const cls = buf.size;
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    const age = this.order.get(buf)!;
    let at = list.length;
    while (at > 0 && this.order.get(list[at - 1])! < age) at--;
    list.splice(at, 0, buf);
  }
}
