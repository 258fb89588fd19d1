// The benchmark results' shape (one JSON file per run), their terminal tables and `wrn bench
// compare`. Pure code: no node:* imports, so the browser page produces the same objects.
import type { AdapterDescription } from '../gpu/device.js';
import type { AdapterLimits, GemmShape, Timing, TimingMethod } from './harness.js';

export const KERNELS_KIND = 'wrn-bench-kernels';
export const STEP_KIND = 'wrn-bench-step';
export const SCHEMA = 1;

/** The fields every result file starts with: where and when it was measured. */
export function resultHeader(rt: { ctx: { adapter: AdapterDescription }; profile: { name: string } }, o: { runtime?: string; commit?: string | null; notes?: string[] }, describe: (a: AdapterDescription) => string) {
  return {
    schema: SCHEMA,
    date: new Date().toISOString(),
    runtime: o.runtime ?? rt.ctx.adapter.runtime,
    adapter: rt.ctx.adapter,
    adapterName: describe(rt.ctx.adapter),
    profile: rt.profile.name,
    commit: o.commit ?? null,
    notes: o.notes ?? [],
  };
}

/** What every result file records about where it was measured. */
export interface RunInfo {
  schema: number;
  /** ISO 8601 */
  date: string;
  /** 'node-dawn (webgpu x, node y)' or the browser's user agent */
  runtime: string;
  adapter: AdapterDescription;
  adapterName: string;
  /** the tuning profile the kernels ran under (src/gpu/profile.ts); absent in older files */
  profile?: string;
  /** git rev-parse HEAD where available, else null */
  commit: string | null;
  method: TimingMethod;
  /** Anything the reader should know about the run (noisy shared CPU, fallbacks). */
  notes: string[];
}

/** A target from the kernel issue: ratio >= threshold ('min') or <= threshold ('max'). */
export interface Target {
  description: string;
  value: number;
  threshold: number;
  direction: 'min' | 'max';
  met: boolean;
  /** How far from the threshold, as a fraction of it (0 when met). */
  miss: number;
}

export interface KernelEntry {
  /** unique: what and where, e.g. 'bn.fwd+relu 32x32x64' */
  name: string;
  /** conv, bn, bn-unfused, relu, skipadd, sgd */
  group: string;
  /** the layer shape: 'HxWxC' (batch in config), or 'n=...' */
  shape: string;
  /** the dispatches one repetition records */
  dispatches: string[];
  timing: Timing;
  metric: 'GB/s' | 'GFLOP/s';
  /** GB/s or GFLOP/s at the median time */
  value: number;
  /** bytes or FLOPs one repetition must move / do */
  work: number;
  /** how `work` is counted */
  formula: string;
  /** the adapter limit the value is compared with: 'copy GB/s' or 'SGEMM MxNxK GFLOP/s' */
  reference: string;
  referenceValue: number;
  /** value / referenceValue */
  ratio: number;
  target: Target | null;
}

export interface KernelBenchResult extends RunInfo {
  kind: typeof KERNELS_KIND;
  config: { batch: number; reps: number; warmup: number; quick: boolean; only: string; layers: string[]; sgdParams: number };
  limits: AdapterLimits;
  /** SGEMM GFLOP/s at each conv layer's equivalent GEMM (padded), by layer shape */
  gemm: { layer: string; shape: GemmShape; gflops: number; timing: Timing }[];
  /** The copy's GB/s at each memory-bound kernel's tensor size (values = f32 values copied) */
  copies: { values: number; gbs: number; timing: Timing }[];
  kernels: KernelEntry[];
}

