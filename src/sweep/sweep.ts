// Sweeps over depth, variant, learning rate and batch size with several seeds per point, in the
// paper's aggregation: at each (variant, depth, batch size) and learning rate, the mean and std of
// the best k of n seeds' test accuracies; the optimal learning rate is the one with the best mean.
//
// Resumable: every finished run is appended to runs.jsonl as one line; a restarted sweep skips the
// runs recorded there, and a run cut off mid-way resumes from its own checkpoint. settings.json
// holds what every run shares (schedule, width, data); a restart with other settings is refused,
// since its runs would be mixed with the old ones in one table.
import { appendFileSync, existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { train, DivergedError, type TrainConfig } from '../train/trainer.js';
import { writeFileAtomic } from '../train/checkpoint.js';
import type { Variant } from '../model/wrn.js';
import type { Dataset } from '../data/cifar.js';

export interface SweepGrid {
  depths: number[];
  variants: Variant[];
  lrs: number[];
  batchSizes: number[];
  seeds: number;
  /** best k of n seeds are aggregated */
  bestK: number;
}

export interface RunRecord {
  key: string;
  variant: Variant;
  depth: number;
  batchSize: number;
  lr: number;
  seed: number;
  diverged: boolean;
  testAccuracy: number;
  trainLoss: number;
  steps: number;
  seconds: number;
  message: string;
}

export const runKey = (variant: string, depth: number, batchSize: number, lr: number, seed: number) => `${variant}_d${depth}_b${batchSize}_lr${lr}_s${seed}`;

/** A logarithmic grid of `points` learning rates from lo to hi. */
export function logGrid(lo: number, hi: number, points: number): number[] {
  if (!(lo > 0 && hi >= lo && Number.isInteger(points) && points >= 1)) throw new Error(`learning-rate grid: need 0 < min <= max and points >= 1, got ${lo}, ${hi}, ${points}`);
  if (points === 1) return [lo];
  return Array.from({ length: points }, (_, i) => Number((lo * Math.pow(hi / lo, i / (points - 1))).toPrecision(3)));
}

export function readRuns(path: string): RunRecord[] {
  if (!existsSync(path)) return [];
  const out: RunRecord[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line) => {
      if (!line.trim()) return;
      try {
        out.push(JSON.parse(line) as RunRecord);
      } catch {
        // A line cut off by a crash mid-write is ignored: its run is simply done again.
      }
    });
  return out;
}

export interface SweepOptions {
  grid: SweepGrid;
  /** Settings shared by every run (epochs, schedule, width, device, ...). */
  base: TrainConfig;
  data: { train: Dataset; test: Dataset };
  out: string;
  log?: (line: string) => void;
}

/** What every run of a sweep shares: runs recorded under other settings cannot be resumed or mixed. */
export function sharedSettings(o: Pick<SweepOptions, 'base' | 'data'>): Record<string, string | number> {
  const b = o.base;
  return {
    epochs: b.epochs, width: b.widen, alphaInit: b.alphaInit, momentum: b.momentum, weightDecay: b.weightDecay,
    lrConstantFraction: b.lrConstantFraction, lrDecayEvery: b.lrDecayEvery, lrDecayFactor: b.lrDecayFactor,
    train: `${o.data.train.name} (${o.data.train.count} images)`, test: `${o.data.test.name} (${o.data.test.count} images)`,
  };
}

/** Write settings.json on the first start; on a restart, refuse settings that differ from it. */
function checkSettings(out: string, settings: Record<string, string | number>): void {
  const path = join(out, 'settings.json');
  if (!existsSync(path)) {
    writeFileAtomic(path, [new TextEncoder().encode(JSON.stringify(settings, null, 2) + '\n')]);
    return;
  }
  const old = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const diffs = Object.keys(settings).filter((k) => old[k] !== settings[k]).map((k) => `${k}: ${JSON.stringify(old[k])} there, ${JSON.stringify(settings[k])} now`);
  if (diffs.length) {
    throw new Error(`sweep directory ${out} holds runs made with other settings (${diffs.join('; ')}); use another --out, or the settings in ${path}`);
  }
}

