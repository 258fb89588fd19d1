// Roofline floors of a training step: each dispatch cannot take less than its bytes over the
// memory bandwidth or its FLOPs over the compute peak, whichever is larger; a category's floor is
// the sum of its dispatches' floors. With the copy bandwidth and the FMA peak measured in the same
// run, floor / measured is a category's efficiency on this adapter; with a named device's published
// peaks, the floors are a projection of what the step could cost there (not a measurement). Pure
// code: the page uses it too.
import { addCost, CATEGORIES, ZERO_COST, type Category, type DispatchCost, type DispatchRecord } from '../gpu/cost.js';

export interface Machine {
  name: string;
  /** bytes per second the memory moves (read + written) */
  bandwidthGBs: number;
  /** fp32 GFLOP/s */
  peakGflops: number;
  /** where the figures come from */
  source: string;
}

/** Published peaks (fp32, no tensor cores; memory bandwidth) of devices a reader may care about. */
export const PUBLISHED_DEVICES: readonly Machine[] = [
  { name: 'NVIDIA H200', bandwidthGBs: 4800, peakGflops: 67_000, source: 'NVIDIA H200 datasheet: 4.8 TB/s HBM3e, 67 TFLOP/s fp32 (SXM)' },
  { name: 'NVIDIA A100', bandwidthGBs: 1560, peakGflops: 19_500, source: 'NVIDIA A100 datasheet: 1.56 TB/s HBM2 (40 GB), 19.5 TFLOP/s fp32' },
  { name: 'NVIDIA RTX 4090', bandwidthGBs: 1008, peakGflops: 82_600, source: 'NVIDIA RTX 4090 specifications: 1.0 TB/s GDDR6X, 82.6 TFLOP/s fp32' },
  { name: 'Apple M2', bandwidthGBs: 100, peakGflops: 3_600, source: 'Apple M2 (10-core GPU): 100 GB/s unified memory, 3.6 TFLOP/s fp32' },
  { name: 'laptop iGPU', bandwidthGBs: 70, peakGflops: 2_000, source: 'a typical integrated laptop GPU: ~70 GB/s shared DDR5, ~2 TFLOP/s fp32' },
];

/** The floor of one dispatch on `m`, in ms. */
export function floorMs(c: DispatchCost, m: Pick<Machine, 'bandwidthGBs' | 'peakGflops'>): number {
  return Math.max((c.read + c.written) / (m.bandwidthGBs * 1e6), c.flops / (m.peakGflops * 1e6));
}

export interface CategoryCost extends DispatchCost {
  dispatches: number;
}

/** The recorded dispatches of one step, summed by category. */
export function costByCategory(records: readonly DispatchRecord[]): Record<Category, CategoryCost> {
  const out = Object.fromEntries(CATEGORIES.map((c) => [c, { ...ZERO_COST, dispatches: 0 }])) as Record<Category, CategoryCost>;
  for (const r of records) {
    const acc = out[r.category];
    out[r.category] = { ...addCost(acc, r.cost), dispatches: acc.dispatches + 1 };
  }
  return out;
}

/** Each category's floor on `m` (ms), dispatch by dispatch. */
export function floorsByCategory(records: readonly DispatchRecord[], m: Pick<Machine, 'bandwidthGBs' | 'peakGflops'>): Record<Category, number> {
  const out = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
  for (const r of records) out[r.category] += floorMs(r.cost, m);
  return out;
}

export const sumOver = (x: Record<Category, number>): number => CATEGORIES.reduce((s, c) => s + x[c], 0);