export const CATEGORIES = ['conv', 'bn', 'relu', 'skip-add', 'pool/classifier/loss', 'optimizer', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

/**
 * The category of a profiled dispatch, from its label's kernel name (the first word). skip-add
 * includes elementwise.add and .scale: the plain residual add, its backward (two copies via
 * scale(g, 1)) and the gradient sums where a tensor feeds both the skip and the branch. The
 * classifier's bias gradient (reduce.sum_axis) and the loss's seed gradient (elementwise.fill)
 * count with pool/classifier/loss.
 */
export function categoryOf(label: string): Category {
  const k = label.split(' ')[0];
  if (k.startsWith('conv2d.')) return 'conv';
  if (k.startsWith('batchnorm')) return 'bn';
  if (k.startsWith('relu.')) return 'relu';
  if (k.startsWith('skipadd.') || k === 'elementwise.add' || k === 'elementwise.scale') return 'skip-add';
  if (/^(pool\.|matmul$|bias_add$|loss\.|dropout$|reduce\.sum_axis|elementwise\.fill$)/.test(k)) return 'pool/classifier/loss';
  if (k === 'sgd' || k.startsWith('sgd.')) return 'optimizer'; // the update and its finiteness check of BN's running statistics
  return 'other';
}

export interface StepVariantResult {
  /** bn, bn-unfused, skipinit, unnormalized, ... */
  name: string;
  variant: string;
  fuseBnRelu: boolean;
  parameters: number;
  dispatchesPerStep: number;
  /** The convolutions' useful work per step (forward and both gradients: 3 x 2 x MACs), GFLOP. */
  convGflopPerStep: number;
  /** That work over the step's wall time: how close the whole step comes to the conv kernels' rate. */
  effectiveGflops: number;
  /** That work over the conv kernels' GPU time (null without timestamps). */
  convKernelGflops: number | null;
  /** median wall time of a whole step (submit to loss read back) */
  wallMs: number;
  wallTiming: Timing;
  imagesPerSecond: number;
  /** GPU time of a step (mean over the profiled steps): the sum of `breakdown`; null without timestamps */
  gpuMs: number | null;
  breakdown: Record<Category, number> | null;
  /** breakdown / gpuMs */
  shares: Record<Category, number> | null;
  /** the most expensive kernels (mean ms per step), by kernel name */
  topKernels: { kernel: string; category: Category; ms: number; count: number }[];
}

export interface StepBenchResult extends RunInfo {
  kind: typeof STEP_KIND;
  config: { depth: number; width: number; batch: number; steps: number; warmup: number; quick: boolean };
  categories: Category[];
  variants: StepVariantResult[];
}

export type BenchResult = KernelBenchResult | StepBenchResult;

// ---- file names ------------------------------------------------------------------------------

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

// ---- formatting ------------------------------------------------------------------------------

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  return v.toPrecision(digits);
}

function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(1)}%`;
}

/** A plain text table: first row is the header; numeric-looking cells are right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = /^[-+]?[\d.]+(e[-+]?\d+)?(%|x)?$|^-$/;
  const line = (r: string[]) => r.map((cell, c) => (c > 0 && numeric.test(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function describeTarget(t: Target | null): string {
  if (!t) return '';
  const op = t.direction === 'min' ? '>=' : '<=';
  if (t.met) return `met (${fmt(t.value)} ${op} ${t.threshold})`;
  return `MISSED by ${(100 * t.miss).toFixed(0)}% (${fmt(t.value)}, want ${op} ${t.threshold})`;
}

function header(r: RunInfo): string[] {
  return [
    `adapter: ${r.adapterName}`,
    `runtime: ${r.runtime}`,
    `timing:  ${r.method === 'timestamp-query' ? 'GPU timestamp queries (each kernel in its own compute pass)' : 'wall clock (several dispatches per submit; no timestamp-query on this adapter)'}`,
    ...r.notes.map((n) => `note:    ${n}`),
  ];
}

export function formatKernels(r: KernelBenchResult): string {
  const out = header(r);
  const l = r.limits;
  out.push(
    `limits:  copy ${fmt(l.copyGBs)} GB/s (${(l.copyBytes / 2 ** 20).toFixed(0)} MiB moved, spread ${pct(l.copyTiming.spread)}); ` +
      `SGEMM ${l.sgemmShape.m}x${l.sgemmShape.n}x${l.sgemmShape.k} ${fmt(l.sgemmGflops)} GFLOP/s (spread ${pct(l.sgemmTiming.spread)})`,
  );
  for (const g of r.gemm) out.push(`         SGEMM at ${g.layer}'s equivalent GEMM ${g.shape.m}x${g.shape.n}x${g.shape.k}: ${fmt(g.gflops)} GFLOP/s`);
  for (const c of r.copies) out.push(`         copy of ${c.values} values (${((8 * c.values) / 2 ** 20).toPrecision(3)} MiB moved): ${fmt(c.gbs)} GB/s`);
  out.push(`batch ${r.config.batch}, ${r.config.warmup} warm-up + ${r.config.reps} repetitions per kernel`, '');
  const rows = [['kernel', 'median ms', 'spread', 'value', 'unit', 'ratio', 'vs', 'target']];
  for (const k of r.kernels) {
    rows.push([k.name, fmt(k.timing.medianMs), pct(k.timing.spread), fmt(k.value), k.metric, fmt(k.ratio), k.reference, describeTarget(k.target)]);
  }
  out.push(table(rows));
  const targets = r.kernels.filter((k) => k.target);
  const missed = targets.filter((k) => !k.target!.met);
  out.push('', `targets: ${targets.length - missed.length} of ${targets.length} met` + (missed.length ? `; missed: ${missed.map((k) => k.name).join(', ')}` : ''));
  out.push("ratio: GB/s over the copy kernel's at the same tensor size, or GFLOP/s over the SGEMM's at the same GEMM; a conv backward's target is its time over the forward's (<= 1.5).");
  return out.join('\n');
}

