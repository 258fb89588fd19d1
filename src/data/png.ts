// PNG output: a generic atomic writer, and a grid of dataset samples (one row per class).
import { savePng } from '../plot/png.js';
import { imageNumel, type Dataset } from './dataset.js';

/** Write an RGBA image (width * height * 4 bytes, row-major) as a PNG, atomically (plot/png.ts's savePng). */
export function writePng(path: string, width: number, height: number, rgba: Uint8Array): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`writePng(${path}): bad size ${width}x${height}`);
  }
  if (rgba.length !== width * height * 4) {
    throw new RangeError(`writePng(${path}): ${width}x${height} RGBA needs ${width * height * 4} bytes, got ${rgba.length}`);
  }
  savePng({ width, height, data: rgba }, path);
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
  const cellW = ds.width * scale;
  const cellH = ds.height * scale;
  const width = perClass * cellW + (perClass + 1) * gap;
  const height = rows * cellH + (rows + 1) * gap;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = rgba[i + 1] = rgba[i + 2] = 40;
    rgba[i + 3] = 255;
  }
  const filled = new Array<number>(rows).fill(0);
  const plane = ds.height * ds.width;
  // Grey images (one channel) show the same plane in R, G and B.
  const g = ds.channels >= 3 ? plane : 0;
  const b = ds.channels >= 3 ? 2 * plane : 0;
  for (let i = 0; i < ds.count; i++) {
    const r = ds.labels[i];
    if (r >= rows || filled[r] >= perClass) continue;
    const col = filled[r]++;
    const x0 = gap + col * (cellW + gap);
    const y0 = gap + r * (cellH + gap);
    const base = i * imageNumel(ds);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const s = base + Math.floor(y / scale) * ds.width + Math.floor(x / scale);
        const d = ((y0 + y) * width + x0 + x) * 4;
        rgba[d] = ds.images[s];
        rgba[d + 1] = ds.images[s + g];
        rgba[d + 2] = ds.images[s + b];
      }
    }
  }
  writePng(path, width, height, rgba);
  return { width, height };
}
