// PNG output. Kept apart from raster.ts so the canvas itself stays free of node:fs (browser bundles).
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../util/fsx.js';
import type { Canvas } from './raster.js';

/** Any RGBA raster: a Canvas, or width x height x 4 bytes. */
export type Rgba = Pick<Canvas, 'width' | 'height' | 'data'>;

export function encodePng(canvas: Rgba): Buffer {
  const png = new PNG({ width: canvas.width, height: canvas.height });
  png.data = Buffer.from(canvas.data.buffer, canvas.data.byteOffset, canvas.data.byteLength);
  return PNG.sync.write(png);
}

/** Written atomically (src/util/fsx.ts), so readers never see a half-written image. Creates parent folders. */
export function savePng(canvas: Rgba, path: string): void {
  writeFileAtomic(path, encodePng(canvas));
}
