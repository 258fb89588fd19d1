// The benchmark results' shape (one JSON file per run), their terminal tables and `wrn bench
// compare`. Pure code: no node:* imports, so the browser page produces the same objects.
import type { AdapterDescription } from '../gpu/device.js';
import type { AdapterLimits, GemmShape, Timing, TimingMethod } from './harness.js';
import { fmt, header, pct, table } from './format.js';
import { compareStepRows, STEP_KIND, type StepBenchResult, type StepVariantResult } from './step_report.js';

export { fmt, pct, table } from './format.js';
export { STEP_KIND, stepRows, formatStep, type StepBenchResult, type StepVariantResult } from './step_report.js';
export { CATEGORIES, type Category } from '../gpu/cost.js';

export const KERNELS_KIND = 'wrn-bench-kernels';
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
  /** Set when the run was stopped (the page's Stop button): the result holds only what finished. */
  partial?: true;
  /** Where it stopped: the step or case that did not run, e.g. 'round 2 of 3, variant 2 of 5 (bn-tiled), step 1 of 3'. */
  stoppedAt?: string;
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
  /** GFLOP/s kernels (the convs): value / limits.fmaGflops, the share of the FMA peak; absent in older files */
  fmaRatio?: number;
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

export function describeTarget(t: Target | null): string {
  if (!t) return '';
  const op = t.direction === 'min' ? '>=' : '<=';
  if (t.met) return `met (${fmt(t.value)} ${op} ${t.threshold})`;
  return `MISSED by ${(100 * t.miss).toFixed(0)}% (${fmt(t.value)}, want ${op} ${t.threshold})`;
}


export function formatKernels(r: KernelBenchResult): string {
  const out = header(r);
  const l = r.limits;
  out.push(
    `limits:  copy ${fmt(l.copyGBs)} GB/s (${(l.copyBytes / 2 ** 20).toFixed(0)} MiB moved, spread ${pct(l.copyTiming.spread)}); ` +
      `SGEMM ${l.sgemmShape.m}x${l.sgemmShape.n}x${l.sgemmShape.k} ${fmt(l.sgemmGflops)} GFLOP/s (spread ${pct(l.sgemmTiming.spread)})` +
      (l.fmaGflops !== undefined ? `; FMA peak ${fmt(l.fmaGflops)} GFLOP/s (${l.fmaShape?.invocations} invocations x ${l.fmaShape?.iterations} iterations, spread ${pct(l.fmaTiming?.spread)})` : ''),
  );
  for (const g of r.gemm) out.push(`         SGEMM at ${g.layer}'s equivalent GEMM ${g.shape.m}x${g.shape.n}x${g.shape.k}: ${fmt(g.gflops)} GFLOP/s`);
  for (const c of r.copies) out.push(`         copy of ${c.values} values (${((8 * c.values) / 2 ** 20).toPrecision(3)} MiB moved): ${fmt(c.gbs)} GB/s`);
  out.push(`batch ${r.config.batch}, ${r.config.warmup} warm-up + ${r.config.reps} repetitions per kernel`, '');
  // The 'of FMA peak' column only where the run measured the FMA yardstick (older files did not).
  const withFma = l.fmaGflops !== undefined;
  const rows = [['kernel', 'median ms', 'spread', 'value', 'unit', 'ratio', 'vs', ...(withFma ? ['of FMA peak'] : []), 'target']];
  for (const k of r.kernels) {
    const fma = withFma ? [k.fmaRatio !== undefined ? fmt(k.fmaRatio) : ''] : [];
    rows.push([k.name, fmt(k.timing.medianMs), pct(k.timing.spread), fmt(k.value), k.metric, fmt(k.ratio), k.reference, ...fma, describeTarget(k.target)]);
  }
  out.push(table(rows));
  const targets = r.kernels.filter((k) => k.target);
  const missed = targets.filter((k) => !k.target!.met);
  out.push('', `targets: ${targets.length - missed.length} of ${targets.length} met` + (missed.length ? `; missed: ${missed.map((k) => k.name).join(', ')}` : ''));
  out.push("ratio: GB/s over the copy kernel's at the same tensor size, or GFLOP/s over the SGEMM's at the same GEMM; a conv backward's target is its time over the forward's (<= 1.5).");
  if (withFma) out.push("of FMA peak: a conv's GFLOP/s over the FMA kernel's, the adapter's compute limit (the SGEMM is a program, not a limit).");
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
    out.push(`SGEMM GFLOP/s: A ${fmt(a.limits.sgemmGflops)}, B ${fmt(b.limits.sgemmGflops)}, B/A ${fmt(ratioOf(b.limits.sgemmGflops, a.limits.sgemmGflops))}`);
    out.push(`FMA peak GFLOP/s: A ${fmt(a.limits.fmaGflops)}, B ${fmt(b.limits.fmaGflops)}, B/A ${fmt(ratioOf(b.limits.fmaGflops, a.limits.fmaGflops))}`, ''); // '-' for a file from before the FMA yardstick
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
    out.push(table(compareStepRows(a, b)));
    out.push("A difference is resolved when the two ranges over rounds do not overlap (results written before the rounds carry the range of their timed steps).");
    const ca = a.config;
    const cb = b.config;
    if (ca.depth !== cb.depth || ca.width !== cb.width || ca.batch !== cb.batch) {
      out.push('', `note: the configurations differ (A WRN-${ca.depth}-${ca.width} batch ${ca.batch}, B WRN-${cb.depth}-${cb.width} batch ${cb.batch}); compare shares, not times.`);
    }
  }
  return out.join('\n');
}
