// The training runs of this page visit, compared as a TensorBoard user would: every finished (or
// stopped) run stays in a list with its settings, adapter and final accuracy; ticked runs are
// overlaid on one chart per metric (training loss, smoothed; test accuracy with the chance line;
// test loss; learning rate); each run exports as JSON or CSV with its metadata. The pure parts
// (records, CSV, series) are tested in Node (test/web_runs.test.ts); the DOM part is the list.
import type { EpochRecord, TrainConfig } from '../train/config.js';
import type { LineSeries } from '../plot/charts.js';
import { download, el } from './ui.js';
import { ChartView, smoothSeries, type LineSpec } from './chart.js';

declare const __WRN_COMMIT__: string | undefined; // set by tools/build.mjs
export const BUILD_COMMIT = typeof __WRN_COMMIT__ === 'string' ? __WRN_COMMIT__ : 'unknown';

/** One training run of the page, with what a reader needs to tell where it came from. */
export interface PageRun {
  id: number;
  name: string;
  date: string;
  adapter: string;
  userAgent: string;
  commit: string;
  config: TrainConfig;
  data: string;
  classes: number;
  losses: number[];
  lrs: number[];
  history: EpochRecord[];
  steps: number;
  stop: string;
  seconds: number;
  imagesPerSecond: number;
  finalTestAccuracy: number;
  /** The checkpoint step it was resumed from (null: a fresh run). */
  resumedFrom: number | null;
}

/** "3: WRN-16-1 bn, lr 0.2, batch 64 (resumed at 100)". */
export function runLabel(r: PageRun): string {
  const c = r.config;
  return `${r.id}: WRN-${c.depth}-${c.widen} ${c.variant}, lr ${c.lr}, batch ${c.batchSize}${r.resumedFrom !== null ? ` (resumed at ${r.resumedFrom})` : ''}`;
}

/** The run as JSON: the page's result with its metadata (kind 'wrn-browser-train'). */
export function runJson(r: PageRun): string {
  const { id: _id, ...rest } = r;
  return JSON.stringify({ kind: 'wrn-browser-train', ...rest }, null, 2) + '\n';
}

