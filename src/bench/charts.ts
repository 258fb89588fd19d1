// The benchmark charts, drawn into an RGBA Canvas (src/plot, no node:*): Node writes them as PNG
// (output.ts) at the sizes below; the browser page draws the same parts, each at its own width
// (src/web/chart.ts), from kernelChartParts / stepChartParts.
import { barChart, panels, PALETTE, type BarChartOptions } from '../plot/charts.js';
import { BANDWIDTH_TARGET, CONV_TARGET } from './kernels.js';
import type { KernelBenchResult, KernelEntry } from './report.js';
import type { Spread, StepBenchResult } from './step_report.js';

/** One panel of a benchmark chart: a stable key (for element ids) and its bar chart, sized for the PNG. */
export interface ChartPart {
  key: string;
  options: BarChartOptions;
}

/**
 * Each kernel's ratio to the adapter's limit, in two panels: memory-bound kernels against the copy
 * at the same size, convolutions against the SGEMM at the same GEMM.
 */
export function kernelChartParts(r: KernelBenchResult): ChartPart[] {
  const chart = (metric: KernelEntry['metric'], what: string): ChartPart | null => {
    const ks = r.kernels.filter((k) => k.metric === metric);
    if (!ks.length) return null;
    const options: BarChartOptions = {
      title: `${what} (target 0.7) - ${r.adapterName}, batch ${r.config.batch}`,
      yLabel: 'ratio to the limit',
      groups: ks.map((k) => k.name.replace(/[._]/g, ' ')),
      stacks: [{ name: metric === 'GB/s' ? 'GB/s / copy GB/s (same size)' : 'GFLOP/s / SGEMM GFLOP/s (same GEMM)', values: ks.map((k) => k.ratio), color: metric === 'GB/s' ? PALETTE[0] : PALETTE[1] }],
      width: Math.max(1000, 70 * ks.length),
      height: 600,
      segmentLabels: false,
      lines: [{ value: metric === 'GB/s' ? BANDWIDTH_TARGET : CONV_TARGET, label: `target ${metric === 'GB/s' ? BANDWIDTH_TARGET : CONV_TARGET}${metric === 'GB/s' ? '' : ' (forward)'}` }],
    };
    return { key: metric === 'GB/s' ? 'bandwidth' : 'conv', options };
  };
  return [chart('GB/s', 'memory-bound kernels vs the vec4 copy'), chart('GFLOP/s', 'convolutions vs the tiled SGEMM')].filter((c): c is ChartPart => c !== null);
}

export function kernelChart(r: KernelBenchResult) {
  const parts = kernelChartParts(r).map((p) => barChart(p.options));
  return parts.length === 1 ? parts[0] : panels(parts, 1);
}

/**
 * One bar per variant: the wall time per step with its range over rounds, the GPU time stacked by
 * kernel category (whiskers: the range of the rounds' totals) and the same as shares.
 */
export function stepChartParts(r: StepBenchResult): ChartPart[] {
  const c = r.config;
  const groups = r.variants.map((v) => v.name);
  const title = `WRN-${c.depth}-${c.width} training step, batch ${c.batch}`;
  const range = (s: Spread | null | undefined) => (s ? { lo: s.min, hi: s.max } : null);
  const wall: ChartPart = {
    key: 'wall',
    options: {
      title: `${title}: wall time (median, range over ${c.rounds ?? 1} rounds)`,
      yLabel: 'ms per step',
      groups,
      stacks: [{ name: 'wall time', values: r.variants.map((v) => v.wallMs) }],
      errors: r.variants.map((v) => range(v.wall)),
      segmentLabels: false,
      unit: 'ms',
      width: 900,
      height: 600,
    },
  };
  if (r.variants.every((v) => v.breakdown)) {
    const stacks = r.categories.map((cat) => ({ name: cat, values: r.variants.map((v) => v.breakdown![cat]) }));
    const abs: ChartPart = { key: 'gpu', options: { title: `${title}: GPU time by kernel category`, yLabel: 'ms per step', groups, stacks, unit: 'ms', width: 900, height: 600, errors: r.variants.map((v) => range(v.gpu)) } };
    const rel: ChartPart = { key: 'share', options: { title: `${title}: share of GPU time`, yLabel: '% of step', groups, stacks, normalize: true, width: 900, height: 600 } };
    return [wall, abs, rel];
  }
  return [wall];
}

export function stepChart(r: StepBenchResult) {
  const parts = stepChartParts(r).map((p) => barChart(p.options));
  return parts.length === 1 ? parts[0] : panels(parts, 2);
}
