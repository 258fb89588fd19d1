import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  augmentParams,
  channelNorm,
  CIFAR10_CLASSES,
  CIFAR_RECORD_BYTES,
  cropFlip,
  cropPad,
  datasetNorm,
  epochBatches,
  evalBatches,
  IMAGE_NUMEL,
  loadCifar10,
  makeSynthetic,
  noAugment,
  normalizeImage,
  numBatches,
  SYNTHETIC_CLASSES,
  writePng,
  writeSampleGrid,
  type AugmentParams,
  type Batch,
  type ChannelNorm,
  type Dataset,
} from '../src/data/index.js';
import { mulberry32, Rng } from '../src/util/rng.js';
import { sameBytes, scratchDirs } from './helpers/files.js';

const freshDir = scratchDirs('wrn-data-');

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
      const dir = join(freshDir(), 'no-such-dir');
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

// ---- normalization, augmentation and batching ---------------------------------------------------------

const smallSplit = makeSynthetic({ trainCount: 50, testCount: 10, seed: 5 });
const small = smallSplit.train;

/** Image i of ds normalized per channel with `norm` (default: ds's own statistics). */
function normalized(ds: Dataset, i: number, norm: ChannelNorm = datasetNorm(ds)): Float32Array {
  const per = ds.channels * ds.height * ds.width;
  const out = new Float32Array(per);
  normalizeImage(ds.images, i * per, out, 0, ds.channels, ds.height * ds.width, norm);
  return out;
}

/** `count` images of random bytes, channels x h x w, labels i % 10. */
function randomDataset(count: number, channels: number, h: number, w: number, seed: number, name = 'random'): Dataset {
  const rnd = mulberry32(seed);
  const images = new Uint8Array(count * channels * h * w).map(() => rnd() >>> 24);
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { images, labels, count, channels, height: h, width: w, classes: [...SYNTHETIC_CLASSES], name };
}

/** The float64 two-pass mean and population std of channel c over all images. */
function twoPass(ds: Dataset, c: number): { mean: number; std: number } {
  const plane = ds.height * ds.width;
  const vals: number[] = [];
  for (let i = 0; i < ds.count; i++) for (let p = 0; p < plane; p++) vals.push(ds.images[(i * ds.channels + c) * plane + p]);
  const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
  const std = Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length);
  return { mean, std };
}

const collect = (it: Iterable<Batch>) => Array.from(it);

