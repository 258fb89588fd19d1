// Sweeps over depth, variant, learning rate and batch size with several seeds per point, in the
// paper's aggregation: at each (variant, depth, batch size) and learning rate, the mean and std of
// the best k of n seeds' test accuracies; the optimal learning rate is the one with the best mean.
//
// Resumable: every finished run is appended to runs.jsonl (a shard's to runs.I-of-N.jsonl) as one
// line; a restarted sweep skips the runs recorded in any of them, and a run cut off mid-way resumes
// from its own checkpoint. settings.json holds what every run shares (schedule, width, data); a
// restart or a shard with other settings is refused, since its runs would be mixed with the old
// ones in one table.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { train, DivergedError, type TrainConfig } from '../train/trainer.js';
import { writeFileAtomic, ensureDir, readFileChecked, statPath, createFileExclusive, appendWhole, listDir, removeFile } from '../util/fsx.js';
import { VARIANTS, type Variant } from '../model/wrn.js';
import type { Dataset } from '../data/cifar.js';

export interface SweepGrid {
  depths: number[];
  /** Arms: a variant, with its own alpha at init ('skipinit:alpha=1') and its own learning rates ('bn@0.1') or not. */
  variants: string[];
  lrs: number[];
  batchSizes: number[];
  seeds: number;
  /** best k of n seeds are aggregated */
  bestK: number;
}

export interface RunRecord {
  key: string;
  /** The arm ('bn', 'skipinit:alpha=1', ...). */
  variant: string;
  depth: number;
  batchSize: number;
  lr: number;
  seed: number;
  diverged: boolean;
  testAccuracy: number;
  /** Mean loss over the last epoch's steps (as trained: dropout active). */
  trainLoss: number;
  /**
   * The final weights' loss on the first test-count training images in inference mode (no
   * dropout, BN's running statistics); null where it is not finite (BN's running statistics blown
   * up by a huge rate); absent in records made before it was measured.
   */
  trainLossInference?: number | null;
  steps: number;
  seconds: number;
  message: string;
}

/** The final training loss the tables and claims use: in inference mode where measured (dropout does not count), else the last epoch's mean. */
export const finalTrainLoss = (r: RunRecord): number => (r.trainLossInference === null ? Infinity : (r.trainLossInference ?? r.trainLoss));

/**
 * An arm of the grid: 'VARIANT', 'VARIANT:alpha=X' (SkipInit's alpha at init for that arm), either
 * with '@LR/LR/...' (the arm runs at these learning rates instead of the grid's: 'bn@0.1'). The
 * arm's name in the records and tables is without the rates.
 */
export function parseArm(arm: string): { name: string; variant: Variant; alphaInit?: number; lrs?: number[] } {
  const num = '-?[\\d.]+(?:e-?\\d+)?';
  const m = new RegExp(`^(([a-z-]+)(?::alpha=(${num}))?)(?:@(${num}(?:/${num})*))?$`).exec(arm);
  const v = m?.[2] as Variant | undefined;
  if (!m || !v || !VARIANTS.includes(v)) throw new Error(`sweep: --variants: '${arm}' is not VARIANT, VARIANT:alpha=X, or either with @LR/LR/... (its own learning rates), with VARIANT one of ${VARIANTS.join(', ')}`);
  const lrs = m[4]?.split('/').map(Number);
  if (lrs && !lrs.every((lr) => lr > 0 && Number.isFinite(lr))) throw new Error(`sweep: --variants: '${arm}': the learning rates after @ must be positive numbers`);
  return { name: m[1], variant: v, ...(m[3] === undefined ? {} : { alphaInit: Number(m[3]) }), ...(lrs ? { lrs: [...new Set(lrs)].sort((a, b) => a - b) } : {}) };
}

export const runKey = (variant: string, depth: number, batchSize: number, lr: number, seed: number) => `${variant}_d${depth}_b${batchSize}_lr${lr}_s${seed}`;

/** A logarithmic grid of `points` learning rates from lo to hi. */
export function logGrid(lo: number, hi: number, points: number): number[] {
  if (!(lo > 0 && hi >= lo && Number.isInteger(points) && points >= 1)) throw new Error(`learning-rate grid: need 0 < min <= max and points >= 1, got ${lo}, ${hi}, ${points}`);
  if (points === 1) return [lo];
  return Array.from({ length: points }, (_, i) => Number((lo * Math.pow(hi / lo, i / (points - 1))).toPrecision(3)));
}