/** Run every grid point not yet in runs.jsonl. Returns all records (old and new). */
export async function runSweep(o: SweepOptions): Promise<RunRecord[]> {
  const log = o.log ?? ((l: string) => console.log(l));
  mkdirSync(o.out, { recursive: true });
  checkSettings(o.out, sharedSettings(o));
  const runsPath = join(o.out, 'runs.jsonl');
  const records = readRuns(runsPath);
  // A line cut off by a crash has no newline: end it so the next record starts on its own line.
  if (existsSync(runsPath)) {
    const text = readFileSync(runsPath, 'utf8');
    if (text.length && !text.endsWith('\n')) appendFileSync(runsPath, '\n');
  }
  const done = new Set(records.map((r) => r.key));
  const { grid } = o;
  const todo: Omit<RunRecord, 'diverged' | 'testAccuracy' | 'trainLoss' | 'steps' | 'seconds' | 'message'>[] = [];
  for (const depth of grid.depths)
    for (const variant of grid.variants)
      for (const batchSize of grid.batchSizes)
        for (const lr of grid.lrs)
          for (let seed = 0; seed < grid.seeds; seed++) {
            const key = runKey(variant, depth, batchSize, lr, seed);
            if (!done.has(key)) todo.push({ key, variant, depth, batchSize, lr, seed });
          }
  const total = todo.length + done.size;
  log(`sweep: ${total} runs in the grid, ${done.size} already done, ${todo.length} to run (results: ${runsPath})`);
  const t0 = performance.now();
  for (const [i, r] of todo.entries()) {
    const dir = join(o.out, 'runs', r.key);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    const cfg: TrainConfig = { ...o.base, depth: r.depth, variant: r.variant, batchSize: r.batchSize, lr: r.lr, seed: r.seed, out: dir, progressSeconds: 1e9 };
    const tRun = performance.now();
    let rec: RunRecord;
    try {
      const res = await train(cfg, o.data, { resume: existsSync(ckpt) ? ckpt : undefined, log: () => {} });
      const last = res.history[res.history.length - 1];
      rec = { ...r, diverged: false, testAccuracy: last?.testAccuracy ?? NaN, trainLoss: last?.trainLoss ?? NaN, steps: res.steps, seconds: (performance.now() - tRun) / 1000, message: res.message };
    } catch (e) {
      if (!(e instanceof DivergedError)) throw e;
      rec = { ...r, diverged: true, testAccuracy: NaN, trainLoss: NaN, steps: 0, seconds: (performance.now() - tRun) / 1000, message: e.message };
    }
    appendFileSync(runsPath, JSON.stringify(rec) + '\n');
    records.push(rec);
    const elapsed = (performance.now() - t0) / 1000;
    const eta = (elapsed / (i + 1)) * (todo.length - i - 1);
    log(
      `[${done.size + i + 1}/${total}] ${r.variant} depth ${r.depth} batch ${r.batchSize} lr ${r.lr} seed ${r.seed}: ` +
        (rec.diverged ? 'DIVERGED' : `test accuracy ${(100 * rec.testAccuracy).toFixed(1)}%, train loss ${rec.trainLoss.toFixed(3)}`) +
        ` (${rec.seconds.toFixed(0)} s; ETA ${Math.round(eta / 60)} min)`,
    );
  }
  return records;
}

export interface Cell {
  variant: Variant;
  depth: number;
  batchSize: number;
  /** the optimal learning rate and its best-k mean/std; null when every run diverged */
  bestLr: number | null;
  mean: number;
  std: number;
  runs: number;
  diverged: number;
  /** final training loss at the optimal learning rate: mean over its runs that did not diverge */
  trainLoss: number;
  /** per learning rate: best-k mean (NaN if all diverged) */
  perLr: { lr: number; mean: number; std: number; diverged: number }[];
}

