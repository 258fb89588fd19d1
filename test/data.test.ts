import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  augmentParams,
  CIFAR10_CLASSES,
  CIFAR_RECORD_BYTES,
  cropFlip,
  epochBatches,
  evalBatches,
  flipLR,
  IMAGE_NUMEL,
  loadCifar10,
  makeSynthetic,
  mulberry32,
  NO_AUGMENT,
  Rng,
  numBatches,
  standardizeImage,
  SYNTHETIC_CLASSES,
  writePng,
  writeSampleGrid,
  type Batch,
  type Dataset,
} from '../src/data/index.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'wrn-data-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = (name = 'd') => {
  const d = join(tmpRoot, `${dirCount++}`, name);
  mkdirSync(d, { recursive: true });
  return d;
};

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// ---- CIFAR-10 binary reader ---------------------------------------------------------------------

const FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const PER_FILE = 3;
const labelOf = (f: number, r: number) => (f * 3 + r) % 10;
// A pixel value that differs by file, record, channel and position.
const pixelOf = (f: number, r: number, c: number, p: number) => (f * 31 + r * 7 + c * 50 + p) & 255;

function cifarFile(f: number, records = PER_FILE): Uint8Array {
  const buf = new Uint8Array(records * CIFAR_RECORD_BYTES);
  for (let r = 0; r < records; r++) {
    const off = r * CIFAR_RECORD_BYTES;
    buf[off] = labelOf(f, r);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) buf[off + 1 + c * 1024 + p] = pixelOf(f, r, c, p);
  }
  return buf;
}

function writeCifar(dir: string): string {
  FILES.forEach((name, f) => writeFileSync(join(dir, name), cifarFile(f)));
  return dir;
}

