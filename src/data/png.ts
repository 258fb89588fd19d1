// PNG output: a generic atomic writer, and a grid of dataset samples (one row per class).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';
import { IMAGE_NUMEL, IMAGE_SIZE, type Dataset } from './cifar.js';

/**
 * Write an RGBA image (width * height * 4 bytes, row-major) as a PNG. Atomic: written to
 * `path + '.tmp'` then renamed, so readers never see a half-written file. Creates parent folders.
 */
export function writePng(path: string, width: number, height: number, rgba: Uint8Array): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`writePng(${path}): bad size ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`writePng(${path}): ${width}x${height} RGBA needs ${width * height * 4} bytes, got ${rgba.length}`);
  }
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  const bytes = PNG.sync.write(png);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = path + '.tmp';
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export interface SampleGridOptions {
  /** Images per row (default 8). */
  perClass?: number;
  /** Pixel replication factor (default 2). */
  scale?: number;
  /** Gap between cells, in output pixels (default 2). */
  gap?: number;
}

/**
 * A grid of the first `perClass` images of each class (rows = classes, in class order), on a
 * dark grey background; a class with fewer images leaves its cells empty. Returns the PNG size.
 */
export function writeSampleGrid(ds: Dataset, path: string, opts: SampleGridOptions = {}): { width: number; height: number } {
  const { perClass = 8, scale = 2, gap = 2 } = opts;
  const rows = ds.classes.length;
  const cell = IMAGE_SIZE * scale;
  const width = perClass * cell + (perClass + 1) * gap;
  const height = rows * cell + (rows + 1) * gap;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = rgba[i + 1] = rgba[i + 2] = 40;
    rgba[i + 3] = 255;
  }
  const filled = new Array<number>(rows).fill(0);
  const plane = IMAGE_SIZE * IMAGE_SIZE;
  for (let i = 0; i < ds.count; i++) {
    const r = ds.labels[i];
    if (r >= rows || filled[r] >= perClass) continue;
    const col = filled[r]++;
    const x0 = gap + col * (cell + gap);
    const y0 = gap + r * (cell + gap);
    const base = i * IMAGE_NUMEL;
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const s = base + Math.floor(y / scale) * IMAGE_SIZE + Math.floor(x / scale);
        const d = ((y0 + y) * width + x0 + x) * 4;
        rgba[d] = ds.images[s];
        rgba[d + 1] = ds.images[s + plane];
        rgba[d + 2] = ds.images[s + 2 * plane];
      }
    }
  }
  writePng(path, width, height, rgba);
  return { width, height };
}