export class SweepRecordError extends Error {}

/** Why `r` is not a valid run record, or null. */
function recordProblem(r: unknown): string | null {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return `expected a JSON object, got ${JSON.stringify(r)}`;
  const o = r as Record<string, unknown>;
  const want: [string, string][] = [['key', 'string'], ['variant', 'string'], ['depth', 'number'], ['batchSize', 'number'], ['lr', 'number'], ['seed', 'number'], ['diverged', 'boolean']];
  const missing = want.filter(([k, t]) => typeof o[k] !== t).map(([k, t]) => `${k} (${t})`);
  if (missing.length) return `missing or mistyped fields: ${missing.join(', ')}`;
  if (o.key !== runKey(o.variant as string, o.depth as number, o.batchSize as number, o.lr as number, o.seed as number)) return `key '${o.key}' does not match its fields`;
  // A diverged run has no accuracy or loss (null); a finished one a fraction and a finite loss.
  const acc = o.testAccuracy;
  if (!(acc === null && o.diverged) && !(typeof acc === 'number' && acc >= 0 && acc <= 1)) return `testAccuracy ${JSON.stringify(acc)} is not a fraction in [0, 1]${o.diverged ? ' or null' : ''}`;
  const loss = o.trainLoss;
  if (!(loss === null && o.diverged) && !(typeof loss === 'number' && Number.isFinite(loss) && loss >= 0)) return `trainLoss ${JSON.stringify(loss)} is not a finite number >= 0${o.diverged ? ' or null' : ''}`;
  const inf = o.trainLossInference;
  if (inf !== undefined && inf !== null && !(typeof inf === 'number' && Number.isFinite(inf) && inf >= 0)) return `trainLossInference ${JSON.stringify(inf)} is not a finite number >= 0, null or absent`;
  return null;
}

/**
 * The records of runs.jsonl. The last line may be cut off by a crash mid-write (it is ignored: its
 * run is done again); any other bad line is an error naming the file and the line number.
 */
export function readRuns(path: string): RunRecord[] {
  if (!statPath(path, 'sweep records')) return [];
  const out: RunRecord[] = [];
  const seen = new Map<string, number>(); // key -> line
  const text = readFileChecked(path, 'sweep records').toString('utf8'); // a directory or a FIFO in its place: named
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const lastLine = i === lines.length - 1 && !text.endsWith('\n');
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      if (lastLine) return; // torn by a crash
      throw new SweepRecordError(`${path}:${i + 1}: not valid JSON (${(e as Error).message}); expected one run record per line (fix or delete the line)`);
    }
    const problem = recordProblem(rec);
    if (problem) throw new SweepRecordError(`${path}:${i + 1}: not a run record: ${problem} (fix or delete the line)`);
    const key = (rec as RunRecord).key;
    const first = seen.get(key);
    if (first !== undefined) throw new SweepRecordError(`${path}:${i + 1}: run ${key} is recorded again (first on line ${first}): each run once (delete one of the lines)`);
    seen.set(key, i + 1);
    out.push(rec as RunRecord);
  });
  return out;
}

export interface SweepOptions {
  grid: SweepGrid;
  /** Settings shared by every run (epochs, schedule, width, device, ...). */
  base: TrainConfig;
  data: { train: Dataset; test: Dataset };
  out: string;
  /** Run only this part of the grid (null or absent: all of it). */
  shard?: Shard | null;
  log?: (line: string) => void;
}

/** What every run of a sweep shares: runs recorded under other settings cannot be resumed or mixed. */
export function sharedSettings(o: Pick<SweepOptions, 'base' | 'data'>): Record<string, string | number> {
  const b = o.base;
  return {
    epochs: b.epochs, width: b.widen, alphaInit: b.alphaInit, momentum: b.momentum, weightDecay: b.weightDecay,
    lrConstantFraction: b.lrConstantFraction, lrDecayEvery: b.lrDecayEvery, lrDecayFactor: b.lrDecayFactor, augment: String(b.augment),
    train: `${o.data.train.name} (${o.data.train.count} images)`, test: `${o.data.test.name} (${o.data.test.count} images)`,
    image: `${o.data.train.channels}x${o.data.train.height}x${o.data.train.width}`,
  };
}

