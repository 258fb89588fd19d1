// The page's pure parts, in Node: dropped files through the Node readers (gunzipped with
// DecompressionStream, as in the page), and the checkpoint bytes the page downloads and loads.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { readDropped } from '../src/web/data.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint_format.js';
import { BROWSER_FILES_SOURCE } from '../src/train/config.js';

function idx(dims: number[], fill: (i: number) => number): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const b = new Uint8Array(4 + 4 * dims.length + n);
  b.set([0, 0, 8, dims.length]);
  const v = new DataView(b.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < n; i++) b[4 + 4 * dims.length + i] = fill(i);
  return b;
}

const file = (name: string, bytes: Uint8Array) => new File([bytes as BlobPart], name);
const spec = { source: 'files', trainCount: 0, testCount: 0, imageSize: 0 };

describe('dropped files (src/web/data.ts)', () => {
  it('reads gzipped Fashion-MNIST IDX files with the Node reader and records them', async () => {
    const files = [
      file('train-images-idx3-ubyte.gz', gzipSync(idx([6, 8, 8], (i) => i % 251))),
      file('train-labels-idx1-ubyte.gz', gzipSync(idx([6], (i) => i % 10))),
      file('t10k-images-idx3-ubyte', idx([3, 8, 8], (i) => i % 7)),
      file('t10k-labels-idx1-ubyte', idx([3], (i) => i)),
    ];
    const d = await readDropped(files, { ...spec, imageSize: 4 });
    expect([d.train.count, d.test.count, d.train.channels, d.train.height]).toEqual([6, 3, 1, 4]);
    expect(d.source.startsWith(BROWSER_FILES_SOURCE)).toBe(true);
    expect(d.source).toContain('train-images-idx3-ubyte.gz');
  });

  it('gives the Node readers’ errors: a bad gzip, a bad magic number, a truncated CIFAR-10 batch, unknown files', async () => {
    await expect(readDropped([file('train-images-idx3-ubyte.gz', new Uint8Array([0x1f, 0x8b, 1, 2, 3]))], spec)).rejects.toThrow(
      /file train-images-idx3-ubyte\.gz \(dropped files\) starts like gzip but does not decompress/,
    );
    const good = (n: string, d: number[]) => file(n, idx(d, () => 0));
    await expect(
      readDropped([file('train-images-idx3-ubyte', new Uint8Array([0, 0, 8, 3, 1, 2, 3])), good('train-labels-idx1-ubyte', [1]), good('t10k-images-idx3-ubyte', [1, 2, 2]), good('t10k-labels-idx1-ubyte', [1])], spec),
    ).rejects.toThrow(/IDX file train-images-idx3-ubyte \(dropped files\): header needs 16 bytes/);
    await expect(readDropped([file('data_batch_1.bin', new Uint8Array(3074)), file('test_batch.bin', new Uint8Array(3073))], spec)).rejects.toThrow(
      /CIFAR-10 file data_batch_1\.bin \(dropped files\) is truncated or not CIFAR-10: its size, 3074 bytes/,
    );
    await expect(readDropped([file('notes.txt', new Uint8Array(10))], spec)).rejects.toThrow(/neither IDX files .* found notes\.txt/);
  });

  it('reads CIFAR-10 batches, and names what is missing', async () => {
    const rec = (label: number) => {
      const b = new Uint8Array(3073).fill(9);
      b[0] = label;
      return b;
    };
    const two = new Uint8Array(2 * 3073);
    two.set(rec(3), 0);
    two.set(rec(4), 3073);
    const d = await readDropped([file('data_batch_1.bin', two), file('test_batch.bin', rec(1))], spec);
    expect([...d.train.labels, ...d.test.labels]).toEqual([3, 4, 1]);
    await expect(readDropped([file('data_batch_1.bin', two)], spec)).rejects.toThrow(/CIFAR-10 files dropped files are missing test_batch\.bin/);
  });
});

describe('checkpoint bytes (src/train/checkpoint_format.ts)', () => {
  it('round-trips, and refuses flipped bytes and non-finite values', () => {
    const t = [{ name: 'w', shape: [2, 2], data: new Float32Array([1, -2, 3.5, 0]) }];
    const parts = encodeCheckpoint({ kind: 'wrn-train', step: 3 }, t);
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    const back = decodeCheckpoint<{ kind: string; step: number }>(bytes, 'x.wrnckpt');
    expect(back.header).toEqual({ kind: 'wrn-train', step: 3 });
    expect([...back.tensors[0].data]).toEqual([1, -2, 3.5, 0]);
    bytes[bytes.length - 1] ^= 0x40;
    expect(() => decodeCheckpoint(bytes, 'x.wrnckpt')).toThrow(/checkpoint x\.wrnckpt: checksum mismatch/);
    expect(() => encodeCheckpoint({}, [{ name: 'w', shape: [1], data: new Float32Array([NaN]) }])).toThrow(/tensor 'w' holds 1 non-finite value/);
  });
});
