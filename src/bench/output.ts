// Node side of the benchmarks: result files (JSON, written atomically), their charts (PNG), the git
// commit, and reading files back for `wrn bench compare`. Never imported by the page.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { barChart, panels, savePng, PALETTE } from '../plot/index.js';
import { writeFileAtomic } from '../util/fsx.js';
import { BenchFileError, validateResult, type BenchResult, type KernelBenchResult, type KernelEntry, type StepBenchResult } from './report.js';

export const DEFAULT_RESULTS_DIR = 'bench/results';

/** The commit the code came from: $WRN_COMMIT (the GPU bundle sets it), else git, else null. */
export function gitCommit(): string | null {
  if (process.env.WRN_COMMIT) return process.env.WRN_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** A file-name-safe short form: lower case, runs of other characters become one '-'. */
export function slug(s: string, max = 48): string {
  const t = s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return (t.slice(0, max).replace(/-+$/, '') || 'unknown');
}

/** e.g. kernels-node-google-swiftshader-...-2025-01-01T12-00-00Z (no extension). */
export function resultBaseName(r: BenchResult): string {
  const kind = r.kind === 'wrn-bench-kernels' ? 'kernels' : 'step';
  const runtime = r.runtime.startsWith('node') ? 'node' : 'browser';
  const a = r.adapter;
  const adapter = slug([a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' '));
  const date = r.date.replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return `${kind}-${runtime}-${adapter}-${date}`;
}

/** Write `<dir>/<base>.json` (atomically) and its chart `<dir>/<base>.png`; returns both paths. */
export function writeResult(r: BenchResult, dir: string): { json: string; png: string } {
  const base = join(dir, resultBaseName(r));
  const json = `${base}.json`;
  writeFileAtomic(json, [new TextEncoder().encode(JSON.stringify(r, null, 2) + '\n')]);
  const png = `${base}.png`;
  savePng(r.kind === 'wrn-bench-kernels' ? kernelChart(r) : stepChart(r), png);
  return { json, png };
}

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
    });
  };
  const parts = [chart('GB/s', 'memory-bound kernels vs the vec4 copy'), chart('GFLOP/s', 'convolutions vs the tiled SGEMM')].filter((c): c is NonNullable<typeof c> => c !== null);
  return parts.length === 1 ? parts[0] : panels(parts, 1);
}

/** One bar per variant, stacked by kernel category: GPU ms per step, and the same as shares. */
export function stepChart(r: StepBenchResult) {
  const c = r.config;
  const groups = r.variants.map((v) => v.name);
  const title = `WRN-${c.depth}-${c.width} training step, batch ${c.batch}`;
  if (r.variants.every((v) => v.breakdown)) {
    const stacks = r.categories.map((cat) => ({ name: cat, values: r.variants.map((v) => v.breakdown![cat]) }));
    const abs = barChart({ title: `${title}: GPU time by kernel category`, yLabel: 'ms per step', groups, stacks, unit: 'ms', width: 900, height: 600 });
    const rel = barChart({ title: `${title}: share of GPU time`, yLabel: '% of step', groups, stacks, normalize: true, width: 900, height: 600 });
    return panels([abs, rel], 2);
  }
  return barChart({
    title: `${title}: wall time (no timestamp-query, no breakdown)`,
    yLabel: 'ms per step',
    groups,
    stacks: [{ name: 'wall time', values: r.variants.map((v) => v.wallMs) }],
    unit: 'ms',
    width: 900,
    height: 600,
  });
}

/** Read and validate a result file; errors name the file. */
export function readResult(file: string): BenchResult {
  if (!existsSync(file)) throw new BenchFileError(`${file}: no such file`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BenchFileError(`${file}: cannot be read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BenchFileError(`${file}: not valid JSON (${(e as Error).message}); expected a JSON file written by 'wrn bench kernels' or 'wrn bench step'`);
  }
  return validateResult(value, file);
}