/** Write settings.json on the first start (once, whoever starts first); on a restart or another shard, refuse settings that differ from it. */
export function checkSettings(out: string, settings: Record<string, string | number>): void {
  const path = join(out, 'settings.json');
  // Shards starting at once race to create it: exactly one does; the others compare with it.
  if (!statPath(path, 'sweep settings') && createFileExclusive(path, JSON.stringify(settings, null, 2) + '\n')) return;
  const text = readFileChecked(path, 'sweep settings').toString('utf8'); // a directory or a FIFO in its place: named
  const expected = `expected the JSON object of the settings every run of the sweep shares, as the sweep wrote it ({"epochs": ${JSON.stringify(settings.epochs)}, "width": ${JSON.stringify(settings.width)}, ...}); delete it to start the sweep in ${out} afresh, or use another --out`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`sweep settings ${path}: not valid JSON (${(e as Error).message}); ${expected}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`sweep settings ${path}: holds ${JSON.stringify(parsed)?.slice(0, 40)}; ${expected}`);
  const old = parsed as Record<string, unknown>;
  const diffs = Object.keys(settings).filter((k) => old[k] !== settings[k]).map((k) => `${k}: ${JSON.stringify(old[k])} there, ${JSON.stringify(settings[k])} now`);
  if (diffs.length) {
    throw new Error(`sweep directory ${out} holds runs made with other settings (${diffs.join('; ')}); use another --out, or the settings in ${path}`);
  }
}

/** Paths in a message relative to the sweep directory (committed records carry no machine's paths). */
function relativeTo(message: string, dir: string): string {
  return message.split(dir.replace(/\/+$/, '') + '/').join('');
}

// ---- shards: one sweep over many processes or machines ------------------------------------------
//
// A shard I of N runs the grid points whose index (in the fixed order of gridPoints) is I mod N,
// and records them in its own file, runs.I-of-N.jsonl: no two processes ever write one file, so
// shards need no lock and work on NFS. Every reader merges all record files, and a point recorded
// in any of them is never run again, whatever the shard count of a later run.

/** Which part of the grid one process runs: the points whose index is `index` mod `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** "I/N" with 0 <= I < N. */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count) || !Number.isSafeInteger(count)) throw new Error(`sweep: ${flag} must be I/N with 0 <= I < N (shard I of N), got '${text}'`);
  return { index, count };
}

/**
 * The shard a scheduler's task array gives this process, or null outside one: Slurm
 * (SLURM_ARRAY_TASK_ID from SLURM_ARRAY_TASK_MIN, SLURM_ARRAY_TASK_COUNT tasks) and Grid Engine
 * (SGE_TASK_ID from SGE_TASK_FIRST by SGE_TASK_STEPSIZE to SGE_TASK_LAST). A Kubernetes indexed
 * Job sets only JOB_COMPLETION_INDEX: give --shard $JOB_COMPLETION_INDEX/N there.
 */
export function shardFromEnv(env: Record<string, string | undefined> = process.env): Shard | null {
  const int = (name: string) => {
    const v = env[name];
    if (v === undefined || !/^\d+$/.test(v)) return null;
    return Number(v);
  };
  const id = int('SLURM_ARRAY_TASK_ID');
  const count = int('SLURM_ARRAY_TASK_COUNT');
  if (id !== null && count !== null) {
    const index = id - (int('SLURM_ARRAY_TASK_MIN') ?? 0);
    if (index >= 0 && index < count) return { index, count };
  }
  const sge = int('SGE_TASK_ID');
  const first = int('SGE_TASK_FIRST') ?? 1;
  const last = int('SGE_TASK_LAST');
  const step = int('SGE_TASK_STEPSIZE') ?? 1;
  if (sge !== null && last !== null && step > 0 && sge >= first && sge <= last) return { index: (sge - first) / step, count: Math.floor((last - first) / step) + 1 };
  return null;
}

const shardName = (s: Shard | null) => (s ? `${s.index}-of-${s.count}` : null);
/** The file a process records its runs in: runs.I-of-N.jsonl for a shard, runs.jsonl for a whole sweep. */
export const recordsFile = (s: Shard | null) => (s ? `runs.${shardName(s)}.jsonl` : 'runs.jsonl');
const failureFile = (s: Shard | null) => (s ? `failed.${shardName(s)}.json` : 'failed.json');
const RECORDS_FILE = /^runs(\.\d+-of-\d+)?\.jsonl$/;
const FAILURE_FILE = /^failed(\.\d+-of-\d+)?\.json$/;

