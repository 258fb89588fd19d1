import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  CIFAR10_CLASSES,
  CIFAR_RECORD_BYTES,
  channelNorm,
  DataFormatError,
  FASHION_MNIST_CLASSES,
  IDX_FILES,
  memoryFiles,
  parseIdx,
  readFashionMnist,
  resizeDataset,
  takeFirst,
  type Dataset,
} from '../src/data/index.js';
import { detectDirectory, FASHION_MNIST_DIR, loadDataset } from '../src/data/load.js';
import { directoryFiles } from '../src/data/node_files.js';
import { sameBytes, scratchDirs } from './helpers/files.js';

const freshDir = scratchDirs('wrn-idx-');

// ---- writing IDX files ------------------------------------------------------------------------------

/** An IDX file: magic (0, 0, type, dims.length), big-endian u32 dims, then the values. */
function idx(dims: number[], data: Uint8Array, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

// A tiny Fashion-MNIST: 5 train and 3 test images of 4 rows x 3 columns.
const ROWS = 4;
const COLS = 3;
const TRAIN_LABELS = [3, 0, 9, 1, 7];
const TEST_LABELS = [2, 8, 5];
const pixels = (count: number, salt: number) => Uint8Array.from({ length: count * ROWS * COLS }, (_, k) => (k * 37 + salt * 101 + 5) & 255);
const TRAIN_PIXELS = pixels(5, 0);
const TEST_PIXELS = pixels(3, 1);

type IdxName = keyof typeof IDX_FILES;
const validFiles = (): Record<IdxName, Uint8Array> => ({
  trainImages: idx([5, ROWS, COLS], TRAIN_PIXELS),
  trainLabels: idx([5], Uint8Array.from(TRAIN_LABELS)),
  testImages: idx([3, ROWS, COLS], TEST_PIXELS),
  testLabels: idx([3], Uint8Array.from(TEST_LABELS)),
});

/** Write the four files (gzipped as `name.gz`, or plain), with some replaced; returns the directory. */
function writeIdxDir(opts: { gzip?: boolean; replace?: Partial<Record<IdxName, Uint8Array>>; omit?: IdxName[] } = {}): string {
  const { gzip = true, replace = {}, omit = [] } = opts;
  const dir = freshDir('fashion');
  const files = { ...validFiles(), ...replace };
  for (const key of Object.keys(IDX_FILES) as IdxName[]) {
    if (omit.includes(key)) continue;
    const name = IDX_FILES[key] + (gzip ? '.gz' : '');
    writeFileSync(join(dir, name), gzip ? gzipSync(files[key]) : files[key]);
  }
  return dir;
}

/** The path of one of the four files in a directory written by writeIdxDir. */
const pathOf = (dir: string, key: IdxName, gzip = true) => join(dir, IDX_FILES[key] + (gzip ? '.gz' : ''));

/** The error `fn` throws (the test fails if it returns). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, none was thrown');
}

/** Expect a DataFormatError whose message contains every string / matches every pattern. */
function expectFormatError(fn: () => unknown, ...parts: (string | RegExp)[]): string {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(DataFormatError);
  expect(e.name).toBe('DataFormatError');
  for (const p of parts) {
    if (typeof p === 'string') expect(e.message).toContain(p);
    else expect(e.message).toMatch(p);
  }
  return e.message;
}

const load = (source: string, trainCount = 0, testCount = 0, imageSize = 0) => loadDataset({ source, trainCount, testCount, imageSize }, 0);

function expectTinyFashion(train: Dataset, test: Dataset): void {
  expect([train.count, train.channels, train.height, train.width]).toEqual([5, 1, ROWS, COLS]);
  expect([test.count, test.channels, test.height, test.width]).toEqual([3, 1, ROWS, COLS]);
  expect(sameBytes(train.images, TRAIN_PIXELS)).toBe(true);
  expect(sameBytes(test.images, TEST_PIXELS)).toBe(true);
  expect(Array.from(train.labels)).toEqual(TRAIN_LABELS);
  expect(Array.from(test.labels)).toEqual(TEST_LABELS);
  expect(train.classes).toEqual(FASHION_MNIST_CLASSES);
  expect(test.classes).toEqual(FASHION_MNIST_CLASSES);
  expect(train.classes.length).toBe(10);
  expect([train.name, test.name]).toEqual(['fashion-mnist-train', 'fashion-mnist-test']);
  // A known pixel: train image 2, row 3, column 1 (HW row-major).
  expect(train.images[2 * 12 + 3 * 3 + 1]).toBe(((2 * 12 + 3 * 3 + 1) * 37 + 5) & 255);
}

// ---- reading ------------------------------------------------------------------------------------------

describe('IDX reader: a valid Fashion-MNIST directory', () => {
  for (const gzip of [true, false]) {
    it(`loads exactly (${gzip ? 'gzipped' : 'uncompressed'}) through readFashionMnist(directoryFiles(dir)) and loadDataset`, () => {
      const dir = writeIdxDir({ gzip });
      const direct = readFashionMnist(directoryFiles(dir));
      expectTinyFashion(direct.train, direct.test);
      expect(detectDirectory(dir)).toBe('idx');
      const loaded = load(dir);
      expectTinyFashion(loaded.train, loaded.test);
      expect(loaded.note).toBe('fashion-mnist: 5 train / 3 test images of 1x4x3');
    });
  }

  it('mixes gzipped and plain files', () => {
    const dir = writeIdxDir({ gzip: true, omit: ['testImages', 'trainLabels'] });
    writeFileSync(pathOf(dir, 'testImages', false), validFiles().testImages);
    writeFileSync(pathOf(dir, 'trainLabels', false), validFiles().trainLabels);
    const { train, test } = readFashionMnist(directoryFiles(dir));
    expectTinyFashion(train, test);
  });

  it('memoryFiles (dropped files) reads the same bytes, gunzipping .gz', () => {
    const files = new Map<string, Uint8Array>();
    const v = validFiles();
    for (const key of Object.keys(IDX_FILES) as IdxName[]) files.set(IDX_FILES[key] + (key === 'testLabels' ? '' : '.gz'), key === 'testLabels' ? v[key] : gzipSync(v[key]));
    const gunzipped: string[] = [];
    const mem = memoryFiles('dropped files', files, (b, name) => {
      gunzipped.push(name);
      return new Uint8Array(gunzipSync(b));
    });
    const { train, test } = readFashionMnist(mem);
    expectTinyFashion(train, test);
    expect(gunzipped.sort()).toEqual(['t10k-images-idx3-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz']);
    // Errors name the file and where it came from.
    files.set('t10k-labels-idx1-ubyte', idx([3], Uint8Array.of(2, 8, 10)));
    expectFormatError(() => readFashionMnist(mem), 't10k-labels-idx1-ubyte (dropped files)', 'label 2 is 10');
  });

  it('loadDataset takes the first trainCount / testCount images and resizes to imageSize', () => {
    const dir = writeIdxDir();
    const { train, test, note } = load(dir, 2, 1, 2);
    expect([train.count, test.count]).toEqual([2, 1]);
    expect([train.channels, train.height, train.width, test.height, test.width]).toEqual([1, 2, 2, 2, 2]);
    expect(Array.from(train.labels)).toEqual(TRAIN_LABELS.slice(0, 2));
    expect(Array.from(test.labels)).toEqual(TEST_LABELS.slice(0, 1));
    expect(note).toBe('fashion-mnist: 2 train / 1 test images of 1x2x2 (area-averaged resize)');
    const sub = load(dir, 3, 2);
    expect(sameBytes(sub.train.images, TRAIN_PIXELS.subarray(0, 3 * 12))).toBe(true);
    expect(sameBytes(sub.test.images, TEST_PIXELS.subarray(0, 2 * 12))).toBe(true);
  });
});

// ---- format errors -----------------------------------------------------------------------------------

const IMAGE_EXPECTED = 'expected an IDX image file (magic 0x00000803: unsigned bytes, 3 dimensions [count, rows, cols])';
const LABEL_EXPECTED = 'expected an IDX label file (magic 0x00000801: unsigned bytes, 1 dimension [count])';

describe('IDX reader: every format error is a DataFormatError naming the file and what was expected', () => {
  const good = validFiles();
  const cases: { name: string; key: IdxName; bytes: Uint8Array; parts: (string | RegExp)[] }[] = [
    {
      name: 'bad magic',
      key: 'trainImages',
      bytes: Uint8Array.of(0x12, 0x34, 0x08, 0x03, ...good.trainImages.subarray(4)),
      parts: ['bad magic number 0x12340803 (not an IDX file)', IMAGE_EXPECTED],
    },
    {
      name: 'value type not unsigned byte (0x0d = float)',
      key: 'testImages',
      bytes: idx([3, ROWS, COLS], TEST_PIXELS, 0x0d),
      parts: ['value type 0x0d is not unsigned byte (0x08)', IMAGE_EXPECTED],
    },
    {
      name: 'wrong number of dimensions (a 2-D image file)',
      key: 'trainImages',
      bytes: idx([5, ROWS * COLS], TRAIN_PIXELS),
      parts: ['2 dimensions (magic 0x00000802)', IMAGE_EXPECTED],
    },
    {
      name: 'wrong number of dimensions (a 3-D label file)',
      key: 'trainLabels',
      bytes: idx([5, 1, 1], Uint8Array.from(TRAIN_LABELS)),
      parts: ['3 dimensions (magic 0x00000803)', LABEL_EXPECTED],
    },
    {
      name: 'truncated data',
      key: 'trainImages',
      bytes: good.trainImages.subarray(0, good.trainImages.length - 1),
      parts: ['dimensions [5, 4, 3] need 60 values after the 16-byte header, the file has 59 (truncated)', IMAGE_EXPECTED],
    },
    {
      name: 'trailing bytes',
      key: 'testLabels',
      bytes: Uint8Array.of(...good.testLabels, 0, 0),
      parts: ['dimensions [3] need 3 values after the 8-byte header, the file has 5 (trailing bytes)', LABEL_EXPECTED],
    },
    {
      name: 'a zero dimension',
      key: 'testImages',
      bytes: idx([3, 0, COLS], new Uint8Array(0)),
      parts: ['a zero dimension in [3, 0, 3]', IMAGE_EXPECTED],
    },
    {
      name: 'header shorter than its dimensions need',
      key: 'trainImages',
      bytes: good.trainImages.subarray(0, 10),
      parts: ['header needs 16 bytes, the file has 10', IMAGE_EXPECTED],
    },
    {
      name: 'shorter than the magic number',
      key: 'trainLabels',
      bytes: Uint8Array.of(0, 0),
      parts: ['only 2 bytes', LABEL_EXPECTED],
    },
  ];

  for (const gzip of [true, false]) {
    for (const c of cases) {
      it(`${c.name} (${gzip ? 'gzipped' : 'uncompressed'})`, () => {
        const dir = writeIdxDir({ gzip, replace: { [c.key]: c.bytes } });
        const path = pathOf(dir, c.key, gzip);
        const msg = expectFormatError(() => readFashionMnist(directoryFiles(dir)), `IDX file ${path}: `, ...c.parts);
        expect(msg.startsWith(`IDX file ${path}: `)).toBe(true);
        // loadDataset on the directory reports the same error.
        expect(thrown(() => load(dir)).message).toBe(msg);
      });
    }
  }

  it('parseIdx alone: the same checks, naming the file it is given', () => {
    expect(parseIdx(good.trainImages, 'x', 3).dims).toEqual([5, ROWS, COLS]);
    expect(sameBytes(parseIdx(good.trainImages, 'x', 3).data, TRAIN_PIXELS)).toBe(true);
    for (const c of cases) expectFormatError(() => parseIdx(c.bytes, 'some/file.idx', c.key.endsWith('Images') ? 3 : 1), 'IDX file some/file.idx: ', ...c.parts);
  });

  it('image / label count mismatch names both files', () => {
    const dir = writeIdxDir({ replace: { trainLabels: idx([4], Uint8Array.from(TRAIN_LABELS.slice(0, 4))) } });
    expectFormatError(
      () => readFashionMnist(directoryFiles(dir)),
      `IDX files ${pathOf(dir, 'trainImages')} and ${pathOf(dir, 'trainLabels')}: 5 images but 4 labels; expected one label per image`,
    );
  });

  it('a label >= 10 names the file, the index and the value', () => {
    const dir = writeIdxDir({ gzip: false, replace: { testLabels: idx([3], Uint8Array.of(2, 8, 10)) } });
    expectFormatError(() => readFashionMnist(directoryFiles(dir)), `IDX file ${pathOf(dir, 'testLabels', false)}: label 2 is 10, expected a class index below 10`);
    const dir255 = writeIdxDir({ replace: { trainLabels: idx([5], Uint8Array.of(3, 255, 9, 1, 7)) } });
    expectFormatError(() => load(dir255), `IDX file ${pathOf(dir255, 'trainLabels')}: label 1 is 255`);
  });

  it('train / test image size mismatch names the directory and both sizes', () => {
    const dir = writeIdxDir({ replace: { testImages: idx([3, ROWS, ROWS], new Uint8Array(3 * ROWS * ROWS)) } });
    expectFormatError(() => readFashionMnist(directoryFiles(dir)), `IDX directory ${dir}: train images are 4x3 but test images 4x4; expected one image size`);
  });

  it('a missing file: the message lists the missing name (only it) and the four expected files', () => {
    const dir = writeIdxDir({ omit: ['testLabels'] });
    const msg = expectFormatError(
      () => readFashionMnist(directoryFiles(dir)),
      `IDX directory ${dir} is missing t10k-labels-idx1-ubyte[.gz]; expected the four Fashion-MNIST files`,
      'train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz',
    );
    expect(msg).not.toContain('missing train-images');
    expect(thrown(() => load(dir)).message).toBe(msg);
    const two = writeIdxDir({ gzip: false, omit: ['trainImages', 'testImages'] });
    expectFormatError(() => load(two), `is missing train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz];`);
  });

  it('a corrupt .gz (gzip magic, then garbage) or a cut-off .gz names the file', () => {
    const dir = writeIdxDir();
    const path = pathOf(dir, 'trainImages');
    writeFileSync(path, Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    expectFormatError(() => readFashionMnist(directoryFiles(dir)), `file ${path} starts like gzip but does not decompress`, 'expected a complete .gz file');
    expectFormatError(() => load(dir), `file ${path} starts like gzip`);
    const gz = gzipSync(validFiles().testImages);
    const cut = pathOf(dir, 'testImages');
    writeFileSync(path, gzipSync(validFiles().trainImages)); // repair the first
    writeFileSync(cut, gz.subarray(0, gz.length - 6));
    expectFormatError(() => load(dir), `file ${cut} starts like gzip but does not decompress`);
  });
});

// ---- directory detection and loadDataset --------------------------------------------------------------

// CIFAR-10 binaries: 3 records of 3073 bytes per file, as in test/data.test.ts.
const CIFAR_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
const cifarLabel = (f: number, r: number) => (f * 3 + r) % 10;
function cifarFile(f: number, records = 3): Uint8Array {
  const buf = new Uint8Array(records * CIFAR_RECORD_BYTES);
  for (let r = 0; r < records; r++) {
    const off = r * CIFAR_RECORD_BYTES;
    buf[off] = cifarLabel(f, r);
    for (let p = 0; p < 3072; p++) buf[off + 1 + p] = (f * 31 + r * 7 + p) & 255;
  }
  return buf;
}
function writeCifar(dir: string): string {
  CIFAR_FILES.forEach((name, f) => writeFileSync(join(dir, name), cifarFile(f)));
  return dir;
}

describe('detectDirectory', () => {
  it("tells IDX ('idx') from CIFAR-10 binaries ('cifar10') by content", () => {
    expect(detectDirectory(writeIdxDir())).toBe('idx');
    expect(detectDirectory(writeIdxDir({ gzip: false }))).toBe('idx');
    // Plain IDX files under other names are still recognised by their magic.
    const renamed = freshDir();
    writeFileSync(join(renamed, 'images.idx'), validFiles().trainImages);
    expect(detectDirectory(renamed)).toBe('idx');
    expect(detectDirectory(writeCifar(freshDir()))).toBe('cifar10');
    const nested = freshDir();
    mkdirSync(join(nested, 'cifar-10-batches-bin'));
    writeCifar(join(nested, 'cifar-10-batches-bin'));
    expect(detectDirectory(nested)).toBe('cifar10');
  });

  it('a missing path, a file, and a directory of unrelated files: DataFormatError naming the path', () => {
    const missing = join(freshDir(), 'no-such-data');
    expectFormatError(() => detectDirectory(missing), `--data ${missing}: no such directory`, 'expected');
    expectFormatError(() => load(missing), `--data ${missing}: no such directory`);
    const file = join(freshDir(), 'train-images-idx3-ubyte.gz');
    writeFileSync(file, gzipSync(validFiles().trainImages));
    expectFormatError(() => detectDirectory(file), `--data ${file}: not a directory`, 'expected a directory of Fashion-MNIST IDX files');
    const other = freshDir();
    writeFileSync(join(other, 'readme.txt'), 'hello');
    writeFileSync(join(other, 'weights.bin'), new Uint8Array(100));
    const msg = expectFormatError(() => detectDirectory(other), `--data ${other}: holds neither IDX files`, 'nor CIFAR-10 binary files', 'readme.txt', 'weights.bin');
    expect(msg).toMatch(/found (readme\.txt, weights\.bin|weights\.bin, readme\.txt)$/);
    expectFormatError(() => load(other), `--data ${other}: holds neither`);
    expectFormatError(() => detectDirectory(freshDir()), 'found no files');
  });
});

describe('loadDataset', () => {
  it('CIFAR-10 directory: all records by default, first trainCount / testCount when asked', () => {
    const dir = writeCifar(freshDir());
    const all = load(dir);
    expect([all.train.count, all.test.count]).toEqual([15, 3]);
    expect([all.train.channels, all.train.height, all.train.width]).toEqual([3, 32, 32]);
    expect(all.train.classes).toEqual(CIFAR10_CLASSES);
    expect(all.note).toBe('cifar10: 15 train / 3 test images of 3x32x32');
    const some = load(dir, 4, 2);
    expect([some.train.count, some.test.count]).toEqual([4, 2]);
    expect(Array.from(some.test.labels)).toEqual([cifarLabel(5, 0), cifarLabel(5, 1)]);
    expect(some.test.images.length).toBe(2 * 3072);
    expect(sameBytes(some.test.images.subarray(3072), cifarFile(5).subarray(CIFAR_RECORD_BYTES + 1, 2 * CIFAR_RECORD_BYTES))).toBe(true);
    expect(Array.from(some.train.labels)).toEqual([0, 1, 2, 3]);
    expect(load(dir, 0, 1).test.count).toBe(1);
    expect(load(dir, 0, 1).train.count).toBe(15);
    const resized = load(dir, 2, 1, 16);
    expect([resized.train.channels, resized.train.height, resized.train.width, resized.test.height]).toEqual([3, 16, 16, 16]);
  });

  it('synthetic: the requested counts of 3x32x32 images', () => {
    const { train, test, note } = load('synthetic', 30, 10);
    expect([train.count, test.count, train.channels, train.height, train.width]).toEqual([30, 10, 3, 32, 32]);
    expect(note).toBe('synthetic: 30 train / 10 test images of 3x32x32');
  });

  it.runIf(!existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`))("'fashion-mnist' when it is not installed says how to install it", () => {
    expectFormatError(() => load('fashion-mnist'), FASHION_MNIST_DIR, 'apt install dataset-fashion-mnist');
  });

  it.runIf(existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`))("the real Fashion-MNIST (Debian's package): 60000 -> first 1000 train, 500 test, 1x28x28", () => {
    const full = readFashionMnist(directoryFiles(FASHION_MNIST_DIR));
    expect([full.train.count, full.test.count]).toEqual([60000, 10000]);
    const { train, test, note } = loadDataset({ source: 'fashion-mnist', trainCount: 1000, testCount: 500, imageSize: 0 }, 0);
    expect([train.count, test.count]).toEqual([1000, 500]);
    for (const d of [train, test]) expect([d.channels, d.height, d.width, d.images.length]).toEqual([1, 28, 28, d.count * 784]);
    expect(note).toBe('fashion-mnist: 1000 train / 500 test images of 1x28x28');
    expect(sameBytes(train.images, full.train.images.subarray(0, 1000 * 784))).toBe(true);
    expect(sameBytes(test.labels, full.test.labels.subarray(0, 500))).toBe(true);
    for (const d of [train, test]) {
      expect(d.labels.every((l) => l < 10)).toBe(true);
      expect(new Set(d.labels).size).toBe(10);
    }
    // The well-known statistics of the training set: mean 0.2860 and std 0.3530 of 255.
    const n = channelNorm(full.train);
    expect(n.mean[0] / 255).toBeCloseTo(0.286, 3);
    expect(n.std[0] / 255).toBeCloseTo(0.353, 3);
  });
});

// ---- resize and subsets ----------------------------------------------------------------------------------

/** `count` images of channels x size x size from `pixel(i, c, y, x)`. */
function makeImages(count: number, channels: number, size: number, pixel: (i: number, c: number, y: number, x: number) => number): Dataset {
  const images = new Uint8Array(count * channels * size * size);
  for (let i = 0; i < count; i++) for (let c = 0; c < channels; c++) for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) images[((i * channels + c) * size + y) * size + x] = pixel(i, c, y, x);
  return { images, labels: Uint8Array.from({ length: count }, (_, i) => (i * 3) % 10), count, channels, height: size, width: size, classes: [...FASHION_MNIST_CLASSES], name: 'pattern' };
}