describe('CIFAR-10 binary reader', () => {
  it('loads records exactly: labels, pixels, CHW plane order', () => {
    const dir = writeCifar(freshDir());
    const { train, test } = loadCifar10(dir);
    expect(train.count).toBe(15);
    expect(test.count).toBe(3);
    expect(train.images.length).toBe(15 * 3072);
    expect(train.classes).toEqual(CIFAR10_CLASSES);
    expect(Array.from(train.labels)).toEqual(Array.from({ length: 15 }, (_, i) => labelOf(Math.floor(i / 3), i % 3)));
    expect(Array.from(test.labels)).toEqual([0, 1, 2].map((r) => labelOf(5, r)));
    // Every byte: image i is record i % 3 of file i / 3.
    for (let i = 0; i < 15; i++) {
      const f = Math.floor(i / 3);
      const rec = cifarFile(f).subarray((i % 3) * CIFAR_RECORD_BYTES + 1, ((i % 3) + 1) * CIFAR_RECORD_BYTES);
      expect(sameBytes(train.images.subarray(i * 3072, (i + 1) * 3072), rec)).toBe(true);
    }
    // A known pixel: image 4 (file 1, record 1), channel G, row 2, column 3 -> CHW index 1*1024 + 2*32 + 3.
    expect(train.images[4 * 3072 + 1 * 1024 + 2 * 32 + 3]).toBe(pixelOf(1, 1, 1, 2 * 32 + 3));
    expect(test.images[2 * 3072 + 2 * 1024 + 31 * 32 + 31]).toBe(pixelOf(5, 2, 2, 1023));
  });

  it('keeps R, G, B planes in order for a hand-made record', () => {
    const dir = writeCifar(freshDir());
    const rec = new Uint8Array(CIFAR_RECORD_BYTES);
    rec[0] = 7;
    rec[1] = 255; // R at (0,0)
    rec[1 + 1024] = 128; // G at (0,0)
    rec[1 + 2048 + 32 + 5] = 9; // B at (1,5)
    writeFileSync(join(dir, 'test_batch.bin'), rec);
    const { test } = loadCifar10(dir);
    expect(test.count).toBe(1);
    expect(test.labels[0]).toBe(7);
    expect([test.images[0], test.images[1024], test.images[2048 + 32 + 5], test.images[1]]).toEqual([255, 128, 9, 0]);
  });

  it('honours trainFiles, limit and testLimit', () => {
    const dir = writeCifar(freshDir());
    expect(loadCifar10(dir, { trainFiles: 2 }).train.count).toBe(6);
    const { train, test } = loadCifar10(dir, { limit: 4, testLimit: 2 });
    expect(train.count).toBe(4);
    expect(train.images.length).toBe(4 * 3072);
    expect(test.count).toBe(2);
    expect(train.labels[3]).toBe(labelOf(1, 0)); // crosses into the second file
    expect(loadCifar10(dir, { trainFiles: ['data_batch_3.bin'] }).train.labels[0]).toBe(labelOf(2, 0));
  });

  it('descends into cifar-10-batches-bin', () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'cifar-10-batches-bin'));
    writeCifar(join(dir, 'cifar-10-batches-bin'));
    expect(loadCifar10(dir).train.count).toBe(15);
  });

  describe('errors name the file and the problem', () => {
    it('missing directory', () => {
      const dir = join(tmpRoot, 'no-such-dir');
      expect(() => loadCifar10(dir)).toThrow(/not found: .*no-such-dir/);
      expect(() => loadCifar10(dir)).toThrow(/cifar-10-binary\.tar\.gz/);
    });
    it('not a directory', () => {
      const file = join(freshDir(), 'cifar-10-binary.tar.gz');
      writeFileSync(file, 'x');
      expect(() => loadCifar10(file)).toThrow(/cifar-10-binary\.tar\.gz is not a directory.*extract it/);
    });
    it('missing file lists what was expected', () => {
      const dir = writeCifar(freshDir());
      rmSync(join(dir, 'data_batch_3.bin'));
      let msg = '';
      try {
        loadCifar10(dir);
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toContain(`${dir} is missing data_batch_3.bin`);
      expect(msg).toContain('Expected data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin');
      expect(msg).toContain('the CIFAR-10 binary version, cifar-10-binary.tar.gz, extracted');
    });
    it('empty directory', () => {
      expect(() => loadCifar10(freshDir())).toThrow(/missing data_batch_1\.bin, .*test_batch\.bin/);
    });
    it('truncated file: size and record size', () => {
      const dir = writeCifar(freshDir());
      writeFileSync(join(dir, 'data_batch_2.bin'), cifarFile(1).subarray(0, 3 * CIFAR_RECORD_BYTES - 5));
      expect(() => loadCifar10(dir)).toThrow(/data_batch_2\.bin is truncated.*9214 bytes.*3073-byte record/);
    });
    it('empty file', () => {
      const dir = writeCifar(freshDir());
      writeFileSync(join(dir, 'test_batch.bin'), new Uint8Array(0));
      expect(() => loadCifar10(dir)).toThrow(/test_batch\.bin is empty/);
    });
    it('label outside 0-9: file and record index', () => {
      const dir = writeCifar(freshDir());
      const bad = cifarFile(3);
      bad[2 * CIFAR_RECORD_BYTES] = 10;
      writeFileSync(join(dir, 'data_batch_4.bin'), bad);
      expect(() => loadCifar10(dir)).toThrow(/data_batch_4\.bin: record 2 .*label 10, outside 0-9/);
    });
    it('the python-pickle version (data_batch_1 without .bin)', () => {
      const dir = freshDir();
      for (const f of ['data_batch_1', 'data_batch_2', 'test_batch', 'batches.meta']) writeFileSync(join(dir, f), 'pickle');
      expect(() => loadCifar10(dir)).toThrow(/python-pickle version.*cifar-10-binary\.tar\.gz/);
    });
    it('a cifar-10-batches-py directory, or its parent', () => {
      const py = freshDir('cifar-10-batches-py');
      expect(() => loadCifar10(py)).toThrow(/cifar-10-batches-py holds the python-pickle version/);
      expect(() => loadCifar10(join(py, '..'))).toThrow(/holds cifar-10-batches-py, the python-pickle version/);
    });
    it('CIFAR-100 is recognised', () => {
      const dir = freshDir();
      for (const f of ['train.bin', 'test.bin', 'coarse_label_names.txt']) writeFileSync(join(dir, f), 'x');
      expect(() => loadCifar10(dir)).toThrow(/looks like CIFAR-100/);
    });
  });
});

// ---- synthetic dataset ----------------------------------------------------------------------------

function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