describe('per-channel normalization', () => {
  // 2 images of 3 channels x 2x2. Channel 0: 0, 2, ..., 14 over both images (mean 7, variance 21);
  // channel 1: constant 200; channel 2: 10, 11, 10, 11 (std 0.5, floored to 1).
  const tiny: Dataset = (() => {
    const images = new Uint8Array(2 * 3 * 4);
    for (let i = 0; i < 2; i++) {
      for (let p = 0; p < 4; p++) {
        images[(i * 3 + 0) * 4 + p] = 2 * (i * 4 + p);
        images[(i * 3 + 1) * 4 + p] = 200;
        images[(i * 3 + 2) * 4 + p] = 10 + (p & 1);
      }
    }
    return { images, labels: Uint8Array.of(0, 1), count: 2, channels: 3, height: 2, width: 2, classes: ['a', 'b'], name: 'tiny' };
  })();

  it('channelNorm: the mean and population std of each channel over all images, std floored at 1', () => {
    const n = channelNorm(tiny);
    expect(n.mean).toEqual([7, 200, 10.5]);
    expect(n.std[0]).toBeCloseTo(Math.sqrt(21), 12);
    expect(n.std.slice(1)).toEqual([1, 1]);
  });

  it('channelNorm matches the float64 two-pass formula, channel by channel', () => {
    for (const ds of [small, randomDataset(7, 2, 5, 3, 1)]) {
      const n = channelNorm(ds);
      expect(n.mean.length).toBe(ds.channels);
      for (let c = 0; c < ds.channels; c++) {
        const want = twoPass(ds, c);
        expect(n.mean[c]).toBeCloseTo(want.mean, 9);
        expect(n.std[c]).toBeCloseTo(want.std, 9);
        expect(n.std[c]).toBeGreaterThan(1);
      }
    }
    // Per channel, not one global statistic: the synthetic set's channels differ.
    const n = channelNorm(small);
    expect(new Set(n.mean).size).toBe(3);
  });

  it('normalizeImage is (x - mean[c]) / std[c] for every pixel, and writes only its own image', () => {
    const norm = channelNorm(tiny);
    const dst = new Float32Array(5 + 12 + 3).fill(NaN);
    normalizeImage(tiny.images, 12, dst, 5, 3, 4, norm); // image 1
    expect(Array.from(dst.subarray(0, 5)).every(Number.isNaN)).toBe(true);
    expect(Array.from(dst.subarray(17)).every(Number.isNaN)).toBe(true);
    const s21 = Math.sqrt(21);
    const want = [8, 10, 12, 14].map((v) => (v - 7) / s21).concat([0, 0, 0, 0], [-0.5, 0.5, -0.5, 0.5]);
    for (let k = 0; k < 12; k++) expect(dst[5 + k]).toBeCloseTo(want[k], 6);
    // Every pixel of a few synthetic images against the float64 formula.
    const sn = datasetNorm(small);
    for (const i of [0, 7, 49]) {
      const x = normalized(small, i);
      let worst = 0;
      for (let p = 0; p < IMAGE_NUMEL; p++) {
        const c = Math.floor(p / 1024);
        worst = Math.max(worst, Math.abs(x[p] - (small.images[i * IMAGE_NUMEL + p] - sn.mean[c]) / sn.std[c]));
      }
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('a constant channel becomes zeros, not NaN (std floored at 1); an empty set gives mean 0, std 1', () => {
    const ds = randomDataset(3, 2, 4, 4, 2);
    for (let i = 0; i < 3; i++) ds.images.fill(200, i * 32, i * 32 + 16); // channel 0 of every image
    const n = channelNorm(ds);
    expect([n.mean[0], n.std[0]]).toEqual([200, 1]);
    for (let i = 0; i < 3; i++) {
      const x = normalized(ds, i, n);
      expect(Array.from(x.subarray(0, 16))).toEqual(Array(16).fill(0));
      expect(x.every((v) => Number.isFinite(v))).toBe(true);
      expect(x.subarray(16).some((v) => v !== 0)).toBe(true);
    }
    const empty: Dataset = { ...ds, images: new Uint8Array(0), labels: new Uint8Array(0), count: 0 };
    expect(channelNorm(empty)).toEqual({ mean: [0, 0], std: [1, 1] });
  });

  it('datasetNorm is channelNorm, computed once per dataset object', () => {
    expect(datasetNorm(small)).toBe(datasetNorm(small));
    expect(datasetNorm(small)).toEqual(channelNorm(small));
  });

  it("batches use the norm they are given (the training set's for a test set) and check its channel count", () => {
    const test = smallSplit.test;
    const trainNorm = datasetNorm(small);
    const b = collect(evalBatches(test, 4, trainNorm));
    expect(b.map((x) => x.count)).toEqual([4, 4, 2]);
    for (const x of b) {
      for (let j = 0; j < x.count; j++) {
        const got = x.x.subarray(j * IMAGE_NUMEL, (j + 1) * IMAGE_NUMEL);
        expect(sameBytes(got, normalized(test, x.indices[j], trainNorm))).toBe(true);
        expect(sameBytes(got, normalized(test, x.indices[j]))).toBe(false); // not the test set's own statistics
      }
    }
    expect(() => collect(evalBatches(small, 4, { mean: [0], std: [1] }))).toThrow(/normalization for 1 channels, images have 3/);
  });
});

describe('cropPad', () => {
  it('is round(size / 8), at least 1', () => {
    expect([32, 28, 20, 16, 12, 8, 4, 1].map(cropPad)).toEqual([4, 4, 3, 2, 2, 1, 1, 1]);
  });
});

/** Independent reference: build the zero-padded image, take the window at (dy, dx), then mirror it. */
function refCropFlip(img: Float32Array, p: AugmentParams, channels: number, h: number, w: number, pad: number): Float32Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Float32Array(channels * ph * pw);
  for (let c = 0; c < channels; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) padded[(c * ph + y + pad) * pw + x + pad] = img[(c * h + y) * w + x];
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const cx = p.dx + x;
        out[(c * h + y) * w + (p.flip ? w - 1 - x : x)] = padded[(c * ph + p.dy + y) * pw + cx];
      }
    }
  }
  return out;
}

const CROP_CASES = [
  { name: 'CIFAR 3x32x32, pad 4', channels: 3, h: 32, w: 32, pad: 4 },
  { name: 'Fashion-MNIST 1x28x28, pad 4', channels: 1, h: 28, w: 28, pad: 4 },
  { name: 'resized 1x16x16, pad 2', channels: 1, h: 16, w: 16, pad: 2 },
];

