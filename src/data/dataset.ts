// A labelled image set in memory, and what every reader shares: the image geometry, the
// per-channel input normalization, subsets and the area-averaged resize. No Node-only APIs here:
// the browser uses the same readers (see src/data/files.ts for the file-access seam).

/** A labelled image set held in memory; every image is CHW bytes of `channels x height x width`. */
export interface Dataset {
  /** count * channels * height * width bytes, each image CHW (one plane per channel). */
  images: Uint8Array;
  /** count labels, each in [0, classes.length). */
  labels: Uint8Array;
  count: number;
  channels: number;
  height: number;
  width: number;
  classes: string[];
  name: string;
}

/**
 * A short hash (FNV-1a, 32 bits, hex) of the images and labels a run sees, after its subset and
 * resize: a checkpoint records it, and a resume on other data is refused whatever the files are
 * called or where they are (a page checkpoint trained on dropped files names no directory).
 */
export function dataHash(d: { train: Dataset; test: Dataset }): string {
  let h = 0x811c9dc5;
  const mix = (bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0;
  };
  for (const s of [d.train, d.test]) {
    mix(new Uint8Array(new Uint32Array([s.count, s.channels, s.height, s.width]).buffer));
    mix(s.images);
    mix(s.labels);
  }
  return h.toString(16).padStart(8, '0');
}

/** A dataset's format problem (bad magic, counts, sizes, labels): the message names the file. */
export class DataFormatError extends Error {
  override name = 'DataFormatError';
}

/** Values per image: channels * height * width. */
export function imageNumel(ds: Pick<Dataset, 'channels' | 'height' | 'width'>): number {
  return ds.channels * ds.height * ds.width;
}

/** The input shape of one image, [C, H, W]. */
export function imageShape(ds: Pick<Dataset, 'channels' | 'height' | 'width'>): [number, number, number] {
  return [ds.channels, ds.height, ds.width];
}

/** Throw unless the arrays hold `count` images of the stated geometry and labels < classes. */
export function checkDataset(ds: Dataset): void {
  const per = imageNumel(ds);
  if (!(ds.channels >= 1 && ds.height >= 1 && ds.width >= 1)) throw new RangeError(`dataset ${ds.name}: bad geometry ${ds.channels}x${ds.height}x${ds.width}`);
  if (ds.images.length !== ds.count * per || ds.labels.length !== ds.count) {
    throw new RangeError(`dataset ${ds.name}: ${ds.count} examples of ${ds.channels}x${ds.height}x${ds.width} but ${ds.images.length} image bytes and ${ds.labels.length} labels`);
  }
}

/** Where Debian's dataset-fashion-mnist package installs the four gzip IDX files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The smallest image side the network takes: its two stride-2 stages halve the image twice. */
export const MIN_IMAGE_SIZE = 4;

/**
 * Refuse images smaller than MIN_IMAGE_SIZE on a side, as they come (native) or resized, as
 * --image-size 1..3 is refused: `where` names the data (--data DIR, dropped files).
 */
export function checkImageSize(ds: Pick<Dataset, 'height' | 'width' | 'name'>, where: string): void {
  if (ds.height >= MIN_IMAGE_SIZE && ds.width >= MIN_IMAGE_SIZE) return;
  throw new DataFormatError(
    `${where}: the images of ${ds.name} are ${ds.height}x${ds.width}, smaller than the ${MIN_IMAGE_SIZE}x${MIN_IMAGE_SIZE} the network needs (its two stride-2 stages halve them twice); resize them with --image-size ${MIN_IMAGE_SIZE} or more`,
  );
}

/** Per-channel input normalization: x' = (x - mean[c]) / std[c], on raw byte values. */
export interface ChannelNorm {
  mean: number[];
  std: number[];
}

/** The per-channel mean and (population) std of a dataset's pixels; std is floored at 1. */
export function channelNorm(ds: Dataset): ChannelNorm {
  const plane = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < ds.count; i++) {
      const base = (i * ds.channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = ds.images[base + p];
        sum += v;
        sq += v * v;
      }
    }
    const n = Math.max(1, ds.count * plane);
    const m = sum / n;
    mean.push(m);
    // Floored so a constant channel (or an empty set) normalizes to zeros, not NaN.
    std.push(Math.max(1, Math.sqrt(Math.max(0, sq / n - m * m))));
  }
  return { mean, std };
}

/** The first `count` examples (a fixed subset: the same on every run). */
export function takeFirst(ds: Dataset, count: number, name = ds.name): Dataset {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`takeFirst: count must be a non-negative integer, got ${count}`);
  if (count >= ds.count) return name === ds.name ? ds : { ...ds, name };
  const per = imageNumel(ds);
  return { ...ds, images: ds.images.slice(0, count * per), labels: ds.labels.slice(0, count), count, name };
}

/**
 * Area-averaged resize to size x size: each output pixel is the mean of the input area it covers,
 * with fractional weights at the edges (28 -> 16 averages 1.75 x 1.75 input pixels). Exact for
 * integer factors; rounds to the nearest byte.
 */
export function resizeDataset(ds: Dataset, size: number): Dataset {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`image size must be a positive integer, got ${size}`);
  if (size === ds.height && size === ds.width) return ds;
  const wy = areaWeights(ds.height, size);
  const wx = areaWeights(ds.width, size);
  const inPlane = ds.height * ds.width;
  const outPlane = size * size;
  const out = new Uint8Array(ds.count * ds.channels * outPlane);
  const rows = new Float64Array(size * ds.width);
  for (let img = 0; img < ds.count * ds.channels; img++) {
    const src = img * inPlane;
    // Rows first: rows[oy][x] = sum over y of wy[oy][y] * in[y][x]; then columns.
    rows.fill(0);
    for (const [oy, y, w] of wy) for (let x = 0; x < ds.width; x++) rows[oy * ds.width + x] += w * ds.images[src + y * ds.width + x];
    const dst = img * outPlane;
    const acc = new Float64Array(outPlane);
    for (let oy = 0; oy < size; oy++) for (const [ox, x, w] of wx) acc[oy * size + ox] += w * rows[oy * ds.width + x];
    for (let p = 0; p < outPlane; p++) out[dst + p] = Math.min(255, Math.round(acc[p]));
  }
  return { ...ds, images: out, height: size, width: size };
}

/** [outIndex, inIndex, weight] triples of a 1-D area resize from n to m samples (weights sum to 1 per output). */
function areaWeights(n: number, m: number): [number, number, number][] {
  const scale = n / m;
  const out: [number, number, number][] = [];
  for (let o = 0; o < m; o++) {
    const lo = o * scale;
    const hi = (o + 1) * scale;
    for (let i = Math.floor(lo); i < Math.min(n, Math.ceil(hi)); i++) {
      const w = Math.min(hi, i + 1) - Math.max(lo, i);
      if (w > 1e-12) out.push([o, i, w / scale]);
    }
  }
  return out;
}