describe('synthetic dataset', () => {
  it('Rng is the mulberry32 stream', () => {
    const f = mulberry32(123);
    const r = new Rng(123);
    for (let i = 0; i < 100; i++) expect(r.next()).toBe(f());
    expect(mulberry32(0)()).toBe(1144304738); // the canonical mulberry32(0), first draw
  });

  it('is deterministic for a seed, and seeds and splits differ', () => {
    const a = makeSynthetic({ trainCount: 300, testCount: 100, seed: 3 });
    const b = makeSynthetic({ trainCount: 300, testCount: 100, seed: 3 });
    const c = makeSynthetic({ trainCount: 300, testCount: 100, seed: 4 });
    expect(sameBytes(a.train.images, b.train.images) && sameBytes(a.train.labels, b.train.labels)).toBe(true);
    expect(sameBytes(a.test.images, b.test.images) && sameBytes(a.test.labels, b.test.labels)).toBe(true);
    expect(sameBytes(a.train.images, c.train.images)).toBe(false);
    expect(sameBytes(a.train.images.subarray(0, 100 * 3072), a.test.images)).toBe(false);
  });

  it('has pinned bytes (the default dataset must not change silently)', () => {
    // If the generator changes on purpose, update these; results on the old data stop being comparable.
    const { train, test } = makeSynthetic({ trainCount: 50, testCount: 20, seed: 0 });
    expect([fnv1a(train.images), fnv1a(train.labels), fnv1a(test.images), fnv1a(test.labels)]).toEqual(PINNED);
  });

  it('has the Dataset shape and balanced classes', () => {
    const { train, test } = makeSynthetic({ trainCount: 1000, testCount: 205 });
    expect(train.classes).toEqual(SYNTHETIC_CLASSES);
    expect(train.classes.length).toBe(10);
    expect(train.images.length).toBe(1000 * IMAGE_NUMEL);
    expect([train.count, test.count]).toEqual([1000, 205]);
    const hist = (d: Dataset) => Array.from({ length: 10 }, (_, k) => d.labels.filter((l) => l === k).length);
    expect(hist(train)).toEqual(Array(10).fill(100));
    for (const n of hist(test)) expect(n === 20 || n === 21).toBe(true);
    // Shuffled: not in class order.
    expect(Array.from(train.labels.subarray(0, 10))).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('colour does not identify the class (nearest class-mean colour is near chance)', () => {
    const { train, test } = makeSynthetic({ trainCount: 3000, testCount: 1000, seed: 1 });
    const meanColour = (d: Dataset, i: number) =>
      [0, 1, 2].map((c) => {
        let s = 0;
        for (let p = 0; p < 1024; p++) s += d.images[i * 3072 + c * 1024 + p];
        return s / 1024;
      });
    const sums = Array.from({ length: 10 }, () => [0, 0, 0, 0]);
    for (let i = 0; i < train.count; i++) {
      const m = meanColour(train, i);
      const s = sums[train.labels[i]];
      for (let c = 0; c < 3; c++) s[c] += m[c];
      s[3]++;
    }
    const centres = sums.map((s) => [s[0] / s[3], s[1] / s[3], s[2] / s[3]]);
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      const m = meanColour(test, i);
      const d = centres.map((ctr) => (ctr[0] - m[0]) ** 2 + (ctr[1] - m[1]) ** 2 + (ctr[2] - m[2]) ** 2);
      if (d.indexOf(Math.min(...d)) === test.labels[i]) correct++;
    }
    expect(correct / test.count).toBeLessThan(0.3);
  });

  it('generates 6000 images quickly', () => {
    const t0 = performance.now();
    makeSynthetic({ trainCount: 5000, testCount: 1000, seed: 9 });
    const ms = performance.now() - t0;
    console.log(`[data] synthetic: 6000 images in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000); // < 1 s on an idle machine; generous for loaded CI
  });
});

const PINNED = ['9e57a6d1', '19ba8a54', 'f3aaecfa', 'aa8c36a1'];

// ---- augmentation and batching ----------------------------------------------------------------------

const small = makeSynthetic({ trainCount: 50, testCount: 10, seed: 5 }).train;

function standardized(ds: Dataset, i: number): Float32Array {
  const out = new Float32Array(IMAGE_NUMEL);
  standardizeImage(ds.images, i * IMAGE_NUMEL, out, 0);
  return out;
}

const collect = (it: Iterable<Batch>) => Array.from(it);

describe('standardization', () => {
  it('gives each image mean 0 and std 1, matching the float64 formula', () => {
    for (const i of [0, 7, 31]) {
      const x = standardized(small, i);
      const mean = x.reduce((a, b) => a + b, 0) / x.length;
      const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(std - 1)).toBeLessThan(1e-4);
      const raw = Array.from(small.images.subarray(i * IMAGE_NUMEL, (i + 1) * IMAGE_NUMEL));
      const m = raw.reduce((a, b) => a + b, 0) / raw.length;
      const s = Math.sqrt(raw.reduce((a, b) => a + (b - m) ** 2, 0) / raw.length);
      for (const p of [0, 100, 3071]) expect(x[p]).toBeCloseTo((raw[p] - m) / s, 5);
    }
  });

  it('a constant image becomes zeros, not NaN (std floored at 1/sqrt(3072))', () => {
    const out = new Float32Array(IMAGE_NUMEL).fill(NaN);
    standardizeImage(new Uint8Array(IMAGE_NUMEL).fill(200), 0, out, 0);
    expect(out.every((v) => v === 0)).toBe(true);
  });
});

describe('crop and flip', () => {
  const img = standardized(small, 3);

  it('the centre crop without flip is the identity; a flip of a flip is the identity', () => {
    const a = new Float32Array(IMAGE_NUMEL);
    cropFlip(img, 0, a, 0, NO_AUGMENT);
    expect(sameBytes(a, img)).toBe(true);
    const f = new Float32Array(IMAGE_NUMEL);
    const ff = new Float32Array(IMAGE_NUMEL);
    flipLR(img, 0, f, 0);
    flipLR(f, 0, ff, 0);
    expect(sameBytes(f, img)).toBe(false);
    expect(sameBytes(ff, img)).toBe(true);
    // Mirror: channel 2, row 5, column 0 <- column 31.
    expect(f[2 * 1024 + 5 * 32]).toBe(img[2 * 1024 + 5 * 32 + 31]);
  });

  it('a corner crop shifts the image and pads with zeros', () => {
    const out = new Float32Array(IMAGE_NUMEL);
    cropFlip(img, 0, out, 0, { dx: 0, dy: 0, flip: false }); // window starts 4 px up-left of the image
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          const v = out[c * 1024 + y * 32 + x];
          expect(v).toBe(y < 4 || x < 4 ? 0 : img[c * 1024 + (y - 4) * 32 + (x - 4)]);
        }
      }
    }
    // Bottom-right window (image rows/cols 4..35), then mirrored: the padding lands on the left.
    cropFlip(img, 0, out, 0, { dx: 8, dy: 8, flip: true });
    expect(out[0]).toBe(0);
    expect(out[4]).toBe(img[4 * 32 + 31]);
    expect(out[27 * 32 + 31]).toBe(img[31 * 32 + 4]);
    expect(out[28 * 32 + 31]).toBe(0);
  });

  it('augmentParams covers every offset and flips about half the time', () => {
    const seenX = new Set<number>();
    const seenY = new Set<number>();
    let flips = 0;
    for (let i = 0; i < 2000; i++) {
      const p = augmentParams(1, 2, i);
      seenX.add(p.dx);
      seenY.add(p.dy);
      if (p.flip) flips++;
    }
    expect([...seenX].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...seenY].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(flips / 2000).toBeGreaterThan(0.45);
    expect(flips / 2000).toBeLessThan(0.55);
  });
});

describe('epoch batches', () => {
  const train = (extra: Partial<Parameters<typeof epochBatches>[1]> = {}) =>
    collect(epochBatches(small, { batchSize: 16, seed: 7, epoch: 3, augment: true, shuffle: true, dropLast: true, ...extra }));

  it('has the right shapes, with and without the last partial batch', () => {
    const b = train();
    expect(b.length).toBe(3);
    expect(numBatches(50, 16, true)).toBe(3);
    for (const x of b) {
      expect(x.count).toBe(16);
      expect(x.x.length).toBe(16 * 3 * 32 * 32);
      expect(x.labels.length).toBe(16);
      expect(x.labels).toBeInstanceOf(Float32Array);
    }
    const all = train({ dropLast: false });
    expect(all.map((x) => x.count)).toEqual([16, 16, 16, 2]);
    expect(all[3].x.length).toBe(2 * IMAGE_NUMEL);
  });

  it('each epoch is a permutation, with labels and augmented images of the right examples', () => {
    const b = train({ dropLast: false });
    const idx = b.flatMap((x) => Array.from(x.indices));
    expect([...idx].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(idx).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const want = new Float32Array(IMAGE_NUMEL);
    for (const x of b) {
      for (let j = 0; j < x.count; j++) {
        const i = x.indices[j];
        expect(x.labels[j]).toBe(small.labels[i]);
        cropFlip(standardized(small, i), 0, want, 0, augmentParams(7, 3, i));
        expect(sameBytes(x.x.subarray(j * IMAGE_NUMEL, (j + 1) * IMAGE_NUMEL), want)).toBe(true);
      }
    }
  });

  it('is a pure function of (seed, epoch): replays exactly, differs across epochs and seeds', () => {
    const a = train();
    const again = train();
    for (let k = 0; k < a.length; k++) {
      expect(sameBytes(a[k].x, again[k].x)).toBe(true);
      expect(sameBytes(a[k].indices, again[k].indices)).toBe(true);
      expect(sameBytes(a[k].labels, again[k].labels)).toBe(true);
    }
    const nextEpoch = train({ epoch: 4 });
    expect(sameBytes(a[0].indices, nextEpoch[0].indices)).toBe(false);
    expect(sameBytes(a[0].x, nextEpoch[0].x)).toBe(false);
    expect(sameBytes(a[0].indices, train({ seed: 8 })[0].indices)).toBe(false);
    // Same order, different crops: augmentation alone changes across epochs too.
    const noShuffle = (epoch: number) => train({ shuffle: false, epoch })[0].x;
    expect(sameBytes(noShuffle(0), noShuffle(1))).toBe(false);
  });

  it('resumes mid-epoch with startBatch, and augmentation does not depend on batch size', () => {
    const a = train();
    const resumed = train({ startBatch: 2 });
    expect(resumed.length).toBe(1);
    expect(resumed[0].batch).toBe(2);
    expect(sameBytes(resumed[0].x, a[2].x)).toBe(true);
    const byEight = collect(epochBatches(small, { batchSize: 8, seed: 7, epoch: 3, augment: true, shuffle: true }));
    expect(sameBytes(byEight[1].x, a[0].x.subarray(8 * IMAGE_NUMEL))).toBe(true);
  });

  it('evaluation: standardization only, dataset order, every example once, last partial batch kept', () => {
    const b = collect(evalBatches(small, 16));
    expect(b.map((x) => x.count)).toEqual([16, 16, 16, 2]);
    expect(b.flatMap((x) => Array.from(x.indices))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(b.flatMap((x) => Array.from(x.labels))).toEqual(Array.from(small.labels));
    for (const x of b) {
      for (let j = 0; j < x.count; j++) {
        expect(sameBytes(x.x.subarray(j * IMAGE_NUMEL, (j + 1) * IMAGE_NUMEL), standardized(small, x.indices[j]))).toBe(true);
      }
    }
    // Independent of seed/epoch.
    const other = collect(epochBatches(small, { batchSize: 16, seed: 99, epoch: 5, augment: false, shuffle: false }));
    expect(sameBytes(other[1].x, b[1].x)).toBe(true);
  });

  it('rejects a bad batch size', () => {
    expect(() => collect(evalBatches(small, 0))).toThrow(/batchSize/);
  });
});

// ---- PNG ------------------------------------------------------------------------------------------------

describe('PNG output', () => {
  it('writePng writes a readable PNG atomically, creating parent folders', () => {
    const dir = join(freshDir(), 'a', 'b');
    const path = join(dir, 'img.png');
    const rgba = new Uint8Array(5 * 3 * 4).map((_, i) => (i * 17) & 255);
    writePng(path, 5, 3, rgba);
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([5, 3]);
    expect(sameBytes(png.data, rgba)).toBe(true);
    expect(readdirSync(dir)).toEqual(['img.png']);
    writePng(path, 5, 3, rgba); // overwriting works too
    expect(readdirSync(dir)).toEqual(['img.png']);
    expect(() => writePng(path, 5, 4, rgba)).toThrow(/needs 80 bytes, got 60/);
  });

  it('writeSampleGrid: rows = classes, the right size, the right pixels', () => {
    const ds = makeSynthetic({ trainCount: 100, testCount: 0, seed: 2 }).train;
    const dir = freshDir();
    const path = join(dir, 'samples.png');
    const { width, height } = writeSampleGrid(ds, path, { perClass: 4 });
    const png = PNG.sync.read(readFileSync(path));
    // 4 cells of 64 px (scale 2) and 5 gaps of 2 px across; 10 rows down.
    expect([png.width, png.height]).toEqual([width, height]);
    expect([width, height]).toEqual([4 * 64 + 5 * 2, 10 * 64 + 11 * 2]);
    expect(readdirSync(dir)).toEqual(['samples.png']);
    // The first image of class 3 sits in row 3, column 0; check its pixel (row 10, col 20).
    const i = ds.labels.indexOf(3);
    const y = 2 + 3 * (64 + 2) + 2 * 10;
    const x = 2 + 2 * 20;
    const o = (y * width + x) * 4;
    expect(Array.from(png.data.subarray(o, o + 4))).toEqual([
      ds.images[i * 3072 + 10 * 32 + 20],
      ds.images[i * 3072 + 1024 + 10 * 32 + 20],
      ds.images[i * 3072 + 2048 + 10 * 32 + 20],
      255,
    ]);
  });
});