const csvCell = (v: string | number) => {
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * The run as CSV: '#' lines of metadata (name, date, adapter, commit, settings as JSON), then one
 * row per step: step, epoch, loss, lr, and test loss and accuracy on the rows where an evaluation
 * ended (empty elsewhere).
 */
export function runCsv(r: PageRun): string {
  const meta = [
    ['run', r.name],
    ['date', r.date],
    ['adapter', r.adapter],
    ['user agent', r.userAgent],
    ['commit', r.commit],
    ['data', r.data],
    ['settings', JSON.stringify(r.config)],
  ].map(([k, v]) => `# ${k}: ${v.replace(/\n/g, ' ')}`);
  const evalAt = new Map(r.history.map((h) => [h.step, h]));
  const epochOf = (step: number) => 1 + r.history.filter((h) => h.step < step).length;
  const rows = r.losses.map((loss, i) => {
    const step = i + 1;
    const h = evalAt.get(step);
    return [step, epochOf(step), loss, r.lrs[i] ?? NaN, h ? h.testLoss : NaN, h ? h.testAccuracy : NaN].map(csvCell).join(',');
  });
  return [...meta, 'step,epoch,train_loss,lr,test_loss,test_accuracy', ...rows].join('\n') + '\n';
}

export type Metric = 'loss' | 'accuracy' | 'testLoss' | 'lr';

/** One series per run for a metric, against the step; colours follow the run's place in the list. */
export function overlaySeries(runs: PageRun[], metric: Metric, smoothing = 0): LineSeries[] {
  return runs.map((r) => {
    const name = runLabel(r);
    if (metric === 'loss') return { name, x: r.losses.map((_, i) => i + 1), y: smoothSeries(r.losses, smoothing) };
    if (metric === 'lr') return { name, x: r.lrs.map((_, i) => i + 1), y: r.lrs };
    const pick = metric === 'accuracy' ? (h: EpochRecord) => 100 * h.testAccuracy : (h: EpochRecord) => h.testLoss;
    return { name, x: r.history.map((h) => h.step), y: r.history.map(pick), markers: true };
  });
}

// ---- the list (DOM) ---------------------------------------------------------------------------

/** The run list and its overlay charts: one per page, under the training view's output. */
export class RunList {
  readonly element: HTMLElement;
  private readonly runs: PageRun[] = [];
  private readonly ticked = new Set<number>();
  private readonly tableBox: HTMLElement;
  private readonly charts: HTMLElement;
  private smoothing = 0.6;
  private readonly views = new Map<Metric, ChartView>();

  constructor() {
    this.element = el('section', undefined, 'runs');
    this.element.id = 'train-runs';
    this.element.setAttribute('aria-label', 'training runs of this page');
    this.element.hidden = true;
    const head = el('h3', 'Runs of this page');
    const smooth = el('input');
    smooth.type = 'range';
    smooth.min = '0';
    smooth.max = '0.99';
    smooth.step = '0.01';
    smooth.value = String(this.smoothing);
    smooth.id = 'train-smoothing';
    const smoothValue = el('output', smooth.value);
    smooth.oninput = () => {
      this.smoothing = Number(smooth.value);
      smoothValue.textContent = smooth.value;
      this.drawCharts();
    };
    const label = el('label', 'loss smoothing (exponential moving average weight, as TensorBoard) ');
    label.append(smooth, ' ', smoothValue);
    this.tableBox = el('div', undefined, 'scroll');
    this.charts = el('div', undefined, 'chart-grid');
    this.element.append(head, el('p', 'Every run since the page was opened. Tick runs to overlay their curves; export a run with its settings, adapter, date and commit.', 'meta'), this.tableBox, label, this.charts);
  }

  get all(): readonly PageRun[] {
    return this.runs;
  }

  /** Add a finished or stopped run; it is ticked (with the runs already ticked). */
  add(r: Omit<PageRun, 'id'>): PageRun {
    const run = { ...r, id: this.runs.length + 1 };
    this.runs.push(run);
    this.ticked.add(run.id);
    this.render();
    return run;
  }

  private render(): void {
    this.element.hidden = this.runs.length === 0;
    const t = el('table', undefined, 'num runs-table');
    t.id = 'train-runs-table';
    const head = el('tr');
    for (const h of ['show', 'run', 'data', 'adapter', 'date', 'steps', 'test accuracy', 'export']) head.appendChild(el('th', h));
    t.appendChild(head);
    for (const r of this.runs) {
      const tr = el('tr');
      const box = el('input');
      box.type = 'checkbox';
      box.checked = this.ticked.has(r.id);
      box.id = `train-run-${r.id}`;
      box.setAttribute('aria-label', `show run ${runLabel(r)}`);
      box.onchange = () => {
        if (box.checked) this.ticked.add(r.id);
        else this.ticked.delete(r.id);
        this.drawCharts();
      };
      const show = el('td');
      show.appendChild(box);
      const json = el('button', 'JSON');
      json.type = 'button';
      json.id = `train-run-${r.id}-json`;
      json.onclick = () => download(`run-${r.id}-${r.config.variant}.json`, [runJson(r)], 'application/json');
      const csv = el('button', 'CSV');
      csv.type = 'button';
      csv.id = `train-run-${r.id}-csv`;
      csv.onclick = () => download(`run-${r.id}-${r.config.variant}.csv`, [runCsv(r)], 'text/csv');
      const exp = el('td');
      exp.append(json, ' ', csv);
      const acc = Number.isFinite(r.finalTestAccuracy) ? `${(100 * r.finalTestAccuracy).toFixed(2)}%` : '-';
      tr.append(show, el('td', runLabel(r)), el('td', r.data), el('td', r.adapter), el('td', r.date.replace('T', ' ').slice(0, 19)), el('td', `${r.steps}${r.stop === 'finished' ? '' : ` (${r.stop})`}`), el('td', acc), exp);
      t.appendChild(tr);
    }
    this.tableBox.replaceChildren(t);
    this.drawCharts();
  }

  private drawCharts(): void {
    const shown = this.runs.filter((r) => this.ticked.has(r.id));
    const classes = Math.max(2, ...shown.map((r) => r.classes));
    const specs: [Metric, string, Omit<LineSpec, 'series'>][] = [
      ['loss', 'train-runs-loss', { title: `training loss (smoothing ${this.smoothing})`, xLabel: 'step', yLabel: 'cross-entropy' }],
      ['accuracy', 'train-runs-accuracy', { title: 'test accuracy', xLabel: 'step', yLabel: 'accuracy (%)', yMin: 0, yMax: 100, refLines: [{ y: 100 / classes, label: `chance (${(100 / classes).toFixed(0)}%)` }] }],
      ['testLoss', 'train-runs-test-loss', { title: 'test loss', xLabel: 'step', yLabel: 'cross-entropy' }],
      ['lr', 'train-runs-lr', { title: 'learning rate', xLabel: 'step', yLabel: 'lr' }],
    ];
    for (const [metric, id, o] of specs) {
      let view = this.views.get(metric);
      if (!view) {
        view = new ChartView(id, { aspect: 0.55, maxWidth: 720 });
        this.views.set(metric, view);
        this.charts.appendChild(view.element);
      }
      view.line({ ...o, series: overlaySeries(shown, metric, metric === 'loss' ? this.smoothing : 0), legend: true, xMin: 0 });
    }
  }
}
