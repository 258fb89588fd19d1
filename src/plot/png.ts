// PNG output. Kept apart from raster.ts so the canvas itself stays free of node:fs (browser bundles).
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';
import type { Canvas } from './raster.js';

export function encodePng(canvas: Canvas): Buffer {
  const png = new PNG({ width: canvas.width, height: canvas.height });
  png.data = Buffer.from(canvas.data.buffer, canvas.data.byteOffset, canvas.data.byteLength);
  return PNG.sync.write(png);
}

/** Writes path + '.tmp' then renames, so readers never see a half-written image. Creates parent folders. */
export function savePng(canvas: Canvas, path: string): void {
  const buf = encodePng(canvas);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, buf);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
