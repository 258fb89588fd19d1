// The checkpoint format, as pure functions of bytes (no node:*): the Node reader and writer
// (checkpoint.ts) and the browser page (download and load a checkpoint) share it, so a checkpoint
// trained in the page is one `wrn train --resume` accepts, and the other way round.
//
// Format WRNCKPT2: the 8 bytes "WRNCKPT2", a u32 header length, a u32 CRC-32 of everything after
// these 16 bytes, a JSON header, space padding to a multiple of 4, then every tensor's f32 values
// (little-endian) in header order. WRNCKPT1 files (no checksum, 12-byte preamble) still load.

export const MAGIC = 'WRNCKPT2';
export const MAGIC_V1 = 'WRNCKPT1';

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

/** A tensor holds NaN or +-Inf: a checkpoint of it would be poisoned. */
export class NonFiniteError extends Error {
  constructor(readonly tensor: string, readonly count: number) {
    super(`tensor '${tensor}' holds ${count} non-finite value${count === 1 ? '' : 's'} (NaN or Inf)`);
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE, as zlib and PNG) of the chunks, in order. */
export function crc32(chunks: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const b of chunks) for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function nonFiniteCount(a: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) n++;
  return n;
}

/** Throw NonFiniteError for the first tensor that holds a NaN or an infinity. */
export function assertFinite(tensors: CheckpointTensor[]): void {
  for (const t of tensors) {
    const n = nonFiniteCount(t.data);
    if (n) throw new NonFiniteError(t.name, n);
  }
}

/** The file's bytes, as chunks in order (the preamble first). Refuses (NonFiniteError) a poisoned model. */
export function encodeCheckpoint<H>(header: H, tensors: CheckpointTensor[]): Uint8Array[] {
  assertFinite(tensors); // never write a poisoned model
  const meta = { format: MAGIC, header, tensors: tensors.map((t) => ({ name: t.name, shape: t.shape, size: t.data.length })) };
  let json = new TextEncoder().encode(JSON.stringify(meta));
  const pad = (4 - ((MAGIC.length + 8 + json.length) % 4)) % 4;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const body: Uint8Array[] = [json];
  for (const t of tensors) {
    const le = new Float32Array(t.data); // copy: the host is little-endian on every platform we run on
    body.push(new Uint8Array(le.buffer));
  }
  const pre = new Uint8Array(16);
  pre.set(new TextEncoder().encode(MAGIC));
  const view = new DataView(pre.buffer);
  view.setUint32(8, json.length, true);
  view.setUint32(12, crc32(body), true);
  return [pre, ...body];
}

/** Parse a checkpoint file's bytes; `path` names it in errors (a path, or a dropped file's name). */
export function decodeCheckpoint<H>(buf: Uint8Array, path: string): Checkpoint<H> {
  const bad = (why: string) => new CheckpointError(`checkpoint ${path}: ${why}; expected a file written by 'wrn train' (format ${MAGIC})`);
  const latin1 = (b: Uint8Array) => String.fromCharCode(...b);
  const magic = buf.length >= 8 ? latin1(buf.subarray(0, 8)) : '';
  if (magic !== MAGIC && magic !== MAGIC_V1) throw bad('not a wrn-webgpu checkpoint (bad magic bytes)');
  const pre = magic === MAGIC ? 16 : 12;
  if (buf.length < pre) throw bad(`only ${buf.length} bytes (truncated)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = view.getUint32(8, true);
  if (pre + hlen > buf.length) throw bad(`header of ${hlen} bytes runs past the end of the ${buf.length}-byte file (truncated?)`);
  let meta: { header: H; tensors: { name: string; shape: number[]; size: number }[] };
  try {
    meta = JSON.parse(new TextDecoder().decode(buf.subarray(pre, pre + hlen)));
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!meta || !Array.isArray(meta.tensors)) throw bad('header lists no tensors');
  meta.tensors.forEach((t, i) => {
    const ok = t && typeof t.name === 'string' && Array.isArray(t.shape) && t.shape.every((d) => Number.isInteger(d) && d >= 0) && Number.isInteger(t.size) && t.size >= 0;
    if (!ok) throw bad(`tensor #${i} of the header is ${JSON.stringify(t)}; expected {name, shape: integers >= 0, size: an integer >= 0}`);
    const values = t.shape.reduce((a, b) => a * b, 1);
    if (values !== t.size) throw bad(`tensor '${t.name}' has shape [${t.shape.join(',')}] (${values} values) but size ${t.size}`);
  });
  const need = meta.tensors.reduce((s, t) => s + 4 * t.size, 0);
  if (pre + hlen + need !== buf.length) {
    throw bad(`holds ${buf.length - pre - hlen} bytes of tensor data but its header describes ${need} (truncated or corrupt)`);
  }
  // After the size checks, so a truncated file says so; then flipped bytes anywhere are caught.
  if (magic === MAGIC) {
    const want = view.getUint32(12, true);
    const got = crc32([buf.subarray(16)]);
    if (want !== got) throw bad(`checksum mismatch (stored ${want.toString(16).padStart(8, '0')}, computed ${got.toString(16).padStart(8, '0')}): the file is corrupt`);
  }
  let off = pre + hlen;
  const tensors = meta.tensors.map((t) => {
    const data = new Float32Array(t.size);
    new Uint8Array(data.buffer).set(buf.subarray(off, off + 4 * t.size));
    off += 4 * t.size;
    return { name: t.name, shape: t.shape, data };
  });
  try {
    assertFinite(tensors);
  } catch (e) {
    if (e instanceof NonFiniteError) throw new CheckpointError(`checkpoint ${path}: ${e.message}; refusing a poisoned model (it was written before this check existed, or by something else)`);
    throw e;
  }
  return { header: meta.header, tensors };
}
