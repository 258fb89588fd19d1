// Checkpoints: one binary file, written atomically (temporary file, fsync, rename), so a crash
// mid-write leaves the previous checkpoint intact.
//
// Format: the 8 bytes "WRNCKPT1", a u32 (little-endian) header length, a JSON header, zero padding
// to a multiple of 4, then every tensor's f32 values (little-endian) in header order.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';

const MAGIC = 'WRNCKPT1';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint<H> {
  header: H;
  tensors: CheckpointTensor[];
}

export class CheckpointError extends Error {}

/** Write `path` atomically: readers see the old file or the complete new one, never a torn one. */
export function writeFileAtomic(path: string, chunks: Uint8Array[]): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function saveCheckpoint<H>(path: string, header: H, tensors: CheckpointTensor[]): void {
  const meta = { format: MAGIC, header, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, size: t.data.length })) };
  let json = new TextEncoder().encode(JSON.stringify(meta));
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  json = Uint8Array.from([...json, ...new Array(pad).fill(0x20)]);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, json.length, true);
  const chunks: Uint8Array[] = [new TextEncoder().encode(MAGIC), len, json];
  for (const t of tensors) {
    const le = new Float32Array(t.data); // copy: the host is little-endian on every platform we run on
    chunks.push(new Uint8Array(le.buffer));
  }
  writeFileAtomic(path, chunks);
}

export function loadCheckpoint<H>(path: string): Checkpoint<H> {
  if (!existsSync(path)) throw new CheckpointError(`checkpoint ${path}: no such file`);
  const buf = readFileSync(path);
  const bad = (why: string) => new CheckpointError(`checkpoint ${path}: ${why}; expected a file written by 'wrn train' (format ${MAGIC})`);
  if (buf.length < 12 || buf.subarray(0, 8).toString('latin1') !== MAGIC) throw bad('not a wrn-webgpu checkpoint (bad magic bytes)');
  const hlen = buf.readUInt32LE(8);
  if (12 + hlen > buf.length) throw bad(`header of ${hlen} bytes runs past the end of the ${buf.length}-byte file (truncated?)`);
  let meta: { header: H; tensors: { name: string; shape: number[]; size: number }[] };
  try {
    meta = JSON.parse(buf.subarray(12, 12 + hlen).toString('utf8'));
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(meta.tensors)) throw bad('header lists no tensors');
  const need = meta.tensors.reduce((s, t) => s + 4 * t.size, 0);
  if (12 + hlen + need !== buf.length) {
    throw bad(`holds ${buf.length - 12 - hlen} bytes of tensor data but its header describes ${need} (truncated or corrupt)`);
  }
  let off = 12 + hlen;
  const tensors = meta.tensors.map((t) => {
    const data = new Float32Array(t.size);
    new Uint8Array(data.buffer).set(buf.subarray(off, off + 4 * t.size));
    off += 4 * t.size;
    return { name: t.name, shape: t.shape, data };
  });
  return { header: meta.header, tensors };
}
