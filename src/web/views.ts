// The lab's views: adapter, kernel checks, kernel benchmark, step benchmark, training. Each view is
// a page task (src/web/tasks.ts): the page runs it from its form, or, with ?task=<name>&k=v..., at
// load (what `wrn browser --task <name>` and the browser tests drive). Browser only, no node:*.
import { runChecks, selectChecks, type CheckLine } from '../check.js';
import type { Tensor } from '../tensor.js';
import { VARIANTS, type Variant, type WideResNet } from '../model/wrn.js';
import { runKernelBench, type KernelProgress } from '../bench/kernels.js';
import { runStepBench, stepDefaults, type StepProgress } from '../bench/step.js';
import { fmt, pct, resultBaseName, type BenchResult, type KernelBenchResult, type Target } from '../bench/report.js';
import { bnCostLines, conditionLines, projectionRows, rooflineRows, stepRows, type StepBenchResult } from '../bench/step_report.js';
import { runTune, tuneRows, tuneSummary } from '../bench/tune.js';
import { applyCache, validateCache, withEntry, type TuningCache } from '../gpu/tuning.js';
import { kernelChartParts, stepChartParts } from '../bench/charts.js';
import { ChartView, smoothSeries } from './chart.js';

/** The live loss curve's smoothing weight (the run list below has a slider for its own). */
const LIVE_SMOOTHING = 0.6;
import { intParam, kernelOptionsFromParams, numParam } from './bench_task.js';
import { divergedAt } from '../train/step.js';
import { trainEpochs } from '../train/loop.js';
import { checkpointEntries } from '../train/evaluate.js';
import { checkTrainCheckpoint, checkpointConfig, openModel, openSettings, resumeConfig } from '../train/open.js';
import { DEFAULT_JOB, DEFAULT_TRAIN, learningRate, validateTrainConfig, type CheckpointHeader, type TrainConfig, type TrainProgress } from '../train/config.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../train/checkpoint_format.js';
import { datasetNorm } from '../data/augment.js';
import { dataHash, resizeDataset, type Dataset } from '../data/dataset.js';
import { makeSynthetic, SYNTHETIC_MAX_COUNT } from '../data/synthetic.js';
import { readDropped, readServedFashionMnist } from './data.js';
import type { TaskContext, TaskFn } from './tasks.js';
import { download, el, fmtSeconds, table, yieldToPage } from './ui.js';
import { BUILD_COMMIT, RunList } from './runs.js';
import { describeAdapter } from '../gpu/device.js';

/** Every training run of this page visit, compared on one chart per metric (main.ts places it in the training view). */
export const trainRuns = new RunList();

export interface Control {
  name: string;
  label: string;
  value: string;
  /** A select's choices (else a text/number input). */
  options?: readonly string[];
  help?: string;
}

export interface View {
  name: string;
  title: string;
  blurb: string;
  controls: Control[];
  task: TaskFn;
  /** What the Download button saves (set by the task when it has a result). */
  download?: () => void;
}

/** Thrown by a task that was stopped by the Stop button. */
export class CancelledError extends Error {
  constructor() {
    super('stopped');
  }
}

function checkCancel(ctx: TaskContext): void {
  if (ctx.cancelled?.()) throw new CancelledError();
}

function downloadJson(r: BenchResult): void {
  download(`${resultBaseName(r)}.json`, [JSON.stringify(r, null, 2) + '\n'], 'application/json');
}


/** A progress bar (id `id`) and a line saying where the task is, e.g. 'case 3 of 40: conv2d.forward ...'. */
function progressBar(ctx: TaskContext, id: string): (done: number, total: number, text: string) => void {
  const wrap = el('div', undefined, 'progress');
  wrap.id = id;
  const bar = el('progress');
  bar.value = 0;
  const label = el('span', 'starting...');
  wrap.append(bar, label);
  ctx.output?.appendChild(wrap);
  return (done, total, text) => {
    bar.max = Math.max(1, total);
    bar.value = done;
    label.textContent = text;
  };
}

/** A wide table in a box that scrolls sideways: the page never gets wider than the window. */
function scroll(t: HTMLElement): HTMLElement {
  const box = el('div', undefined, 'scroll');
  box.appendChild(t);
  return box;
}

/** A stopped run's result holds only what finished: said above its tables, where it cannot be missed. */
function partialNote(ctx: TaskContext, id: string, text: string): void {
  const p = el('p', `partial: ${text}`, 'partial');
  p.id = id;
  ctx.output?.appendChild(p);
}

/** Spreads above this are flagged: the repetitions (or rounds) disagree too much to trust the digits. */
const NOISY_SPREAD = 0.25;
const NOISY = '\u26a0'; // a warning sign after the spread, explained by a footnote

/** Give the cells a NOISY mark was appended to their class, for the colour. */
function markNoisy(t: HTMLTableElement): number {
  let n = 0;
  for (const td of Array.from(t.querySelectorAll('td'))) {
    if (td.textContent?.endsWith(NOISY)) {
      td.classList.add('noisy');
      n++;
    }
  }
  return n;
}

// ---- adapter -------------------------------------------------------------------------------------

const KEY_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** What the adapter panel shows, as JSON. */
export function adapterReport(ctx: TaskContext) {
  const a = ctx.rt.ctx.adapter;
  const lim = ctx.rt.ctx.device.limits as unknown as Record<string, number>;
  const rtAny = ctx.rt as unknown as { profile?: unknown };
  return {
    adapter: a,
    features: Object.fromEntries(['timestamp-query', 'subgroups', 'shader-f16'].map((f) => [f, a.features.includes(f)])),
    timestampsInUse: ctx.rt.hasTimestamps,
    limits: Object.fromEntries(KEY_LIMITS.map((k) => [k, lim[k]])),
    profile: rtAny.profile ?? null,
    tuning: browserTuningLine,
    userAgent: navigator.userAgent,
  };
}

