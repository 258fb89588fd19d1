// The paper's input pipeline: per-image standardization, 4-pixel zero padding with a random 32x32
// crop, random left-right flip; and batching into NCHW float32.
//
// Determinism (what makes resume exact): epoch `e` of a run with seed `s` is a pure function of
// (s, e) and the dataset. The example order is a Fisher-Yates shuffle from mixSeed(s, e, ORDER);
// example i's crop and flip come from mixSeed(s, e, i, AUG), keyed by its dataset index, so they
// do not even depend on the batch size. A run resumed at (epoch e, batch k) with the same seed
// therefore sees exactly the batches the uninterrupted run would have (use `startBatch: k`).
import type { Dataset } from './cifar.js';
import { IMAGE_NUMEL, IMAGE_SIZE, mixSeed, mulberry32, Rng } from './synthetic.js';

export const PAD = 4;
const N = IMAGE_SIZE;
const PLANE = N * N;
const MIN_STD = 1 / Math.sqrt(IMAGE_NUMEL);
const ORDER = 0x0bde12;
const AUG = 0xa06;

/**
 * tf.image.per_image_standardization on one image: (x - mean) / max(std, 1/sqrt(3072)), with x the
 * raw byte values (TF casts uint8 to float without rescaling) and std the population std.
 */
export function standardizeImage(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number): void {
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < IMAGE_NUMEL; i++) {
    const v = src[srcOff + i];
    sum += v;
    sq += v * v;
  }
  const mean = sum / IMAGE_NUMEL;
  const variance = Math.max(sq / IMAGE_NUMEL - mean * mean, 0);
  const inv = 1 / Math.max(Math.sqrt(variance), MIN_STD);
  for (let i = 0; i < IMAGE_NUMEL; i++) dst[dstOff + i] = (src[srcOff + i] - mean) * inv;
}

/** A crop offset into the 40x40 zero-padded image (0..2*PAD on each axis) and a flip. */
export interface AugmentParams {
  dx: number;
  dy: number;
  flip: boolean;
}

/** The identity augmentation: the centre crop, unflipped. */
export const NO_AUGMENT: AugmentParams = { dx: PAD, dy: PAD, flip: false };

/** Crop and flip for example `index` in epoch `epoch`: a pure function of its arguments. */
export function augmentParams(seed: number, epoch: number, index: number): AugmentParams {
  const r = mulberry32(mixSeed(seed, epoch, index, AUG))();
  // 9 * 9 * 2 = 162 outcomes from one draw; the bias of r % 162 is < 4e-8.
  const k = r % 162;
  return { dx: k % 9, dy: Math.floor(k / 9) % 9, flip: k >= 81 };
}

/**
 * out = flip?(crop(pad(src, PAD), dx, dy)) for one CHW float image. Padding is zeros, which is the
 * mean of a standardized image. src and dst must not overlap.
 */
export function cropFlip(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, p: AugmentParams): void {
  const ox = p.dx - PAD;
  const oy = p.dy - PAD;
  for (let c = 0; c < 3; c++) {
    const sBase = srcOff + c * PLANE;
    const dBase = dstOff + c * PLANE;
    for (let y = 0; y < N; y++) {
      const sy = y + oy;
      const dRow = dBase + y * N;
      if (sy < 0 || sy >= N) {
        dst.fill(0, dRow, dRow + N);
        continue;
      }
      const sRow = sBase + sy * N;
      for (let x = 0; x < N; x++) {
        const sx = (p.flip ? N - 1 - x : x) + ox;
        dst[dRow + x] = sx >= 0 && sx < N ? src[sRow + sx] : 0;
      }
    }
  }
}

/** Left-right mirror of one CHW float image. */
export function flipLR(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number): void {
  cropFlip(src, srcOff, dst, dstOff, { dx: PAD, dy: PAD, flip: true });
}

/** The example order of an epoch: identity without shuffle, else a permutation fixed by (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number, shuffle: boolean): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return shuffle ? new Rng(mixSeed(seed, epoch, ORDER)).shuffle(order) : order;
}

export function numBatches(count: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

export interface Batch {
  /** count * 3 * 32 * 32 floats, NCHW. A fresh array per batch, so it may be kept. */
  x: Float32Array;
  /** Class indices as floats. */
  labels: Float32Array;
  /** Images in this batch: batchSize, or fewer for the last batch when dropLast is false. */
  count: number;
  /** Dataset indices of the examples, in batch order. */
  indices: Uint32Array;
  /** Position of this batch in the epoch. */
  batch: number;
}

export interface EpochOptions {
  batchSize: number;
  /** Run seed (default 0). */
  seed?: number;
  /** Epoch number (default 0); with seed, fixes the order and augmentation. */
  epoch?: number;
  /** Random crop + flip after standardization; otherwise standardization only. */
  augment: boolean;
  shuffle: boolean;
  /** Drop the last partial batch (default false). */
  dropLast?: boolean;
  /** Skip to this batch (resume mid-epoch) without computing the skipped ones (default 0). */
  startBatch?: number;
}

/** The batches of one epoch, in order. See the file comment for the determinism guarantee. */
export function* epochBatches(ds: Dataset, opts: EpochOptions): Generator<Batch, void, undefined> {
  const { batchSize, seed = 0, epoch = 0, augment, shuffle, dropLast = false, startBatch = 0 } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(startBatch) || startBatch < 0) throw new RangeError(`startBatch must be a non-negative integer, got ${startBatch}`);
  if (ds.images.length !== ds.count * IMAGE_NUMEL || ds.labels.length !== ds.count) {
    throw new RangeError(`dataset ${ds.name}: ${ds.count} examples but ${ds.images.length} image bytes and ${ds.labels.length} labels`);
  }
  const order = epochOrder(ds.count, seed, epoch, shuffle);
  const total = numBatches(ds.count, batchSize, dropLast);
  const scratch = new Float32Array(IMAGE_NUMEL);
  for (let b = startBatch; b < total; b++) {
    const start = b * batchSize;
    const count = Math.min(batchSize, ds.count - start);
    const x = new Float32Array(count * IMAGE_NUMEL);
    const labels = new Float32Array(count);
    const indices = order.slice(start, start + count);
    for (let j = 0; j < count; j++) {
      const i = indices[j];
      labels[j] = ds.labels[i];
      if (augment) {
        standardizeImage(ds.images, i * IMAGE_NUMEL, scratch, 0);
        cropFlip(scratch, 0, x, j * IMAGE_NUMEL, augmentParams(seed, epoch, i));
      } else {
        standardizeImage(ds.images, i * IMAGE_NUMEL, x, j * IMAGE_NUMEL);
      }
    }
    yield { x, labels, count, indices, batch: b };
  }
}

/** Evaluation: standardization only, dataset order, the last partial batch kept. */
export function evalBatches(ds: Dataset, batchSize: number): Generator<Batch, void, undefined> {
  return epochBatches(ds, { batchSize, augment: false, shuffle: false, dropLast: false });
}
