// The input pipeline: per-channel normalization, zero padding with a random crop back to the
// image size, a random left-right flip; and batching into NCHW float32.
//
// Per dataset (what `wrn train` does): every image is normalized per channel with the training
// set's mean and std; the crop pads by cropPad(size) = round(size / 8) pixels (4 at CIFAR's 32,
// 4 at Fashion-MNIST's 28, 2 at 16); flips apply to every dataset (CIFAR-10's objects and
// Fashion-MNIST's garments are both left-right symmetric classes).
//
// Determinism (what makes resume exact): epoch `e` of a run with seed `s` is a pure function of
// (s, e) and the dataset. The example order is a Fisher-Yates shuffle from mixSeed(s, e, ORDER);
// example i's crop and flip come from mixSeed(s, e, i, AUG), keyed by its dataset index, so they
// do not even depend on the batch size. A run resumed at (epoch e, batch k) with the same seed
// therefore sees exactly the batches the uninterrupted run would have (use `startBatch: k`).
import { channelNorm, checkDataset, imageNumel, type ChannelNorm, type Dataset } from './dataset.js';
import { mixSeed, mulberry32, Rng } from '../util/rng.js';

const ORDER = 0x0bde12;
const AUG = 0xa06;

/** Padding of the random crop for images of this size: 4 at 32 and 28, 2 at 16, 1 at 8. */
export function cropPad(size: number): number {
  return Math.max(1, Math.round(size / 8));
}

/** One CHW image: out = (x - mean[c]) / std[c]. */
export function normalizeImage(src: Uint8Array, srcOff: number, dst: Float32Array, dstOff: number, channels: number, plane: number, norm: ChannelNorm): void {
  for (let c = 0; c < channels; c++) {
    const m = norm.mean[c];
    const inv = 1 / norm.std[c];
    const s = srcOff + c * plane;
    const d = dstOff + c * plane;
    for (let i = 0; i < plane; i++) dst[d + i] = (src[s + i] - m) * inv;
  }
}

/** A crop offset into the zero-padded image (0..2*pad on each axis) and a flip. */
export interface AugmentParams {
  dx: number;
  dy: number;
  flip: boolean;
}

/** The identity augmentation for a crop padding: the centre crop, unflipped. */
export function noAugment(pad: number): AugmentParams {
  return { dx: pad, dy: pad, flip: false };
}

/** Crop and flip for example `index` in epoch `epoch`: a pure function of its arguments. */
export function augmentParams(seed: number, epoch: number, index: number, pad: number): AugmentParams {
  const r = mulberry32(mixSeed(seed, epoch, index, AUG))();
  // (2p+1)^2 * 2 outcomes from one uint32 draw: the bias of r % k is < k / 2^32.
  const side = 2 * pad + 1;
  const k = r % (side * side * 2);
  return { dx: k % side, dy: Math.floor(k / side) % side, flip: k >= side * side };
}

/**
 * out = flip?(crop(pad(src, pad), dx, dy)) for one CHW float image of channels x h x w. Padding is
 * zeros, the mean of a normalized image. src and dst must not overlap.
 */
export function cropFlip(src: Float32Array, srcOff: number, dst: Float32Array, dstOff: number, p: AugmentParams, channels: number, h: number, w: number, pad: number): void {
  const ox = p.dx - pad;
  const oy = p.dy - pad;
  const plane = h * w;
  for (let c = 0; c < channels; c++) {
    const sBase = srcOff + c * plane;
    const dBase = dstOff + c * plane;
    for (let y = 0; y < h; y++) {
      const sy = y + oy;
      const dRow = dBase + y * w;
      if (sy < 0 || sy >= h) {
        dst.fill(0, dRow, dRow + w);
        continue;
      }
      const sRow = sBase + sy * w;
      for (let x = 0; x < w; x++) {
        const sx = (p.flip ? w - 1 - x : x) + ox;
        dst[dRow + x] = sx >= 0 && sx < w ? src[sRow + sx] : 0;
      }
    }
  }
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
  /** count * C * H * W floats, NCHW. A fresh array per batch, so it may be kept. */
  x: Float32Array;
  /** [count, C, H, W]. */
  shape: [number, number, number, number];
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
  /** Random crop + flip after normalization; otherwise normalization only. */
  augment: boolean;
  shuffle: boolean;
  /** Drop the last partial batch (default false). */
  dropLast?: boolean;
  /** Skip to this batch (resume mid-epoch) without computing the skipped ones (default 0). */
  startBatch?: number;
  /** Per-channel normalization (default: this dataset's own statistics; pass the training set's for a test set). */
  norm?: ChannelNorm;
}

const normCache = new WeakMap<Dataset, ChannelNorm>();

/** channelNorm(ds), computed once per dataset object. */
export function datasetNorm(ds: Dataset): ChannelNorm {
  let n = normCache.get(ds);
  if (!n) normCache.set(ds, (n = channelNorm(ds)));
  return n;
}

/** The batches of one epoch, in order. See the file comment for the determinism guarantee. */
export function* epochBatches(ds: Dataset, opts: EpochOptions): Generator<Batch, void, undefined> {
  const { batchSize, seed = 0, epoch = 0, augment, shuffle, dropLast = false, startBatch = 0 } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(startBatch) || startBatch < 0) throw new RangeError(`startBatch must be a non-negative integer, got ${startBatch}`);
  checkDataset(ds);
  const norm = opts.norm ?? datasetNorm(ds);
  if (norm.mean.length !== ds.channels || norm.std.length !== ds.channels) throw new RangeError(`dataset ${ds.name}: normalization for ${norm.mean.length} channels, images have ${ds.channels}`);
  const per = imageNumel(ds);
  const plane = ds.height * ds.width;
  const pad = cropPad(Math.min(ds.height, ds.width));
  const order = epochOrder(ds.count, seed, epoch, shuffle);
  const total = numBatches(ds.count, batchSize, dropLast);
  const scratch = new Float32Array(per);
  for (let b = startBatch; b < total; b++) {
    const start = b * batchSize;
    const count = Math.min(batchSize, ds.count - start);
    const x = new Float32Array(count * per);
    const labels = new Float32Array(count);
    const indices = order.slice(start, start + count);
    for (let j = 0; j < count; j++) {
      const i = indices[j];
      labels[j] = ds.labels[i];
      if (augment) {
        normalizeImage(ds.images, i * per, scratch, 0, ds.channels, plane, norm);
        cropFlip(scratch, 0, x, j * per, augmentParams(seed, epoch, i, pad), ds.channels, ds.height, ds.width, pad);
      } else {
        normalizeImage(ds.images, i * per, x, j * per, ds.channels, plane, norm);
      }
    }
    yield { x, shape: [count, ds.channels, ds.height, ds.width], labels, count, indices, batch: b };
  }
}

/** Evaluation: normalization only, dataset order, the last partial batch kept. */
export function evalBatches(ds: Dataset, batchSize: number, norm?: ChannelNorm): Generator<Batch, void, undefined> {
  return epochBatches(ds, { batchSize, augment: false, shuffle: false, dropLast: false, norm });
}