/** The paper's aggregation over seeds, per (variant, depth, batch size). Diverged runs score 0. */
export function aggregate(records: RunRecord[], bestK: number): Cell[] {
  const groups = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = `${r.variant}|${r.depth}|${r.batchSize}`;
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const cells: Cell[] = [];
  for (const rs of groups.values()) {
    const lrs = [...new Set(rs.map((r) => r.lr))].sort((a, b) => a - b);
    const perLr = lrs.map((lr) => {
      const accs = rs.filter((r) => r.lr === lr).map((r) => (r.diverged || !Number.isFinite(r.testAccuracy) ? 0 : r.testAccuracy));
      const top = accs.sort((a, b) => b - a).slice(0, Math.min(bestK, accs.length));
      const mean = top.reduce((s, v) => s + v, 0) / top.length;
      const std = Math.sqrt(top.reduce((s, v) => s + (v - mean) ** 2, 0) / top.length);
      return { lr, mean, std, diverged: rs.filter((r) => r.lr === lr && r.diverged).length };
    });
    const best = perLr.reduce<(typeof perLr)[number] | null>((b, p) => (p.mean > 0 && (!b || p.mean > b.mean) ? p : b), null);
    const losses = rs.filter((r) => r.lr === best?.lr && !r.diverged && Number.isFinite(r.trainLoss)).map((r) => r.trainLoss);
    cells.push({
      variant: rs[0].variant,
      depth: rs[0].depth,
      batchSize: rs[0].batchSize,
      bestLr: best?.lr ?? null,
      mean: best?.mean ?? 0,
      std: best?.std ?? 0,
      runs: rs.length,
      diverged: rs.filter((r) => r.diverged).length,
      trainLoss: losses.length ? losses.reduce((a, v) => a + v, 0) / losses.length : NaN,
      perLr,
    });
  }
  return cells;
}

/**
 * Markdown in the paper's Table 1 layout: rows variants, columns depths; per batch size, one table
 * of test accuracy and one of the final training loss at the same optimal learning rate (at a
 * small scale the loss shows which nets train when test accuracies are still close to chance).
 */
export function markdownTable(cells: Cell[], bestK: number, seeds: number): string {
  const depths = [...new Set(cells.map((c) => c.depth))].sort((a, b) => a - b);
  const variants = [...new Set(cells.map((c) => c.variant))];
  const batches = [...new Set(cells.map((c) => c.batchSize))].sort((a, b) => a - b);
  const out: string[] = [];
  for (const b of batches) {
    out.push(`Test accuracy (%), mean ± std of the best ${bestK} of ${seeds} seeds at the optimal learning rate (in brackets); batch size ${b}.`, '');
    out.push(`| variant | ${depths.map((d) => `depth ${d}`).join(' | ')} |`);
    out.push(`| --- | ${depths.map(() => '---').join(' | ')} |`);
    for (const v of variants) {
      const row = depths.map((d) => {
        const c = cells.find((x) => x.variant === v && x.depth === d && x.batchSize === b);
        if (!c) return '';
        if (c.bestLr === null) return `diverged (${c.diverged}/${c.runs} runs)`;
        return `${(100 * c.mean).toFixed(1)} ± ${(100 * c.std).toFixed(1)} (${c.bestLr})${c.diverged ? `; ${c.diverged}/${c.runs} runs diverged` : ''}`;
      });
      out.push(`| ${v} | ${row.join(' | ')} |`);
    }
    out.push('', `Final training loss (mean over the runs at the optimal learning rate that did not diverge; ln 10 = 2.303 is chance); batch size ${b}.`, '');
    out.push(`| variant | ${depths.map((d) => `depth ${d}`).join(' | ')} |`);
    out.push(`| --- | ${depths.map(() => '---').join(' | ')} |`);
    for (const v of variants) {
      const row = depths.map((d) => {
        const c = cells.find((x) => x.variant === v && x.depth === d && x.batchSize === b);
        if (!c) return '';
        return c.bestLr === null ? 'diverged' : c.trainLoss.toFixed(3);
      });
      out.push(`| ${v} | ${row.join(' | ')} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