/** The step table, for the terminal and the page: one row per variant. */
export function stepRows(r: StepBenchResult): string[][] {
  const rows = [['variant', 'params', 'dispatches', 'wall ms/step', 'img/s', 'conv GFLOP/step', 'step GFLOP/s', 'conv GFLOP/s', 'GPU ms/step', ...r.categories]];
  for (const v of r.variants) {
    const cats = r.categories.map((k) => (v.breakdown ? `${fmt(v.breakdown[k])} (${pct(v.shares![k])})` : '-'));
    // Results written before the FLOP count have none.
    const flop = v.convGflopPerStep === undefined ? ['-', '-', '-'] : [fmt(v.convGflopPerStep), fmt(v.effectiveGflops), fmt(v.convKernelGflops)];
    rows.push([v.name, String(v.parameters), String(v.dispatchesPerStep), fmt(v.wallMs), fmt(v.imagesPerSecond), ...flop, fmt(v.gpuMs), ...cats]);
  }
  return rows;
}

export function formatStep(r: StepBenchResult): string {
  const c = r.config;
  const out = header(r);
  out.push(`WRN-${c.depth}-${c.width}, batch ${c.batch}, ${c.warmup} warm-up + ${c.steps} timed steps per variant (forward, backward, SGD)`, '');
  out.push(table(stepRows(r)));
  out.push('conv GFLOP/step: the convolutions\' useful work (forward and both gradients); step GFLOP/s: that over the wall time; conv GFLOP/s: over the conv kernels\' GPU time.');
  if (r.variants.some((v) => !v.breakdown)) out.push('', 'per-kernel breakdown unavailable: the adapter has no timestamp-query; only the wall time per step is reported.');
  const by = (n: string) => r.variants.find((v) => v.name === n);
  const bn = by('bn');
  const lines: string[] = [];
  for (const other of ['skipinit', 'unnormalized', 'bn-unfused']) {
    const o = by(other);
    if (bn && o) lines.push(`${other} vs bn: step wall time x${fmt(o.wallMs / bn.wallMs)}${bn.gpuMs && o.gpuMs ? `, GPU time x${fmt(o.gpuMs / bn.gpuMs)}` : ''}`);
  }
  if (bn?.shares) lines.push(`BN's share of a bn step: ${pct(bn.shares.bn)} of GPU time (${fmt(bn.breakdown!.bn)} ms)`);
  if (lines.length) out.push('', ...lines);
  return out.join('\n');
}

// ---- compare ---------------------------------------------------------------------------------

export class BenchFileError extends Error {}

/** Check that `value` (parsed from `file`) is a bench result; errors name the file and what is wrong. */
export function validateResult(value: unknown, file: string): BenchResult {
  const bad = (why: string) => new BenchFileError(`${file}: ${why}; expected a JSON file written by 'wrn bench kernels' or 'wrn bench step'`);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad('not a JSON object');
  const r = value as Record<string, unknown>;
  if (r.kind !== KERNELS_KIND && r.kind !== STEP_KIND) throw bad(`'kind' is ${JSON.stringify(r.kind)}, not '${KERNELS_KIND}' or '${STEP_KIND}'`);
  if (r.kind === KERNELS_KIND) {
    if (!Array.isArray(r.kernels)) throw bad("'kernels' is missing or not a list");
    r.kernels.forEach((k: unknown, i: number) => {
      const e = k as Partial<KernelEntry>;
      if (!e || typeof e.name !== 'string' || !e.timing || typeof e.timing.medianMs !== 'number' || typeof e.ratio !== 'number') {
        throw bad(`kernels[${i}] lacks a name, timing.medianMs or ratio`);
      }
    });
    const l = r.limits as Partial<AdapterLimits> | undefined;
    if (!l || typeof l.copyGBs !== 'number' || typeof l.sgemmGflops !== 'number') throw bad("'limits' lacks copyGBs or sgemmGflops");
  } else {
    if (!Array.isArray(r.variants)) throw bad("'variants' is missing or not a list");
    r.variants.forEach((v: unknown, i: number) => {
      const e = v as Partial<StepVariantResult>;
      if (!e || typeof e.name !== 'string' || typeof e.wallMs !== 'number') throw bad(`variants[${i}] lacks a name or wallMs`);
    });
    if (!Array.isArray(r.categories)) throw bad("'categories' is missing");
  }
  return value as BenchResult;
}