/** Record files first by name, runs.jsonl first: the order duplicates are resolved in. */
function sweepFiles(out: string, pattern: RegExp): string[] {
  if (!statPath(out, 'sweep directory')) return [];
  return listDir(out, 'listing the sweep directory')
    .filter((n) => pattern.test(n))
    .sort((a, b) => (a === 'runs.jsonl' ? -1 : b === 'runs.jsonl' ? 1 : a.localeCompare(b, 'en', { numeric: true })));
}

/**
 * Every run recorded in the sweep directory, from runs.jsonl and every shard's file. A run in two
 * files (two shard counts that overlapped) counts once, from the first file; `duplicates` names it.
 */
export function readSweepRecords(out: string): { records: RunRecord[]; files: string[]; duplicates: string[] } {
  const files = sweepFiles(out, RECORDS_FILE);
  const byKey = new Map<string, RunRecord>();
  const duplicates: string[] = [];
  for (const f of files)
    for (const r of readRuns(join(out, f))) {
      if (byKey.has(r.key)) duplicates.push(`${r.key} (again in ${f})`);
      else byKey.set(r.key, r);
    }
  return { records: [...byKey.values()], files, duplicates };
}

/** A shard that stopped on an error other than a divergence (a divergence is a result, recorded as a run). */
export interface ShardFailure {
  shard: string;
  key: string;
  error: string;
  time: string;
}

/** The failures the shards recorded and have not yet cleared by finishing. */
export function readFailures(out: string): ShardFailure[] {
  return sweepFiles(out, FAILURE_FILE).map((f) => {
    const path = join(out, f);
    try {
      return JSON.parse(readFileChecked(path, 'sweep failure record').toString('utf8')) as ShardFailure;
    } catch (e) {
      if (e instanceof SyntaxError) return { shard: f, key: '?', error: `${path} is not valid JSON`, time: '' };
      throw e;
    }
  });
}

export type GridPoint = Pick<RunRecord, 'key' | 'variant' | 'depth' | 'batchSize' | 'lr' | 'seed'>;

/** The grid's points in one fixed order (depth, arm, batch size, rate, seed): a point's index is the same in every process. */
export function gridPoints(grid: SweepGrid): GridPoint[] {
  const out: GridPoint[] = [];
  for (const depth of grid.depths)
    for (const arm of grid.variants) {
      const { name: variant, lrs } = parseArm(arm);
      for (const batchSize of grid.batchSizes)
        for (const lr of lrs ?? grid.lrs)
          for (let seed = 0; seed < grid.seeds; seed++) out.push({ key: runKey(variant, depth, batchSize, lr, seed), variant, depth, batchSize, lr, seed });
    }
  return out;
}

/** The points of `shard` (all points when null). */
export const shardPoints = (grid: SweepGrid, shard: Shard | null): GridPoint[] => gridPoints(grid).filter((_, i) => !shard || i % shard.count === shard.index);

/**
 * Run every grid point of this process's shard (the whole grid without one) not yet recorded in
 * any record file. Returns every record of the directory (old, new, and other shards').
 */
