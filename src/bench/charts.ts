// The benchmark charts, drawn into an RGBA Canvas (src/plot, no node:*): Node writes them as PNG
// (output.ts), the browser page blits the same drawings into a <canvas>.
import { barChart, panels, PALETTE } from '../plot/charts.js';
import { BANDWIDTH_TARGET, CONV_TARGET } from './kernels.js';
import type { KernelBenchResult, KernelEntry } from './report.js';
import type { Spread, StepBenchResult } from './step_report.js';

/**
 * Each kernel's ratio to the adapter's limit, in two panels: memory-bound kernels against the copy
 * at the same size, convolutions against the SGEMM at the same GEMM.
 */
export function kernelChart(r: KernelBenchResult) {
  const chart = (metric: KernelEntry['metric'], what: string) => {
    const ks = r.kernels.filter((k) => k.metric === metric);
    if (!ks.length) return null;
    return barChart({
      title: `${what} (target 0.7) - ${r.adapterName}, batch ${r.config.batch}`,
      yLabel: 'ratio to the limit',
      groups: ks.map((k) => k.name.replace(/[._]/g, ' ')),
      stacks: [{ name: metric === 'GB/s' ? 'GB/s / copy GB/s (same size)' : 'GFLOP/s / SGEMM GFLOP/s (same GEMM)', values: ks.map((k) => k.ratio), color: metric === 'GB/s' ? PALETTE[0] : PALETTE[1] }],
      width: Math.max(1000, 70 * ks.length),
      height: 600,
      segmentLabels: false,
      lines: [{ value: metric === 'GB/s' ? BANDWIDTH_TARGET : CONV_TARGET, label: `target ${metric === 'GB/s' ? BANDWIDTH_TARGET : CONV_TARGET}${metric === 'GB/s' ? '' : ' (forward)'}` }],
    });
  };
  const parts = [chart('GB/s', 'memory-bound kernels vs the vec4 copy'), chart('GFLOP/s', 'convolutions vs the tiled SGEMM')].filter((c): c is NonNullable<typeof c> => c !== null);
  return parts.length === 1 ? parts[0] : panels(parts, 1);
}

/**
 * One bar per variant: the wall time per step with its range over rounds, the GPU time stacked by
 * kernel category (whiskers: the range of the rounds' totals) and the same as shares.
 */
export function stepChart(r: StepBenchResult) {
  const c = r.config;
  const groups = r.variants.map((v) => v.name);
  const title = `WRN-${c.depth}-${c.width} training step, batch ${c.batch}`;
  const range = (s: Spread | null | undefined) => (s ? { lo: s.min, hi: s.max } : null);
  const wall = barChart({
    title: `${title}: wall time (median, range over ${c.rounds ?? 1} rounds)`,
    yLabel: 'ms per step',
    groups,
    stacks: [{ name: 'wall time', values: r.variants.map((v) => v.wallMs) }],
    errors: r.variants.map((v) => range(v.wall)),
    segmentLabels: false,
    unit: 'ms',
    width: 900,
    height: 600,
  });
  if (r.variants.every((v) => v.breakdown)) {
    const stacks = r.categories.map((cat) => ({ name: cat, values: r.variants.map((v) => v.breakdown![cat]) }));
    const abs = barChart({ title: `${title}: GPU time by kernel category`, yLabel: 'ms per step', groups, stacks, unit: 'ms', width: 900, height: 600, errors: r.variants.map((v) => range(v.gpu)) });
    const rel = barChart({ title: `${title}: share of GPU time`, yLabel: '% of step', groups, stacks, normalize: true, width: 900, height: 600 });
    return panels([wall, abs, rel], 2);
  }
  return wall;
}