export function renderAdapter(into: HTMLElement, r: ReturnType<typeof adapterReport>): void {
  into.replaceChildren();
  const a = r.adapter;
  const rows: string[][] = [
    ['', ''],
    ['vendor', a.vendor || '(not reported)'],
    ['architecture', a.architecture || '(not reported)'],
    ['device', a.device || '(not reported)'],
    ['description', a.description || '(not reported)'],
    ['fallback adapter', a.isFallbackAdapter ? 'yes' : 'no'],
    ...Object.entries(r.features).map(([f, on]) => [`feature ${f}`, on ? 'yes' : 'no']),
    ['GPU timestamps in use', r.timestampsInUse ? 'yes (benchmarks time each dispatch)' : 'no (benchmarks use the wall clock)'],
    ...Object.entries(r.limits).map(([k, v]) => [k, v === undefined ? '-' : v >= 2 ** 20 ? `${v} (${(v / 2 ** 20).toFixed(0)} MiB)` : String(v)]),
    ['tuning profile', r.profile ? profileSummary(r.profile) : '(this runtime exposes none)'],
    ['tuning cache', r.tuning],
    ['user agent', r.userAgent],
  ];
  // Two columns of key/value rows, so the panel stays short above the views.
  const body = rows.slice(1);
  const half = Math.ceil(body.length / 2);
  const wrap = el('div', undefined, 'kv-wrap');
  wrap.id = 'adapter-table';
  for (const part of [body.slice(0, half), body.slice(half)]) {
    const t = table([['', ''], ...part], 'kv');
    t.rows[0].remove();
    wrap.appendChild(t);
  }
  into.appendChild(wrap);
}

function profileSummary(p: unknown): string {
  const o = p as { name?: string; conv2d?: { maxWorkgroups?: number }; pollIntervalMs?: number };
  const parts = [o.name ?? '?'];
  if (o.conv2d?.maxWorkgroups !== undefined) parts.push(`conv2d max workgroups ${o.conv2d.maxWorkgroups}`);
  if (o.pollIntervalMs) parts.push(`Dawn polled every ${o.pollIntervalMs} ms`);
  return parts.join(', ');
}

async function adapterTask(ctx: TaskContext, view: View) {
  const r = adapterReport(ctx);
  view.download = () => download('adapter-browser.json', [JSON.stringify({ kind: 'wrn-browser-adapter', date: new Date().toISOString(), ...r }, null, 2) + '\n'], 'application/json');
  if (ctx.output) {
    // The adapter's tables are the panel at the top (opened with this view), not repeated here.
    const box = el('div');
    box.appendChild(el('p', "The adapter's features and limits are in the panel at the top of the page. The tuning profile these runs use:", 'meta'));
    const prof = el('pre', JSON.stringify(r.profile, null, 2), 'json');
    prof.id = 'adapter-profile';
    box.appendChild(prof);
    ctx.output.appendChild(box);
  }
  return r;
}

// ---- kernel checks -------------------------------------------------------------------------------