describe.each(CROP_CASES)('crop and flip: $name', ({ channels, h, w, pad }) => {
  const ds = channels === 3 ? small : randomDataset(5, channels, h, w, 100 + h);
  const img = normalized(ds, 3);
  const per = channels * h * w;
  const at = (a: Float32Array, c: number, y: number, x: number) => a[(c * h + y) * w + x];
  const crop = (p: AugmentParams) => {
    const out = new Float32Array(per).fill(NaN);
    cropFlip(img, 0, out, 0, p, channels, h, w, pad);
    return out;
  };

  it('is the pad cropPad gives for this size', () => {
    expect(cropPad(h)).toBe(pad);
  });

  it('the centre crop without flip is the identity; a flip of a flip is the identity', () => {
    expect(noAugment(pad)).toEqual({ dx: pad, dy: pad, flip: false });
    expect(sameBytes(crop(noAugment(pad)), img)).toBe(true);
    const flip = { dx: pad, dy: pad, flip: true };
    const f = crop(flip);
    const ff = new Float32Array(per);
    cropFlip(f, 0, ff, 0, flip, channels, h, w, pad);
    expect(sameBytes(f, img)).toBe(false);
    expect(sameBytes(ff, img)).toBe(true);
    // Mirror: column x <- column w-1-x, in every channel and row.
    for (let c = 0; c < channels; c++) for (const y of [0, 5, h - 1]) for (const x of [0, 1, w - 1]) expect(at(f, c, y, x)).toBe(at(img, c, y, w - 1 - x));
  });

  it('a corner crop shifts the image and pads with zeros', () => {
    // Window at (0, 0): starts `pad` px up-left of the image.
    const out = crop({ dx: 0, dy: 0, flip: false });
    const want = new Float32Array(per);
    for (let c = 0; c < channels; c++) for (let y = pad; y < h; y++) for (let x = pad; x < w; x++) want[(c * h + y) * w + x] = at(img, c, y - pad, x - pad);
    expect(Array.from(out)).toEqual(Array.from(want));
    expect(at(out, 0, pad - 1, w - 1)).toBe(0);
    expect(at(out, channels - 1, pad, pad)).toBe(at(img, channels - 1, 0, 0));
    // Bottom-right window (image rows/cols pad..h+pad-1), then mirrored: the padding lands on the left.
    const br = crop({ dx: 2 * pad, dy: 2 * pad, flip: true });
    expect(at(br, 0, 0, 0)).toBe(0);
    expect(at(br, 0, 0, pad)).toBe(at(img, 0, pad, w - 1));
    expect(at(br, 0, h - pad - 1, w - 1)).toBe(at(img, 0, h - 1, pad));
    expect(at(br, 0, h - pad, w - 1)).toBe(0);
  });

  it('matches the pad-crop-mirror reference for every offset and flip', () => {
    let checked = 0;
    for (let dy = 0; dy <= 2 * pad; dy++) {
      for (let dx = 0; dx <= 2 * pad; dx++) {
        for (const flip of [false, true]) {
          const p = { dx, dy, flip };
          expect(sameBytes(crop(p), refCropFlip(img, p, channels, h, w, pad)), JSON.stringify(p)).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe((2 * pad + 1) ** 2 * 2);
  });

  it('honours srcOff and dstOff and writes only its own image', () => {
    const src = new Float32Array(7 + per);
    src.set(img, 7);
    const dst = new Float32Array(3 + per + 5).fill(NaN);
    const p = { dx: 1, dy: 2 * pad, flip: true };
    cropFlip(src, 7, dst, 3, p, channels, h, w, pad);
    expect(Array.from(dst.subarray(0, 3)).every(Number.isNaN)).toBe(true);
    expect(Array.from(dst.subarray(3 + per)).every(Number.isNaN)).toBe(true);
    expect(sameBytes(dst.subarray(3, 3 + per), refCropFlip(img, p, channels, h, w, pad))).toBe(true);
  });

  it(`augmentParams covers every offset 0..2*pad and flips about half the time`, () => {
    const seenX = new Set<number>();
    const seenY = new Set<number>();
    const combos = new Set<string>();
    let flips = 0;
    for (let i = 0; i < 2000; i++) {
      const p = augmentParams(1, 2, i, pad);
      seenX.add(p.dx);
      seenY.add(p.dy);
      combos.add(`${p.dx},${p.dy},${p.flip}`);
      if (p.flip) flips++;
    }
    const offsets = Array.from({ length: 2 * pad + 1 }, (_, k) => k);
    expect([...seenX].sort((a, b) => a - b)).toEqual(offsets);
    expect([...seenY].sort((a, b) => a - b)).toEqual(offsets);
    expect(combos.size).toBe((2 * pad + 1) ** 2 * 2);
    expect(flips / 2000).toBeGreaterThan(0.45);
    expect(flips / 2000).toBeLessThan(0.55);
    // A pure function of (seed, epoch, index, pad).
    expect(augmentParams(1, 2, 17, pad)).toEqual(augmentParams(1, 2, 17, pad));
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
      expect(x.shape).toEqual([16, 3, 32, 32]);
      expect(x.x.length).toBe(16 * 3 * 32 * 32);
      expect(x.labels.length).toBe(16);
      expect(x.labels).toBeInstanceOf(Float32Array);
    }
    const all = train({ dropLast: false });
    expect(all.map((x) => x.count)).toEqual([16, 16, 16, 2]);
    expect(all[3].shape).toEqual([2, 3, 32, 32]);
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
        cropFlip(normalized(small, i), 0, want, 0, augmentParams(7, 3, i, 4), 3, 32, 32, 4);
        expect(sameBytes(x.x.subarray(j * IMAGE_NUMEL, (j + 1) * IMAGE_NUMEL), want)).toBe(true);
      }
    }
  });

  it('grey images: 1x28x28 crops with pad 4, 1x16x16 with pad 2, shape [N, 1, H, W]', () => {
    for (const [size, pad] of [
      [28, 4],
      [16, 2],
    ]) {
      const ds = randomDataset(20, 1, size, size, size);
      const per = size * size;
      const b = collect(epochBatches(ds, { batchSize: 8, seed: 4, epoch: 1, augment: true, shuffle: true }));
      expect(b.map((x) => x.shape)).toEqual([
        [8, 1, size, size],
        [8, 1, size, size],
        [4, 1, size, size],
      ]);
      const want = new Float32Array(per);
      for (const x of b) {
        expect(x.x.length).toBe(x.count * per);
        for (let j = 0; j < x.count; j++) {
          const i = x.indices[j];
          cropFlip(normalized(ds, i), 0, want, 0, augmentParams(4, 1, i, pad), 1, size, size, pad);
          expect(sameBytes(x.x.subarray(j * per, (j + 1) * per), want)).toBe(true);
        }
      }
      // Without augmentation: the normalized image itself.
      const plain = collect(evalBatches(ds, 8));
      expect(sameBytes(plain[1].x.subarray(0, per), normalized(ds, 8))).toBe(true);
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

  it('evaluation: normalization only, dataset order, every example once, last partial batch kept', () => {
    const b = collect(evalBatches(small, 16));
    expect(b.map((x) => x.count)).toEqual([16, 16, 16, 2]);
    expect(b.flatMap((x) => Array.from(x.indices))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(b.flatMap((x) => Array.from(x.labels))).toEqual(Array.from(small.labels));
    for (const x of b) {
      for (let j = 0; j < x.count; j++) {
        expect(sameBytes(x.x.subarray(j * IMAGE_NUMEL, (j + 1) * IMAGE_NUMEL), normalized(small, x.indices[j]))).toBe(true);
      }
    }
    // Independent of seed/epoch.
    const other = collect(epochBatches(small, { batchSize: 16, seed: 99, epoch: 5, augment: false, shuffle: false }));
    expect(sameBytes(other[1].x, b[1].x)).toBe(true);
  });

  it('rejects a bad batch size and an inconsistent dataset', () => {
    expect(() => collect(evalBatches(small, 0))).toThrow(/batchSize/);
    const bad: Dataset = { ...small, height: 28, width: 28 }; // 3072 bytes per image, not 3*28*28
    expect(() => collect(evalBatches(bad, 4))).toThrow(/50 examples of 3x28x28/);
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
  it('writeSampleGrid: a 1-channel dataset is drawn grey (R = G = B = the pixel)', () => {
    const ds = randomDataset(30, 1, 28, 28, 9, 'grey');
    const dir = freshDir();
    const path = join(dir, 'grey.png');
    const { width, height } = writeSampleGrid(ds, path, { perClass: 3, scale: 1, gap: 1 });
    expect([width, height]).toEqual([3 * 28 + 4, 10 * 28 + 11]);
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([width, height]);
    // Labels are i % 10: image 17 is the second of class 7 (row 7, column 1).
    const px = (x: number, y: number) => Array.from(png.data.subarray((y * width + x) * 4, (y * width + x) * 4 + 4));
    let checked = 0;
    for (const [r, cx] of [
      [0, 0],
      [7, 5],
      [27, 27],
    ]) {
      const v = ds.images[17 * 784 + r * 28 + cx];
      expect(px(1 + 1 * 29 + cx, 1 + 7 * 29 + r)).toEqual([v, v, v, 255]);
      checked++;
    }
    expect(checked).toBe(3);
    // Every cell pixel is grey, and the whole first cell is image 0.
    for (let y = 1; y < 29; y++) for (let x = 1; x < 29; x++) expect(px(x, y)).toEqual(Array(3).fill(ds.images[(y - 1) * 28 + x - 1]).concat(255));
    expect(px(0, 0)).toEqual([40, 40, 40, 255]); // background
  });
});