const meanOf = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;

describe('resizeDataset', () => {
  it('28 -> 14 is the exact 2x2 block mean (rounded), per image and channel', () => {
    const ds = makeImages(2, 2, 28, (i, c, y, x) => (i * 91 + c * 57 + y * y * 3 + x * 11 + ((x * y) % 7)) & 255);
    const r = resizeDataset(ds, 14);
    expect([r.count, r.channels, r.height, r.width, r.images.length]).toEqual([2, 2, 14, 14, 2 * 2 * 196]);
    expect(r.labels).toBe(ds.labels);
    let checked = 0;
    for (let i = 0; i < 2; i++) {
      for (let c = 0; c < 2; c++) {
        for (let y = 0; y < 14; y++) {
          for (let x = 0; x < 14; x++) {
            const at = (yy: number, xx: number) => ds.images[((i * 2 + c) * 28 + yy) * 28 + xx];
            const want = Math.round((at(2 * y, 2 * x) + at(2 * y, 2 * x + 1) + at(2 * y + 1, 2 * x) + at(2 * y + 1, 2 * x + 1)) / 4);
            expect(r.images[((i * 2 + c) * 14 + y) * 14 + x]).toBe(want);
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(784);
    // A 0/255 checkerboard averages to 127.5 in every block, rounded to 128.
    const board = resizeDataset(makeImages(1, 1, 28, (_i, _c, y, x) => ((x + y) & 1 ? 255 : 0)), 14);
    expect(Array.from(board.images)).toEqual(Array(196).fill(128));
  });

  it('28 -> 16 keeps a constant image exactly and a random image\'s mean within 0.5', () => {
    const flat = resizeDataset(makeImages(1, 1, 28, () => 77), 16);
    expect([flat.height, flat.width]).toEqual([16, 16]);
    expect(Array.from(flat.images)).toEqual(Array(256).fill(77));
    const white = resizeDataset(makeImages(1, 1, 28, () => 255), 16);
    expect(white.images.every((v) => v === 255)).toBe(true);
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
    const noisy = makeImages(3, 1, 28, () => rnd());
    const r = resizeDataset(noisy, 16);
    expect(r.images.length).toBe(3 * 256);
    expect(Math.abs(meanOf(r.images) - meanOf(noisy.images))).toBeLessThan(0.5);
    for (let i = 0; i < 3; i++) expect(Math.abs(meanOf(r.images.subarray(i * 256, (i + 1) * 256)) - meanOf(noisy.images.subarray(i * 784, (i + 1) * 784)))).toBeLessThan(0.5);
    // Averaging smooths: the resized noise has a smaller spread than the input.
    const spread = (a: Uint8Array) => Math.sqrt(a.reduce((t, v) => t + (v - meanOf(a)) ** 2, 0) / a.length);
    expect(spread(r.images)).toBeLessThan(spread(noisy.images));
  });

  it('upsampling 2 -> 4 replicates each pixel into a 2x2 block', () => {
    const ds = makeImages(1, 1, 2, (_i, _c, y, x) => [10, 20, 30, 40][y * 2 + x]);
    expect(Array.from(resizeDataset(ds, 4).images)).toEqual([10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40]);
  });

  it('the same size returns the same object; a bad size throws', () => {
    const ds = makeImages(2, 1, 28, (i, _c, y, x) => i + y + x);
    expect(resizeDataset(ds, 28)).toBe(ds);
    for (const bad of [0, -4, 2.5, NaN, Infinity]) expect(() => resizeDataset(ds, bad)).toThrow(/image size must be a positive integer/);
  });
});

describe('takeFirst', () => {
  it('keeps the first N images and labels exactly', () => {
    const ds = makeImages(6, 2, 3, (i, c, y, x) => i * 40 + c * 9 + y * 3 + x);
    const t = takeFirst(ds, 4);
    expect([t.count, t.channels, t.height, t.width, t.name]).toEqual([4, 2, 3, 3, 'pattern']);
    expect(sameBytes(t.images, ds.images.subarray(0, 4 * 18))).toBe(true);
    expect(Array.from(t.labels)).toEqual(Array.from(ds.labels.subarray(0, 4)));
    expect(t.classes).toEqual(ds.classes);
    // A copy: changing the subset leaves the source alone.
    t.images[0] = 255;
    expect(ds.images[0]).toBe(0);
    expect(takeFirst(ds, 0).count).toBe(0);
    expect(takeFirst(ds, 0).images.length).toBe(0);
    expect(takeFirst(ds, 6)).toBe(ds);
    expect(takeFirst(ds, 99)).toBe(ds);
    expect(takeFirst(ds, 2, 'two').name).toBe('two');
  });
});