function fmtErr(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

async function checkTask(ctx: TaskContext, view: View) {
  const filter = ctx.params.get('filter') ?? '';
  const names = selectChecks(filter).map((c) => c.name); // no match: an error the page reports
  const n = names.length;
  ctx.log(`checking ${n} kernels${filter ? ` matching '${filter}'` : ''} against their CPU references`);
  const bar = progressBar(ctx, 'check-progress');
  const caseText = (k: number) => `case ${k + 1} of ${n}: ${names[k]}`;
  bar(0, n, caseText(0));
  // No message column until a row has a message (a failure's): it would be empty.
  const t = table([['result', 'check', 'max abs err', 'max rel err', 'ms']]);
  t.id = 'check-table';
  for (const th of Array.from(t.rows[0].cells).slice(2)) th.className = 'num';
  ctx.output?.appendChild(scroll(t));
  const lines: CheckLine[] = [];
  let messages = false;
  try {
    await runChecks(filter, (l: CheckLine) => {
      lines.push(l);
      ctx.progress(l);
      if (l.message && !messages) {
        messages = true;
        t.rows[0].appendChild(el('th', 'message'));
        for (const tr of Array.from(t.rows).slice(1)) tr.appendChild(el('td'));
      }
      const tr = el('tr', undefined, l.ok ? 'pass' : 'fail');
      tr.append(el('td', l.ok ? 'PASS' : 'FAIL'), el('td', l.name));
      for (const c of [fmtErr(l.maxAbsErr), fmtErr(l.maxRelErr), l.ms.toFixed(0)]) tr.appendChild(el('td', c, 'num'));
      if (messages) tr.appendChild(el('td', l.message));
      t.appendChild(tr);
      const k = lines.length;
      bar(k, n, k < n ? caseText(k) : `done: ${n} of ${n} cases`);
      console.log(`[wrn]   ${l.ok ? 'PASS' : 'FAIL'}  ${l.name}  max abs err ${fmtErr(l.maxAbsErr)}  (${l.ms.toFixed(0)} ms)${l.ok ? '' : `: ${l.message}`}`);
      checkCancel(ctx); // the next case does not start: a stop takes effect within one case
    });
  } catch (e) {
    if (!(e instanceof CancelledError)) throw e;
  }
  const failed = lines.filter((l) => !l.ok).length;
  // Stopped: the cases that ran are the result, marked partial (and still downloadable).
  const stoppedAt = lines.length < n ? caseText(lines.length) : null;
  ctx.log(`${lines.length - failed} passed, ${failed} failed${stoppedAt ? `; stopped before ${stoppedAt}` : ''}`);
  if (stoppedAt) {
    bar(lines.length, n, `stopped: ${lines.length} of ${n} cases done`);
    partialNote(ctx, 'check-partial', `stopped after ${lines.length} of ${n} cases (before ${stoppedAt}); the table shows those only`);
  }
  const result = { filter, lines, passed: lines.length - failed, failed, ...(stoppedAt ? { partial: true as const, stoppedAt, stop: 'stopped' as const } : {}) };
  view.download = () => download('checks-browser.json', [JSON.stringify({ kind: 'wrn-browser-check', adapter: ctx.rt.ctx.adapter, userAgent: navigator.userAgent, date: new Date().toISOString(), ...result }, null, 2) + '\n'], 'application/json');
  return result;
}

// ---- kernel benchmark ----------------------------------------------------------------------------

/** What a target's ratio is of, from its description: 'GB/s >= 0.7 x copy' -> 'GB/s / copy' (short: the verdict column stays narrow). */
function targetRatioOf(t: Target): string {
  return t.description.replace(/\s*(>=|<=)\s*[\d.]+\s*x\s*/, ' / ').replace(/ at the same GEMM$/, '');
}

/** 'met: GB/s / copy >= 0.7' or 'MISSED: wants time / the forward's <= 1.5' (the value is its own column). */
function targetVerdict(t: Target | null): string {
  if (!t) return '';
  const want = `${targetRatioOf(t)} ${t.direction === 'min' ? '>=' : '<='} ${t.threshold}`;
  return t.met ? `met: ${want}` : `MISSED: wants ${want}`;
}

function renderKernels(ctx: TaskContext, r: KernelBenchResult): void {
  const l = r.limits;
  if (r.partial) partialNote(ctx, 'kernels-partial', `stopped before ${r.stoppedAt}: ${r.kernels.length} kernel${r.kernels.length === 1 ? '' : 's'} timed; the table and chart show ${r.kernels.length ? 'those' : 'none'} only`);
  ctx.output?.appendChild(
    el('p', `limits: copy ${fmt(l.copyGBs)} GB/s, SGEMM ${l.sgemmShape.m}x${l.sgemmShape.n}x${l.sgemmShape.k} ${fmt(l.sgemmGflops)} GFLOP/s; batch ${r.config.batch}, ${r.config.reps} repetitions; timing: ${r.method}`, 'meta'),
  );
  if (!r.kernels.length) return; // stopped before the first kernel: nothing to tabulate or chart
  // 'target ratio' is what the verdict is about: the ratio, except for a conv backward (its time over the forward's).
  // 'of FMA peak': a conv's GFLOP/s over the FMA kernel's (absent in results from before that yardstick).
  const fma = l.fmaGflops !== undefined ? `of FMA peak (${fmt(l.fmaGflops)} GFLOP/s)` : 'of FMA peak';
  const rows = [['kernel', 'median ms', 'spread', 'value', 'unit', 'ratio', 'vs', fma, 'target ratio', 'target']];
  for (const k of r.kernels) {
    const t = k.target;
    rows.push([k.name, fmt(k.timing.medianMs), `${pct(k.timing.spread)}${k.timing.spread > NOISY_SPREAD ? ` ${NOISY}` : ''}`, fmt(k.value), k.metric, fmt(k.ratio), k.reference, k.fmaRatio !== undefined ? fmt(k.fmaRatio) : '', t ? fmt(t.value) : '', targetVerdict(t)]);
  }
  const t = table(rows, 'num');
  t.id = 'kernels-table';
  r.kernels.forEach((k, i) => k.target && !k.target.met && t.rows[i + 1].classList.add('missed'));
  const noisy = markNoisy(t);
  ctx.output?.appendChild(scroll(t));
  const notes = el('div', undefined, 'meta');
  notes.id = 'kernels-notes';
  notes.appendChild(el('p', "ratio: GB/s over the copy kernel's at the same tensor size, or GFLOP/s over the SGEMM's at the same GEMM. target ratio: what the target is about: the ratio, except a conv backward's, which is its time over the forward's (target <= 1.5). Rows that miss their target are highlighted."));
  if (noisy) notes.appendChild(el('p', `${NOISY} spread (p90 - p10 of the repetitions, over the median) above ${pct(NOISY_SPREAD)}: ${noisy} measurement${noisy === 1 ? ' is' : 's are'} noisy (a loaded host, or too few repetitions), so ${noisy === 1 ? 'its' : 'their'} figures and verdicts may not repeat.`, 'noisy'));
  ctx.output?.appendChild(notes);
  const targets = r.kernels.filter((k) => k.target);
  ctx.output?.appendChild(el('p', `targets: ${targets.filter((k) => k.target!.met).length} of ${targets.length} met`, 'summary'));
  // One chart per panel, at the page's width; numbers in the tooltip and data table as in the table above (fmt).
  for (const part of kernelChartParts(r)) {
    const chart = new ChartView(`kernels-chart-${part.key}`, { aspect: 0.45, format: fmt });
    ctx.output?.appendChild(chart.element);
    chart.bars(part.options);
  }
}

async function kernelsTask(ctx: TaskContext, view: View) {
  const quick = (ctx.params.get('mode') ?? 'quick') !== 'full';
  const bar = progressBar(ctx, 'kernels-progress');
  let last: KernelProgress | null = null;
  const opts = {
    ...kernelOptionsFromParams(ctx.params, quick, (line) => {
      ctx.log(`  ${line}`);
      ctx.progress(line);
    }),
    progress: (p: KernelProgress) => {
      last = p;
      bar(p.done, p.total, p.text);
    },
    // Polled by the bench before each case: a stop returns the kernels timed so far.
    cancelled: () => !!ctx.cancelled?.(),
  };
  const result = await runKernelBench(ctx.rt, opts);
  const { done, total } = (last as KernelProgress | null) ?? { done: 0, total: 1 };
  bar(result.partial ? done : total, total, result.partial ? `stopped before ${result.stoppedAt}` : `done: ${result.kernels.length} kernels timed`);
  renderKernels(ctx, result);
  view.download = () => downloadJson(result);
  return { result, ...(result.partial ? { partial: true, stop: 'stopped' } : {}) };
}

// ---- tuning ----------------------------------------------------------------------------------------

const TUNING_STORAGE = 'wrn-tuning-cache';
/** What the adapter panel says about the tuning cache (set by applyBrowserTuning and the Tune view). */
let browserTuningLine = 'none: the Tune view picks kernels for this GPU';

function storedTuning(): TuningCache | null {
  const text = globalThis.localStorage?.getItem(TUNING_STORAGE);
  if (!text) return null;
  try {
    return validateCache(JSON.parse(text), `this browser's stored tuning cache (localStorage '${TUNING_STORAGE}')`);
  } catch (e) {
    browserTuningLine = `ignored: ${(e as Error).message}`;
    return null;
  }
}

/** Overlay the choices stored in this browser for this adapter (at page load); returns what the panel says. */
export function applyBrowserTuning(rt: TaskContext['rt']): string {
  const cache = storedTuning();
  if (!cache) return browserTuningLine;
  const { applied, line } = applyCache(rt, cache, 'stored in this browser');
  return (browserTuningLine = applied ? line : `${line.replace(/: run wrn tune again$/, '')}; the Tune view picks kernels again`);
}

async function tuneTask(ctx: TaskContext) {
  const p = ctx.params;
  const entry = await runTune(ctx.rt, {
    depth: intParam(p, 'depth', 10, 4),
    width: intParam(p, 'width', 1, 1),
    batch: intParam(p, 'batch', 4, 1),
    rounds: intParam(p, 'rounds', 2, 1),
    command: `the lab's Tune view (${navigator.userAgent})`,
    log: (line) => {
      ctx.log(`  ${line}`);
      ctx.progress(line);
      checkCancel(ctx);
    },
  });
  const cache = withEntry(storedTuning(), entry);
  globalThis.localStorage?.setItem(TUNING_STORAGE, JSON.stringify(cache));
  // From now on the page runs the stored choices (the static profile with this adapter's entry).
  ctx.rt.setProfile({ ...ctx.rt.profile, conv2d: { ...ctx.rt.profile.conv2d, chosen: undefined } });
  applyBrowserTuning(ctx.rt);
  const panel = document.getElementById('adapter');
  if (panel) renderAdapter(panel, adapterReport(ctx));
  const summary = el('p', `${tuneSummary(entry)} Stored in this browser and in use.`, 'summary');
  summary.id = 'tune-summary';
  ctx.output?.appendChild(summary);
  const t = table(tuneRows(entry), 'num');
  t.id = 'tune-table';
  ctx.output?.appendChild(scroll(t));
  return { result: entry };
}

// ---- step benchmark ------------------------------------------------------------------------------

/** The committed measurement the view leads with (bench/results/bn-cost/, the README's first result). */
const COMMITTED_BN_COST =
  "Measured on SwiftShader (2 CPU cores, bench/results/bn-cost/, 2026-12-02): BN's cost of a WRN-16-1 training step at batch 32 is not resolved there (bn - skipinit 4.3% with a spread of 13.5% over 5 interleaved rounds; 1.0-2.7% in three earlier runs); its kernels take 4.6% ± 0.1% of the bn step's GPU time; fused into the convolutions they take 1.7% and the step moves 25% fewer bytes, but the fusion's own effect on the step is not resolved there (-3.5%, spread 11.1%); at the roofline floor on an H200 BN's kernels would be 22.6% of the step and the fused step 12% faster than bn's (a projection).";

function renderStep(ctx: TaskContext, r: StepBenchResult, requestedRounds: number): void {
  if (r.partial) {
    const n = r.rounds.length;
    partialNote(ctx, 'step-partial', `stopped before ${r.stoppedAt}: ${n} of ${requestedRounds} rounds finished; ${n ? `the tables and chart show ${n === 1 ? 'that round' : 'those rounds'} only` : 'nothing to show'}`);
    if (!n) return;
  }
  // The result first, with its error bar; then how it was measured, the tables and the chart.
  const headline = el('p', r.bnCost.headline, 'summary');
  headline.id = 'step-headline';
  ctx.output?.appendChild(headline);
  const ul = el('ul', undefined, 'summary');
  ul.id = 'step-summary';
  for (const l of bnCostLines(r)) ul.appendChild(el('li', l));
  ctx.output?.appendChild(ul);
  for (const l of conditionLines(r)) ctx.output?.appendChild(el('p', l, 'meta'));
  // A wall or GPU time whose range over the rounds exceeds NOISY_SPREAD of its median gets the mark.
  const rows = stepRows(r);
  const cols = [rows[0].indexOf('wall ms/step'), rows[0].indexOf('GPU ms/step')];
  r.variants.forEach((v, i) => {
    for (const [c, s] of [[cols[0], v.wall], [cols[1], v.gpu]] as const) {
      if (c >= 0 && s && s.n > 1 && (s.max - s.min) / s.median > NOISY_SPREAD) rows[i + 1][c] += ` ${NOISY}`;
    }
  });
  const t = table(rows, 'num');
  t.id = 'step-table';
  const noisy = markNoisy(t);
  ctx.output?.appendChild(scroll(t));
  const note = el('p', 'wall and GPU ms/step: median [min, max] over rounds; categories: median GPU ms (share).', 'meta');
  note.id = 'step-notes';
  if (noisy) note.appendChild(el('span', ` ${NOISY} range over the rounds above ${pct(NOISY_SPREAD)} of the median: the measurement is noisy (a loaded host, or too few rounds); a difference between variants smaller than it is not resolved.`, 'noisy'));
  ctx.output?.appendChild(note);
  ctx.output?.appendChild(el('p', 'Roofline on this adapter: each dispatch\'s floor is its bytes over the copy bandwidth or its FLOPs over the FMA peak, both measured in the same rounds; efficiency = floor / measured.', 'meta'));
  const roof = table(rooflineRows(r), 'num');
  roof.id = 'step-roofline';
  ctx.output?.appendChild(scroll(roof));
  ctx.output?.appendChild(el('p', 'PROJECTION, not a measurement: the same dispatches at the roofline floor of published peaks.', 'meta'));
  const proj = table(projectionRows(r), 'num');
  proj.id = 'step-projection';
  ctx.output?.appendChild(scroll(proj));
  for (const part of stepChartParts(r)) {
    const chart = new ChartView(`step-chart-${part.key}`, { aspect: 0.5, maxWidth: 1000, format: fmt });
    ctx.output?.appendChild(chart.element);
    chart.bars(part.options);
  }
}

async function stepTask(ctx: TaskContext, view: View) {
  const p = ctx.params;
  const d = stepDefaults(true);
  const variants = p.get('variants');
  const bar = progressBar(ctx, 'step-progress');
  let last: StepProgress | null = null;
  const rounds = intParam(p, 'rounds', d.rounds, 1);
  const result = await runStepBench(ctx.rt, {
    depth: intParam(p, 'depth', d.depth, 4),
    width: intParam(p, 'width', d.width, 1),
    batch: intParam(p, 'batch', d.batch, 1),
    steps: intParam(p, 'steps', d.steps, 1),
    warmup: intParam(p, 'warmup', d.warmup, 0),
    rounds,
    profiledSteps: intParam(p, 'profiledSteps', 1, 0),
    quick: true,
    variants: variants ? variants.split(',').map((s) => s.trim()) : undefined,
    wallClock: p.get('wallClock') === '1',
    runtime: `browser: ${navigator.userAgent}`,
    commit: p.get('commit') || null,
    log: (line) => {
      ctx.log(`  ${line}`);
      ctx.progress(line);
    },
    progress: (s) => {
      last = s;
      bar(s.done, s.total, s.text);
    },
    // Polled by the bench before every step: a stop returns the rounds that finished.
    cancelled: () => !!ctx.cancelled?.(),
  });
  const { done, total } = (last as StepProgress | null) ?? { done: 0, total: 1 };
  bar(result.partial ? done : total, total, result.partial ? `stopped before ${result.stoppedAt}` : `done: ${rounds} rounds of ${result.variants.length} variants`);
  renderStep(ctx, result, rounds);
  // A partial result is downloadable as long as a round finished (else it holds no measurement).
  if (result.rounds.length) view.download = () => downloadJson(result);
  return { result, ...(result.partial ? { partial: true, stop: 'stopped' } : {}) };
}

// ---- training ------------------------------------------------------------------------------------

/** Files dropped onto the training view (or chosen with its file input), and who waits for them. */
const dropped: { files: File[]; waiters: (() => void)[] } = { files: [], waiters: [] };

export function setDroppedFiles(files: File[]): void {
  dropped.files = files;
  for (const w of dropped.waiters.splice(0)) w();
}

/** A checkpoint loaded into the page: the next training run continues it. */
let loadedCheckpoint: { name: string; ckpt: Checkpoint<CheckpointHeader> } | null = null;

/** The model of the last training run, for "download checkpoint". */
let lastRun: { cfg: TrainConfig; model: WideResNet; velocities: Tensor[]; progress: Progress; dataHash: string } | null = null;

type Progress = TrainProgress;

/** Load a checkpoint file (bytes) into the page; returns a line saying what it holds. Errors as the CLI's. */
export function loadCheckpointBytes(bytes: Uint8Array, name: string): string {
  const ckpt = checkTrainCheckpoint(decodeCheckpoint<CheckpointHeader>(bytes, name), name); // as wrn train --resume checks it
  loadedCheckpoint = { name, ckpt };
  const c = { ...DEFAULT_TRAIN, ...ckpt.header.config };
  return `loaded ${name}: WRN-${c.depth}-${c.widen} ${c.variant}, batch ${c.batchSize}, lr ${c.lr}, ${c.epochs} epochs, data ${c.data.source}; at epoch ${ckpt.header.epoch + 1}, step ${ckpt.header.step}. Run continues it.`;
}

export function loadedConfig(): TrainConfig | null {
  return loadedCheckpoint ? { ...DEFAULT_TRAIN, ...loadedCheckpoint.ckpt.header.config } : null;
}

/** Download the last run's checkpoint (the format `wrn train --resume` reads). */
export async function downloadCheckpoint(): Promise<void> {
  if (!lastRun) throw new Error('no training run to save yet: run one first');
  const { cfg, model, velocities, progress: p, dataHash: hash } = lastRun;
  const entries = checkpointEntries(model, velocities);
  const arrays = await Promise.all(entries.map((e) => e.tensor.toArray()));
  const header: CheckpointHeader = { kind: 'wrn-train', config: cfg, ...p, history: [...p.history], losses: [...p.losses], lrs: [...p.lrs], dataHash: hash };
  const parts = encodeCheckpoint(header, entries.map((e, i) => ({ name: e.name, shape: [...e.tensor.shape], data: arrays[i] })));
  download(`wrn-${cfg.depth}-${cfg.widen}-${cfg.variant}-step${p.step}.wrnckpt`, parts as BlobPart[]);
}

async function trainData(ctx: TaskContext, spec: TrainConfig['data'], seed: number): Promise<{ train: Dataset; test: Dataset; source: string }> {
  if (spec.source === 'synthetic') {
    for (const [what, n] of [['train images', spec.trainCount], ['test images', spec.testCount]] as const) {
      if (n > SYNTHETIC_MAX_COUNT) throw new Error(`train: synthetic ${what} ${n}: the synthetic set is capped at ${SYNTHETIC_MAX_COUNT} images per split`);
    }
    // As `wrn train --data synthetic` draws it (src/data/load.ts), so a resume sees the same images.
    let { train, test } = makeSynthetic({ trainCount: spec.trainCount || 768, testCount: spec.testCount || 250, seed });
    if (spec.imageSize) {
      train = resizeDataset(train, spec.imageSize);
      test = resizeDataset(test, spec.imageSize);
    }
    return { train, test, source: 'synthetic' };
  }
  if (spec.source === 'fashion-mnist') return readServedFashionMnist(spec);
  if (!dropped.files.length) {
    if (ctx.params.get('task')) {
      ctx.log('waiting for dropped files (Fashion-MNIST IDX files or CIFAR-10 .bin files)');
      await new Promise<void>((r) => dropped.waiters.push(r));
    } else throw new Error('train: no files dropped: drop the four Fashion-MNIST IDX files (.gz or not) or CIFAR-10 data_batch_N.bin + test_batch.bin onto the page, or choose synthetic data');
  }
  return readDropped(dropped.files, spec);
}

/** The training view's data choices: the machine's Fashion-MNIST served with the page (the default), the embedded synthetic set, dropped files. */
const TRAIN_DATA = ['fashion-mnist', 'synthetic', 'files'];

async function trainTask(ctx: TaskContext, view: View) {
  const p = ctx.params;
  const resume = loadedCheckpoint;
  let cfg: TrainConfig;
  if (resume) {
    // The checkpoint's run (its schedule too) whatever epochs the form asks for now; the page runs on
    // WebGPU; the page's max steps (none from the form), not the checkpoint's: a run stopped by its
    // max steps goes on to the end of its epochs.
    cfg = resumeConfig(checkpointConfig(resume.ckpt), { epochs: intParam(p, 'epochs', resume.ckpt.header.config.epochs, 1), maxSteps: intParam(p, 'maxSteps', 0, 0), device: 'webgpu' });
  } else {
    const variant = (p.get('variant') ?? 'bn') as Variant;
    if (!VARIANTS.includes(variant)) throw new Error(`train: variant must be one of ${VARIANTS.join(', ')}, got '${variant}'`);
    const source = p.get('data') ?? 'fashion-mnist';
    if (!TRAIN_DATA.includes(source)) throw new Error(`train: data must be one of ${TRAIN_DATA.join(', ')}, got '${source}'`);
    // The CLI's main job (wrn train with no flags) unless the form says otherwise.
    const J = DEFAULT_JOB;
    cfg = {
      ...J,
      variant,
      depth: intParam(p, 'depth', J.depth, 4),
      widen: intParam(p, 'width', J.widen, 1),
      batchSize: intParam(p, 'batch', J.batchSize, 1),
      lr: numParam(p, 'lr', J.lr),
      epochs: intParam(p, 'epochs', J.epochs, 1),
      seed: intParam(p, 'seed', J.seed, 0),
      augment: p.has('augment') ? p.get('augment') !== '0' : J.augment,
      maxSteps: intParam(p, 'maxSteps', 0, 0),
      out: 'runs/browser',
      device: 'webgpu',
      data: { source, trainCount: intParam(p, 'trainCount', J.data.trainCount, 0), testCount: intParam(p, 'testCount', J.data.testCount, 0), imageSize: intParam(p, 'imageSize', J.data.imageSize, 0) },
    };
  }
  validateTrainConfig(cfg); // before waiting for dropped files
  const data = await trainData(ctx, cfg.data, cfg.seed);
  if (cfg.data.source === 'files') cfg = { ...cfg, data: { ...cfg.data, source: data.source } };
  // Opened as the CLI's trainer opens a run (src/train/open.ts): the same rules, the same resume.
  const opened = openSettings(cfg, data, resume);
  cfg = opened.cfg;
  const batchesPerEpoch = opened.batchesPerEpoch;

  if (lastRun) {
    lastRun.model.release();
    lastRun.velocities.forEach((v) => v.release());
    lastRun = null;
  }
  const { model, velocities, progress: pr } = openModel(cfg, data, resume);
  const h = resume?.ckpt.header;
  loadedCheckpoint = null; // used once
  lastRun = { cfg, model, velocities, progress: pr, dataHash: dataHash(data) };

  const title = `WRN-${cfg.depth}-${cfg.widen} ${cfg.variant}`;
  ctx.log(
    `${title} (${model.parameterCount.toLocaleString('en')} parameters) on ${data.train.name}: ${data.train.count} train / ${data.test.count} test images of ` +
      `${data.train.channels}x${data.train.height}x${data.train.width}, ${cfg.epochs} epoch${cfg.epochs === 1 ? '' : 's'} x ${batchesPerEpoch} steps of ${cfg.batchSize}` +
      (h ? `; resumed at epoch ${pr.epoch + 1} step ${pr.step}` : ''),
  );
  const stats = el('div', '', 'stats');
  stats.id = 'train-stats';
  // The live curves: the loss per step with its smoothed line, test accuracy with the chance line.
  const lossView = new ChartView('train-chart-loss', { aspect: 0.55, maxWidth: 720 });
  const accView = new ChartView('train-chart-accuracy', { aspect: 0.55, maxWidth: 720 });
  const curves = el('div', undefined, 'chart-grid');
  curves.append(lossView.element, accView.element);
  ctx.output?.append(stats, curves);
  const chance = 100 / data.train.classes.length;
  const draw = () => {
    const steps = pr.losses.map((_, i) => i + 1);
    const lastStep = Math.max(1, totalSteps);
    lossView.line({
      title: `${title}: training loss`,
      xLabel: 'step',
      yLabel: 'cross-entropy',
      series: [
        { name: 'per step', x: steps, y: pr.losses, color: '#bbbbbb' },
        { name: `smoothed (${LIVE_SMOOTHING})`, x: steps, y: smoothSeries(pr.losses, LIVE_SMOOTHING) },
      ],
      xMin: 0,
      xMax: lastStep,
    });
    accView.line({
      title: `${title}: test accuracy`,
      xLabel: 'step',
      yLabel: 'accuracy (%)',
      series: [{ name: 'test', x: pr.history.map((e) => e.step), y: pr.history.map((e) => 100 * e.testAccuracy), markers: true }],
      refLines: [{ y: chance, label: `chance (${chance.toFixed(0)}%)` }],
      yMin: 0,
      yMax: 100,
      xMin: 0,
      xMax: lastStep,
    });
    lossView.canvas.dataset.points = String(pr.losses.length);
  };

  const norm = datasetNorm(data.train);
  const totalSteps = cfg.epochs * batchesPerEpoch;
  draw();
  const t0 = performance.now();
  let stepsThisRun = 0;
  let lastDraw = 0;
  // Rates from steady-state steps only: the first step of a run compiles every pipeline (~30 s on
  // a CPU adapter), and evaluations are not steps. steadySteps/steadySeconds sum steps 2.. of this run.
  let lastMark = t0;
  let steadySteps = 0;
  let steadySeconds = 0;
  const bar = el('progress');
  bar.max = totalSteps;
  bar.value = pr.step;
  bar.id = 'train-progress';
  bar.setAttribute('aria-label', 'training progress');
  stats.before(bar);
  stats.textContent = `compiling kernels: the first step builds every pipeline${h ? ` (resuming at step ${pr.step})` : ''}...`;
  const show = (loss: number, lr: number) => {
    const perStep = steadySteps ? steadySeconds / steadySteps : NaN;
    const ips = cfg.batchSize / perStep;
    const eta = (totalSteps - pr.step) * perStep;
    const last = pr.history[pr.history.length - 1];
    bar.value = pr.step;
    stats.textContent =
      `epoch ${Math.min(pr.epoch + 1, cfg.epochs)}/${cfg.epochs}  step ${pr.step}/${totalSteps}  loss ${Number.isFinite(loss) ? loss.toFixed(4) : '-'}  lr ${lr.toPrecision(3)}  ` +
      (steadySteps ? `${ips.toFixed(1)} img/s  ETA ${fmtSeconds(eta)}` : 'img/s and ETA after the second step') +
      (last ? `  test accuracy ${(100 * last.testAccuracy).toFixed(2)}% (epoch ${last.epoch})` : '');
  };
  const ended = await trainEpochs(cfg, model, velocities, data, pr, norm, 'webgpu', {
    diverged: (why, lr) => {
      lastRun = null; // never offer a poisoned model
      model.release();
      velocities.forEach((v) => v.release());
      throw new Error(`${divergedAt(pr, why, lr)} Lower the learning rate.`);
    },
    afterStep: async (loss, lr) => {
      stepsThisRun++;
      ctx.progress({ step: pr.step, loss });
      const now = performance.now();
      if (stepsThisRun > 1) {
        steadySteps++;
        steadySeconds += (now - lastMark) / 1000;
      }
      lastMark = now;
      if (now - lastDraw > 250 || pr.step === totalSteps) {
        lastDraw = now;
        show(loss, lr);
        draw();
      }
      await yieldToPage(); // the page stays responsive; the Stop button is read here
      return !!ctx.cancelled?.();
    },
    beforeEval: async () => {
      stats.textContent += '  (evaluating...)';
      await yieldToPage();
    },
    afterEpoch: (r, line) => {
      ctx.log(line);
      show(pr.losses[pr.losses.length - 1] ?? NaN, r.lr);
      draw();
      lastMark = performance.now(); // the evaluation is not a step
    },
  });
  const stop: 'finished' | 'max-steps' | 'stopped' = ended;
  const seconds = (performance.now() - t0) / 1000;
  show(pr.losses[pr.losses.length - 1] ?? NaN, learningRate(cfg, Math.min(pr.epoch, cfg.epochs - 1)));
  draw();
  const last = pr.history[pr.history.length - 1];
  stats.textContent += `  -- ${stop === 'finished' ? 'finished' : stop === 'stopped' ? `stopped after ${pr.step} steps` : `stopped after ${pr.step} steps (max steps)`} in ${fmtSeconds(seconds)}; download the checkpoint to resume with wrn train --resume`;
  // The run list keeps copies; the result (the page's JSON) shares its metadata and rates.
  const run = trainRuns.add({
    name: title,
    date: new Date().toISOString(),
    adapter: describeAdapter(ctx.rt.ctx.adapter),
    userAgent: navigator.userAgent,
    commit: BUILD_COMMIT,
    config: cfg,
    data: data.train.name,
    classes: data.train.classes.length,
    losses: [...pr.losses],
    lrs: [...pr.lrs],
    history: [...pr.history],
    steps: pr.step,
    stop,
    seconds,
    // Steady-state steps only: the first step compiles the pipelines.
    imagesPerSecond: steadySteps ? (steadySteps * cfg.batchSize) / steadySeconds : NaN,
    finalTestAccuracy: last ? last.testAccuracy : NaN,
    resumedFrom: h ? h.step : null,
  });
  const result = {
    kind: 'wrn-browser-train',
    date: run.date,
    adapter: run.adapter,
    commit: run.commit,
    config: cfg,
    parameters: model.parameterCount,
    data: `${data.train.name}: ${data.train.count} train / ${data.test.count} test images of ${data.train.channels}x${data.train.height}x${data.train.width}`,
    steps: pr.step,
    losses: pr.losses,
    lrs: pr.lrs,
    history: pr.history,
    finalTestAccuracy: run.finalTestAccuracy,
    imagesPerSecond: run.imagesPerSecond,
    seconds,
    stop,
  };
  // As summary.json of a run directory, with every step's loss.
  view.download = () => download(`train-${title.replace(/\s+/g, '-')}-browser.json`, [JSON.stringify(result, null, 2) + '\n'], 'application/json');
  return result;
}

// ---- the views -----------------------------------------------------------------------------------

export const VIEWS: View[] = [];

function view(v: Omit<View, 'task'>, task: (ctx: TaskContext, v: View) => Promise<Record<string, unknown>>): void {
  const full = v as View;
  full.task = (ctx) => task(ctx, full);
  VIEWS.push(full);
}

view(
  {
    name: 'tune',
    title: 'Tune',
    blurb:
      "Pick the fastest correct implementation of every convolution of a WRN's training step for this GPU (wrn tune): each candidate is checked against the CPU reference first (a wrong one is refused), then timed. The choices are stored in this browser and used from then on (the adapter panel says so).",
    controls: [
      { name: 'depth', label: 'depth', value: '10' },
      { name: 'width', label: 'width', value: '1' },
      { name: 'batch', label: 'batch', value: '4' },
      { name: 'rounds', label: 'rounds', value: '2', help: 'interleaved timing rounds per convolution' },
    ],
  },
  tuneTask,
);
view({ name: 'adapter', title: 'Adapter', blurb: "This browser's WebGPU adapter: what it is, its features and limits, and the tuning profile the engine picked for it.", controls: [] }, adapterTask);
view(
  {
    name: 'check',
    title: 'Kernel checks',
    blurb: 'Every WGSL kernel against its CPU reference on random inputs of awkward shapes (the same checks as wrn check).',
    controls: [{ name: 'filter', label: 'only names containing', value: '', help: 'e.g. conv2d, batchNorm, skipAdd' }],
  },
  checkTask,
);
view(
  {
    name: 'kernels',
    title: 'Kernel benchmark',
    blurb: "The hot kernels at WRN-16-4 shapes (wrn bench kernels): each one's GB/s or GFLOP/s over this adapter's own limits, a vec4 copy and a tiled SGEMM measured in the same run. Targets: 0.7.",
    controls: [
      { name: 'mode', label: 'size', value: 'quick', options: ['quick', 'full'], help: 'quick: a minute on a CPU adapter; full: the wrn bench kernels defaults' },
      { name: 'batch', label: 'batch', value: '2' },
    ],
  },
  kernelsTask,
);
view(
  {
    name: 'step',
    title: 'Step benchmark',
    blurb: `${COMMITTED_BN_COST} Run it here: whole training steps (forward, loss, backward, SGD) of bn, bn-tiled (bn on the fused arm's conv kernels), bn-fused (BN fused into the convolutions), skipinit and unnormalized, interleaved over rounds (wrn bench step): BN's cost on this GPU two ways, with error bars, the roofline floors and the projection onto published GPUs.`,
    controls: [
      { name: 'depth', label: 'depth', value: '10' },
      { name: 'width', label: 'width', value: '1' },
      { name: 'batch', label: 'batch', value: '4' },
      { name: 'rounds', label: 'rounds', value: '3', help: 'interleaved rounds: medians and ranges are over rounds' },
      { name: 'steps', label: 'timed steps', value: '2', help: 'per variant and round, the variants alternating step by step' },
      { name: 'warmup', label: 'warm-up steps', value: '1', help: 'untimed steps first (pipeline compilation)' },
    ],
  },
  stepTask,
);
view(
  {
    name: 'train',
    title: 'Training',
    blurb:
      "Train a WRN here with live curves. The defaults are the CLI's main job (wrn train with no flags: 82.8% ± 0.8% over 3 seeds on Fashion-MNIST in the CLI) on the machine's Fashion-MNIST, served with this page by wrn browser --serve; or the embedded synthetic set, or Fashion-MNIST / CIFAR-10 files dropped onto this view. The checkpoint downloads in the format wrn train --resume reads (served Fashion-MNIST: with no flags; dropped files: with --data DIR).",
    controls: [
      { name: 'variant', label: 'variant', value: DEFAULT_JOB.variant, options: VARIANTS },
      { name: 'depth', label: 'depth', value: String(DEFAULT_JOB.depth) },
      { name: 'width', label: 'width', value: String(DEFAULT_JOB.widen) },
      { name: 'batch', label: 'batch', value: String(DEFAULT_JOB.batchSize) },
      { name: 'lr', label: 'learning rate', value: String(DEFAULT_JOB.lr) },
      { name: 'epochs', label: 'epochs', value: String(DEFAULT_JOB.epochs) },
      { name: 'data', label: 'data', value: 'fashion-mnist', options: TRAIN_DATA, help: 'fashion-mnist: the files the server has (apt install dataset-fashion-mnist)' },
      { name: 'trainCount', label: 'train images', value: String(DEFAULT_JOB.data.trainCount), help: 'the first N (0: all)' },
      { name: 'testCount', label: 'test images', value: String(DEFAULT_JOB.data.testCount) },
      { name: 'imageSize', label: 'image size', value: String(DEFAULT_JOB.data.imageSize), help: '0: native' },
    ],
  },
  trainTask,
);