export async function runSweep(o: SweepOptions): Promise<RunRecord[]> {
  const log = o.log ?? ((l: string) => console.log(l));
  const shard = o.shard ?? null;
  // Everything is checked before anything is written: a bad grid must not leave a settings.json behind.
  const maxBatch = Math.max(...o.grid.batchSizes);
  if (maxBatch > o.data.train.count) throw new Error(`sweep: --batch-sizes ${maxBatch} is larger than the ${o.data.train.count} training images (--train-count)`);
  const runsPath = join(o.out, recordsFile(shard));
  const known = readSweepRecords(o.out);
  ensureDir(o.out, '--out');
  checkSettings(o.out, sharedSettings(o));
  // A line cut off by a crash has no newline: drop it (its run is done again), so the next record
  // starts on its own line. Only this process's own file: another shard may be writing its own.
  if (statPath(runsPath, 'sweep records')) {
    const text = readFileChecked(runsPath, 'sweep records').toString('utf8');
    if (text.length && !text.endsWith('\n')) writeFileAtomic(runsPath, text.slice(0, text.lastIndexOf('\n') + 1));
  }
  const records = known.records;
  const done = new Set(records.map((r) => r.key));
  const mine = shardPoints(o.grid, shard);
  const todo = mine.filter((p) => !done.has(p.key));
  const part = shard ? `shard ${shard.index} of ${shard.count}: ${mine.length} of the grid's ${gridPoints(o.grid).length} runs` : `${mine.length} runs in the grid`;
  log(`sweep: ${part}, ${mine.length - todo.length} already done, ${todo.length} to run (results: ${runsPath})`);
  const t0 = performance.now();
  for (const [i, r] of todo.entries()) {
    const dir = join(o.out, 'runs', r.key);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    const arm = parseArm(r.variant);
    const cfg: TrainConfig = { ...o.base, depth: r.depth, variant: arm.variant, alphaInit: arm.alphaInit ?? o.base.alphaInit, batchSize: r.batchSize, lr: r.lr, seed: r.seed, out: dir, progressSeconds: 1e9 };
    const tRun = performance.now();
    let rec: RunRecord;
    try {
      const res = await train(cfg, o.data, { resume: existsSync(ckpt) ? ckpt : undefined, force: true, log: () => {}, evaluateTrainImages: o.data.test.count });
      const last = res.history[res.history.length - 1];
      const inference = res.trainEval ? { trainLossInference: Number.isFinite(res.trainEval.loss) ? res.trainEval.loss : null } : {};
      rec = { ...r, diverged: false, testAccuracy: last?.testAccuracy ?? NaN, trainLoss: last?.trainLoss ?? NaN, ...inference, steps: res.steps, seconds: (performance.now() - tRun) / 1000, message: res.message };
    } catch (e) {
      if (!(e instanceof DivergedError)) {
        // Left for --collect to report; cleared when this shard next finishes.
        const failure: ShardFailure = { shard: shardName(shard) ?? 'whole sweep', key: r.key, error: relativeTo((e as Error).message ?? String(e), o.out), time: new Date().toISOString() };
        writeFileAtomic(join(o.out, failureFile(shard)), JSON.stringify(failure, null, 2) + '\n');
        throw e;
      }
      rec = { ...r, diverged: true, testAccuracy: NaN, trainLoss: NaN, steps: e.step, seconds: (performance.now() - tRun) / 1000, message: relativeTo(e.message, o.out) };
    }
    appendWhole(runsPath, JSON.stringify(rec) + '\n');
    records.push(rec);
    const elapsed = (performance.now() - t0) / 1000;
    const eta = (elapsed / (i + 1)) * (todo.length - i - 1);
    log(
      `[${mine.length - todo.length + i + 1}/${mine.length}] ${r.variant} depth ${r.depth} batch ${r.batchSize} lr ${r.lr} seed ${r.seed}: ` +
        (rec.diverged ? 'DIVERGED' : `test accuracy ${(100 * rec.testAccuracy).toFixed(1)}%, train loss ${finalTrainLoss(rec).toFixed(3)}`) +
        ` (${rec.seconds.toFixed(0)} s; ETA ${Math.round(eta / 60)} min)`,
    );
  }
  if (statPath(join(o.out, failureFile(shard)), 'sweep failure record')) removeFile(join(o.out, failureFile(shard)));
  return records;
}

export interface Cell {
  variant: string;
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
  /** per learning rate: best-k mean (NaN if all diverged), and the mean final training loss of its runs that did not diverge */
  perLr: { lr: number; mean: number; std: number; diverged: number; trainLoss: number }[];
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
      // The sample standard deviation (n - 1), as the claims' margins use; 0 for one seed.
      const std = top.length < 2 ? 0 : Math.sqrt(top.reduce((s, v) => s + (v - mean) ** 2, 0) / (top.length - 1));
      const ok = rs.filter((r) => r.lr === lr && !r.diverged && Number.isFinite(finalTrainLoss(r))).map(finalTrainLoss);
      return { lr, mean, std, diverged: rs.filter((r) => r.lr === lr && r.diverged).length, trainLoss: ok.length ? ok.reduce((a, v) => a + v, 0) / ok.length : NaN };
    });
    const best = perLr.reduce<(typeof perLr)[number] | null>((b, p) => (p.mean > 0 && (!b || p.mean > b.mean) ? p : b), null);
    const losses = rs.filter((r) => r.lr === best?.lr && !r.diverged && Number.isFinite(finalTrainLoss(r))).map(finalTrainLoss);
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
    out.push('', `Final training loss (mean over the runs at the optimal learning rate that did not diverge; each run's final weights on the first test-count training images in inference mode, so dropout does not count, or the last epoch's mean in records older than that measurement; ln 10 = 2.303 is chance); batch size ${b}.`, '');
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