const ratioOf = (b: number | null | undefined, a: number | null | undefined) => (a && b !== null && b !== undefined && a > 0 ? b / a : NaN);

/** A table of B over A: per kernel (time, and ratio to the limits) or per variant and step category. */
export function compareResults(a: BenchResult, b: BenchResult, nameA = 'A', nameB = 'B'): string {
  if (a.kind !== b.kind) throw new BenchFileError(`cannot compare a '${a.kind}' result (${nameA}) with a '${b.kind}' result (${nameB})`);
  const out = [`A: ${nameA}\n   ${a.adapterName}, ${a.runtime}, ${a.date}`, `B: ${nameB}\n   ${b.adapterName}, ${b.runtime}, ${b.date}`, ''];
  if (a.kind === KERNELS_KIND && b.kind === KERNELS_KIND) {
    out.push(`copy GB/s: A ${fmt(a.limits.copyGBs)}, B ${fmt(b.limits.copyGBs)}, B/A ${fmt(ratioOf(b.limits.copyGBs, a.limits.copyGBs))}`);
    out.push(`SGEMM GFLOP/s: A ${fmt(a.limits.sgemmGflops)}, B ${fmt(b.limits.sgemmGflops)}, B/A ${fmt(ratioOf(b.limits.sgemmGflops, a.limits.sgemmGflops))}`, '');
    const rows = [['kernel', 'A ms', 'B ms', 'time B/A', 'A ratio', 'B ratio', 'ratio B/A']];
    const bByName = new Map(b.kernels.map((k) => [k.name, k]));
    for (const ka of a.kernels) {
      const kb = bByName.get(ka.name);
      rows.push([ka.name, fmt(ka.timing.medianMs), fmt(kb?.timing.medianMs), fmt(ratioOf(kb?.timing.medianMs, ka.timing.medianMs)), fmt(ka.ratio), fmt(kb?.ratio), fmt(ratioOf(kb?.ratio, ka.ratio))]);
    }
    for (const kb of b.kernels) if (!a.kernels.some((k) => k.name === kb.name)) rows.push([kb.name, '-', fmt(kb.timing.medianMs), '-', '-', fmt(kb.ratio), '-']);
    out.push(table(rows));
    if (a.config.batch !== b.config.batch) out.push('', `note: batch sizes differ (A ${a.config.batch}, B ${b.config.batch}); times are not comparable, ratios to the limits are.`);
  } else if (a.kind === STEP_KIND && b.kind === STEP_KIND) {
    const cats = [...new Set([...a.categories, ...b.categories])];
    const rows = [['variant', 'quantity', 'A', 'B', 'B/A']];
    for (const va of a.variants) {
      const vb = b.variants.find((v) => v.name === va.name);
      rows.push([va.name, 'wall ms/step', fmt(va.wallMs), fmt(vb?.wallMs), fmt(ratioOf(vb?.wallMs, va.wallMs))]);
      rows.push([va.name, 'img/s', fmt(va.imagesPerSecond), fmt(vb?.imagesPerSecond), fmt(ratioOf(vb?.imagesPerSecond, va.imagesPerSecond))]);
      rows.push([va.name, 'GPU ms/step', fmt(va.gpuMs), fmt(vb?.gpuMs), fmt(ratioOf(vb?.gpuMs, va.gpuMs))]);
      if (va.effectiveGflops !== undefined || vb?.effectiveGflops !== undefined) {
        rows.push([va.name, 'step GFLOP/s (conv work over wall time)', fmt(va.effectiveGflops), fmt(vb?.effectiveGflops), fmt(ratioOf(vb?.effectiveGflops, va.effectiveGflops))]);
        rows.push([va.name, 'conv GFLOP/s (over conv GPU time)', fmt(va.convKernelGflops), fmt(vb?.convKernelGflops), fmt(ratioOf(vb?.convKernelGflops, va.convKernelGflops))]);
      }
      for (const c of cats) {
        const x = va.breakdown?.[c as Category];
        const y = vb?.breakdown?.[c as Category];
        rows.push([va.name, `${c} ms (share A ${pct(va.shares?.[c as Category])}, B ${pct(vb?.shares?.[c as Category])})`, fmt(x), fmt(y), fmt(ratioOf(y, x))]);
      }
    }
    out.push(table(rows));
    const ca = a.config;
    const cb = b.config;
    if (ca.depth !== cb.depth || ca.width !== cb.width || ca.batch !== cb.batch) {
      out.push('', `note: the configurations differ (A WRN-${ca.depth}-${ca.width} batch ${ca.batch}, B WRN-${cb.depth}-${cb.width} batch ${cb.batch}); compare shares, not times.`);
    }
  }
  return out.join('\n');
}
