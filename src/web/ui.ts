// Small DOM helpers for the lab page (browser only; no framework: a dozen elements per view do
// not earn a UI library's bytes). Charts are src/plot drawings blitted into a <canvas>.
import type { Canvas } from '../plot/raster.js';
import { DataFormatError } from '../data/dataset.js';

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** A table from rows of cells (the first row is the header); returns the <table>. */
export function table(rows: string[][], cls = ''): HTMLTableElement {
  const t = el('table', undefined, cls);
  rows.forEach((r, i) => {
    const tr = el('tr');
    for (const c of r) tr.appendChild(el(i === 0 ? 'th' : 'td', c));
    t.appendChild(tr);
  });
  return t;
}

/** Draw a src/plot Canvas into a <canvas> (the same pixels Node writes as PNG); reuses `into`. */
export function blit(c: Canvas, into?: HTMLCanvasElement): HTMLCanvasElement {
  const cv = into ?? el('canvas', undefined, 'chart');
  if (cv.width !== c.width) cv.width = c.width;
  if (cv.height !== c.height) cv.height = c.height;
  const g = cv.getContext('2d')!;
  g.putImageData(new ImageData(new Uint8ClampedArray(c.data.buffer as ArrayBuffer, c.data.byteOffset, c.data.byteLength), c.width, c.height), 0, 0);
  return cv;
}

/** Offer bytes or text as a download named `name`. */
export function download(name: string, parts: BlobPart[], type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob(parts, { type }));
  const a = el('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Let the page paint and handle input (between training steps, benchmark cases). */
export function yieldToPage(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

/** Gunzip in the page (DecompressionStream); errors name the file, as the Node reader's do. */
export async function gunzip(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DataFormatError(`file ${name} starts like gzip but does not decompress (${(e as Error).message}); expected a complete .gz file`);
  }
}

export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}
