// `wrn sweep`: Table 1 / Figures 3 and 4 at a scale this machine can run, resumable.
import { join, resolve } from 'node:path';
import { writeFileAtomic, ensureDir } from '../util/fsx.js';
import { DEFAULT_TRAIN, validateTrainConfig, type TrainConfig } from '../train/trainer.js';
import { VARIANTS, checkWrnSize } from '../model/wrn.js';
import type { DataSpec } from '../data/load.js';
import { initWebGPU } from '../index.js';
import { runSweep, aggregate, markdownTable, logGrid, parseArm, parseShard, shardFromEnv, readSweepRecords, readFailures, gridPoints, type Cell, type RunRecord, type SweepGrid } from '../sweep/sweep.js';
import { arrayScript, arraySpec, collectScript, shellQuote, type SlurmOptions } from '../sweep/slurm.js';
import { WRN_BIN } from '../util/root.js';
import { spawnSync } from 'node:child_process';
import { claimLine, figure3Claims, figure4Claims, maxStableLr, table1Claims, type Claim } from '../sweep/claims.js';
import { lineChart, panels, savePng, type LineSeries } from '../plot/index.js';
import { resolveDataSource } from './train.js';
import { loadDataset } from '../data/load.js';
import { parseFlags, usage, requireRange, requireNonEmpty, UsageError, requireWrnDepth, requirePositiveInts } from './args.js';

// The defaults are Table 1 at the scale of a 2-core CPU adapter (bench/results/sweeps/ has the
// measured runs): WRN-40-1 on Fashion-MNIST at 8x8, all six arms, three seeds, 120 steps of 64 a
// run. The four arms that train run at one rate: bn, skipinit and regularized-skipinit at 0.1
// (the best of the 0.0316/0.1 grid for each in the committed 100-step sweep), fixup at 0.0316
// (at 0.1 it trained in only 3 of 5 seeds, one diverging; at 0.0316 in 5 of 5:
// bench/results/sweeps/fixup-seeds/); the two that fail run at both rates, so "does not train"
// is shown at more than one rate (they diverge within seconds). Depth 10 is left out (every arm
// trains there, so it says nothing of Table 1's claims). A WRN-40-1 step takes 1-2 s here.
const FLAGS = {
  preset: { type: 'string', default: 'table1', choices: ['table1', 'fig3', 'fig4'], help: 'the experiment whose grid gives the defaults and whose claims are checked (see below); the other flags override its grid' },
  depths: { type: 'list', default: [40], help: 'WRN depths (6N + 4); at 40 (18 blocks) the unnormalized net and SkipInit with alpha 1 diverge' },
  variants: {
    type: 'list',
    default: ['bn@0.1', 'skipinit@0.1', 'regularized-skipinit@0.1', 'fixup@0.0316', 'skipinit:alpha=1', 'unnormalized'],
    help: `arms: a variant (${VARIANTS.join(', ')}), or VARIANT:alpha=X for SkipInit's alpha at init (the ablation: skipinit:alpha=1); ARM@LR/LR/... runs that arm at these learning rates instead of the grid's`,
  },
  'lr-min': { type: 'number', default: 0.0316, help: 'smallest learning rate of the logarithmic grid' },
  'lr-max': { type: 'number', default: 0.1, help: 'largest learning rate' },
  'lr-points': { type: 'int', default: 2, help: 'learning rates in the grid' },
  'batch-sizes': { type: 'list', default: [64], help: 'batch sizes' },
  seeds: { type: 'int', default: 3, help: 'runs per grid point (paper: 7)' },
  'best-k': { type: 'int', default: 3, help: 'aggregate the best k of the seeds (paper: 5 of 7)' },
  epochs: { type: 'int', default: 2, help: 'epochs per run (paper: 200)' },
  'lr-decay-every': { type: 'int', default: 1, help: 'after half the epochs, halve the learning rate every this many epochs (paper: 10)' },
  width: { type: 'int', default: 1, help: 'WRN width factor (paper Table 1: 2, Figures 3/4: 4)' },
  'alpha-init': { type: 'number', default: 0, help: "SkipInit's alpha at init for arms that do not set their own" },
  data: { type: 'string', default: 'auto', help: "'fashion-mnist', 'synthetic', a directory of IDX or CIFAR-10 binary files, or 'auto' (fashion-mnist if installed)" },
  'train-count': { type: 'int', default: 3840, help: 'training images per run: the first N (0: all)' },
  'test-count': { type: 'int', default: 500, help: 'test images: the first N of the test set (0: all)' },
  'image-size': { type: 'int', default: 8, help: 'resize images to N x N by area averaging (0: native)' },
  device: { type: 'string', default: 'webgpu', choices: ['webgpu', 'cpu'], help: 'device' },
  out: { type: 'string', default: 'runs/sweep', help: 'sweep directory (runs.jsonl, table.md, PNG plots, one folder per run)' },
  seed: { type: 'int', default: 0, help: 'data seed' },
  shard: { type: 'string', default: '', help: "I/N: run only the grid points whose index is I mod N, recorded in --out's runs.I-of-N.jsonl (default: from a Slurm or Grid Engine task array's environment, else the whole grid); many shards share one --out" },
  collect: { type: 'bool', default: false, help: 'train nothing: the table, claims and plot of what every shard has recorded, with how many points are done and which shards failed' },
  shards: { type: 'int', default: 4, help: 'wrn sweep slurm: tasks in the job array (each runs one shard)' },
  'cpus-per-task': { type: 'int', default: 2, help: 'wrn sweep slurm: CPUs per task' },
  gpus: { type: 'int', default: 0, help: 'wrn sweep slurm: GPUs per task (--gres=gpu:N)' },
  time: { type: 'string', default: '', help: "wrn sweep slurm: each task's time limit (H:MM:SS; default: the partition's)" },
  partition: { type: 'string', default: '', help: 'wrn sweep slurm: the partition (default: the cluster\'s)' },
  submit: { type: 'bool', default: false, help: 'wrn sweep slurm: submit the array and the collect job with sbatch and print their ids' },
  'check-first': { type: 'bool', default: true, help: 'wrn sweep slurm: each task runs wrn check first (a node without a working adapter fails at once, saying why)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

/**
 * The paper's experiments as grids: each preset is flags read before the user's own (which win),
 * and the claims its table is checked against. table1 is the flags' defaults.
 */
export const PRESETS: Record<'table1' | 'fig3' | 'fig4', { about: string; argv: string[]; claims: (records: RunRecord[], cells: Cell[]) => Claim[] }> = {
  table1: {
    about: 'Table 1: which arms train at depth 40 (the defaults above)',
    argv: [],
    claims: table1Claims,
  },
  // Figure 3: a fixed epoch budget, so a batch of 8 takes 8x the steps of 64; the learning rates
  // double from 0.005 to 0.64 so the optimal rate can double with the batch. One seed: the trade
  // for eight rates at four batch sizes within the hour.
  fig3: {
    about: 'Figure 3: optimal and maximum stable learning rate against batch size (bn, skipinit, unnormalized; WRN-10-1; one seed)',
    argv: ['--depths', '10', '--variants', 'bn,skipinit,unnormalized', '--batch-sizes', '8,16,32,64', '--lr-min', '0.005', '--lr-max', '0.64', '--lr-points', '8', '--seeds', '1', '--best-k', '1', '--train-count', '960', '--out', 'runs/sweep-fig3'],
    claims: figure3Claims,
  },
  // Figure 4: small batches, where BN's statistics are noisy (batch 1: an instance norm over the
  // pixels); 256 images keep a batch of 1 to 512 steps.
  fig4: {
    about: 'Figure 4: small batch sizes (bn, skipinit, regularized-skipinit; WRN-10-1; one seed)',
    argv: ['--depths', '10', '--variants', 'bn,skipinit,regularized-skipinit', '--batch-sizes', '1,2,4,8', '--lr-min', '0.0025', '--lr-max', '0.04', '--lr-points', '5', '--seeds', '1', '--best-k', '1', '--train-count', '256', '--out', 'runs/sweep-fig4'],
    claims: figure4Claims,
  },
};

/** The flags of `argv` over its preset's (the preset named in argv, else table1). */
export function sweepFlags(argv: string[]): ReturnType<typeof parseFlags<typeof FLAGS>> {
  const preset = parseFlags('sweep', argv, FLAGS).preset as keyof typeof PRESETS;
  return parseFlags('sweep', [...PRESETS[preset].argv, ...argv], FLAGS);
}

/**
 * The grid and the settings every run shares, from the flags; every flag is checked here, before
 * any data is loaded or anything written (a failed start must not leave a settings.json behind
 * that blocks the corrected rerun). Throws UsageError naming the flag.
 */
export function sweepConfigFromFlags(f: ReturnType<typeof parseFlags<typeof FLAGS>>): { grid: SweepGrid; base: TrainConfig; dataSpec: DataSpec } {
  const cmd = 'sweep';
  requireNonEmpty(cmd, 'depths', f.depths);
  requireNonEmpty(cmd, 'variants', f.variants);
  requireNonEmpty(cmd, 'batch-sizes', f['batch-sizes']);
  const arms = (f.variants as unknown[]).map(String);
  const names = new Map<string, string>();
  for (const v of arms) {
    let name: string;
    try {
      name = parseArm(v).name;
    } catch (e) {
      throw new UsageError(`wrn ${(e as Error).message}`);
    }
    if (names.has(name)) throw new UsageError(`wrn sweep: --variants: '${names.get(name)}' and '${v}' are the same arm (${name}); give its learning rates once, as ${name}@LR/LR`);
    names.set(name, v);
  }
  for (const d of f.depths) requireWrnDepth(cmd, 'depths', d);
  requirePositiveInts(cmd, 'batch-sizes', f['batch-sizes']);
  requireRange(cmd, 'seeds', f.seeds, 1);
  requireRange(cmd, 'best-k', f['best-k'], 1, f.seeds);
  requireRange(cmd, 'epochs', f.epochs, 1);
  requireRange(cmd, 'lr-decay-every', f['lr-decay-every'], 1);
  requireRange(cmd, 'width', f.width, 1);
  requireRange(cmd, 'lr-points', f['lr-points'], 1);
  if (!(f['lr-min'] > 0)) throw new UsageError(`wrn sweep: --lr-min must be > 0, got ${f['lr-min']}`);
  if (!(f['lr-max'] >= f['lr-min'])) throw new UsageError(`wrn sweep: --lr-max must be at least --lr-min (${f['lr-min']}), got ${f['lr-max']}`);
  requireRange(cmd, 'train-count', f['train-count'], 0, 1e7);
  requireRange(cmd, 'test-count', f['test-count'], 0, 1e7);
  requireRange(cmd, 'image-size', f['image-size'], 0, 1024);
  if (f['image-size'] > 0 && f['image-size'] < 4) throw new UsageError(`wrn sweep: --image-size must be 0 (native) or at least 4 (two stride-2 stages), got ${f['image-size']}`);
  const batchSizes = f['batch-sizes'] as number[];
  const maxBatch = Math.max(...batchSizes);
  if (f['train-count'] > 0 && maxBatch > f['train-count']) throw new UsageError(`wrn sweep: --batch-sizes ${maxBatch} is larger than the ${f['train-count']} training images (--train-count)`);
  // A net too big to allocate fails at its first run otherwise, after settings.json is written.
  for (const depth of f.depths as number[]) {
    for (const arm of arms) {
      try {
        checkWrnSize({ depth, widen: f.width, variant: parseArm(arm).variant });
      } catch (e) {
        throw new UsageError(`wrn sweep: --depths ${depth} --width ${f.width}: ${(e as Error).message}`);
      }
    }
  }
  const lrs = logGrid(f['lr-min'], f['lr-max'], f['lr-points']);
  const dataSpec: DataSpec = { source: resolveDataSource(f.data), trainCount: f['train-count'], testCount: f['test-count'], imageSize: f['image-size'] };
  const base: TrainConfig = { ...DEFAULT_TRAIN, epochs: f.epochs, widen: f.width, alphaInit: f['alpha-init'], device: f.device, lrDecayEvery: f['lr-decay-every'], data: dataSpec };
  // What train() checks at the first run, checked now for every grid point's settings.
  for (const lr of new Set([...lrs, ...arms.flatMap((a) => parseArm(a).lrs ?? [])])) {
    for (const batchSize of batchSizes) {
      try {
        validateTrainConfig({ ...base, lr, batchSize });
      } catch (e) {
        throw new UsageError(`wrn ${(e as Error).message.replace(/^train: /, 'sweep: ')}`);
      }
    }
  }
  return { grid: { depths: f.depths as number[], variants: arms, lrs, batchSizes, seeds: f.seeds, bestK: f['best-k'] }, base, dataSpec };
}

export async function sweepCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'slurm') return slurmCommand(argv.slice(1));
  const f = sweepFlags(argv);
  if (f.help) {
    console.log(
      usage(
        'sweep',
        'Train a grid of WRNs (depth x arm x learning rate x batch size x seeds), resumably, and write the paper-style table, one line per claim with its margin, and plots.\n' +
          'Defaults (--preset table1): Table 1 at a small scale on Fashion-MNIST (8x8, depth 40, six arms, 3 seeds, 120 steps of 64 a run; the arms that train at lr 0.1, fixup at 0.0316, the two that fail at 0.0316 and 0.1): 57 min on a shared 2-core CPU adapter with fixup at 0.1, about 50 unloaded (bench/results/sweeps/table1-default/).\n' +
          Object.entries(PRESETS).map(([k, p]) => `--preset ${k}: ${p.about}${p.argv.length ? `; it sets ${p.argv.join(' ')}` : ''}`).join('\n') +
          '\nOn a cluster: wrn sweep slurm [the grid flags] --shards N [--cpus-per-task C --gpus G --time T --partition P] [--submit] writes (or submits) a Slurm job array of N shards and a collect job; without a scheduler: parallel -j N wrn sweep [the grid flags] --shard {}/N ::: $(seq 0 N-1), then wrn sweep [the grid flags] --collect' +
          '\nFull scale on CIFAR-10 with a real GPU (Table 1): --variants bn,skipinit,regularized-skipinit,fixup,skipinit:alpha=1,unnormalized --data DIR --image-size 0 --train-count 0 --test-count 0 --depths 16,28,52,100,1000 --width 2 --batch-sizes 64 --epochs 200 --lr-decay-every 10 --seeds 7 --best-k 5 --lr-points 7 --lr-min 0.0125 --lr-max 0.8\n' +
          'Figure 3 at full scale: --preset fig3 --data DIR --image-size 0 --train-count 0 --test-count 0 --depths 16 --width 4 --batch-sizes 16,32,64,128,256,1024 --epochs 200 --lr-decay-every 10 --lr-points 9 --lr-min 0.0025 --lr-max 0.64',
        FLAGS,
      ),
    );
    return 0;
  }
  const { grid, base, dataSpec } = sweepConfigFromFlags(f);
  if (f.collect) return collect(f, grid);
  const shard = f.shard ? parseShardFlag(f.shard) : shardFromEnv();
  const data = loadDataset(dataSpec, f.seed);
  // --train-count 0 (all) is known only now; still before anything is written or opened.
  const maxBatch = Math.max(...grid.batchSizes);
  if (maxBatch > data.train.count) throw new UsageError(`wrn sweep: --batch-sizes ${maxBatch} is larger than the ${data.train.count} training images (--train-count)`);
  if (f.device === 'webgpu') console.log(`adapter: ${(await initWebGPU()).adapterName}`);
  await runSweep({ grid, base, data, out: f.out, shard });
  if (shard) {
    // Other shards may still be running: the table is --collect's, once they are done.
    console.log(`shard ${shard.index} of ${shard.count} done; the table of what every shard has finished: wrn sweep (the same flags) --collect`);
    return 0;
  }
  return collect(f, grid);
}

function parseShardFlag(text: string) {
  try {
    return parseShard(text);
  } catch (e) {
    throw new UsageError(`wrn ${(e as Error).message}`);
  }
}

/**
 * The table, claims and plot of the grid's points that are recorded in any record file, with how
 * far the sweep is: k of n points done, and the shards that stopped on an error, with it.
 */
function collect(f: ReturnType<typeof sweepFlags>, grid: SweepGrid): number {
  const { records: all, files, duplicates } = readSweepRecords(f.out);
  const points = new Set(gridPoints(grid).map((p) => p.key));
  const records = all.filter((r) => points.has(r.key));
  const failures = readFailures(f.out);
  const progress = [
    `${records.length} of ${points.size} grid points done (${files.length ? files.join(', ') : 'no record file yet'} in ${f.out})` +
      (all.length > records.length ? `; ${all.length - records.length} recorded runs are not in this grid and are left out` : '') +
      `; ${failures.length} failed${failures.length ? ':' : ''}`,
    ...failures.map((x) => `  shard ${x.shard}, run ${x.key} (${x.time}): ${x.error}`),
    ...(duplicates.length ? [`  recorded twice (the first file's record is used): ${duplicates.join(', ')}`] : []),
  ];
  console.log(progress.join('\n'));
  if (!records.length) return failures.length ? 1 : 0;
  const cells = aggregate(records, grid.bestK);
  const claims = PRESETS[f.preset as keyof typeof PRESETS].claims(records, cells);
  const partial = records.length < points.size ? `PARTIAL: ${records.length} of ${points.size} grid points done.\n\n` : '';
  const table = partial + markdownTable(cells, grid.bestK, grid.seeds) + '\n' + claimsSection(f.preset, claims) + '\n';
  writeFileAtomic(join(f.out, 'table.md'), [new TextEncoder().encode(table)]);
  writeFileAtomic(join(f.out, 'cells.json'), [new TextEncoder().encode(JSON.stringify(cells, null, 2) + '\n')]);
  const plot = writeSweepPlots(f.out, cells, records);
  console.log(`\n${table}`);
  console.log(`written: ${join(f.out, 'table.md')}, ${join(f.out, 'cells.json')}, ${plot}`);
  return failures.length ? 1 : 0;
}

/** The flags only `wrn sweep slurm` reads, and the per-process ones a task must not inherit. */
const NOT_FOR_TASKS = ['shards', 'cpus-per-task', 'gpus', 'time', 'partition', 'submit', 'check-first', 'out', 'shard', 'collect'];

/** `argv` without the named flags (and their values). */
function withoutFlags(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [name, value] = argv[i].slice(2).split(/=(.*)/s, 2);
    const takesValue = value === undefined && (FLAGS as Record<string, { type: string }>)[name]?.type !== 'bool';
    if (names.includes(name)) {
      if (takesValue) i++;
      continue;
    }
    out.push(argv[i]);
    if (takesValue && i + 1 < argv.length) out.push(argv[++i]);
  }
  return out;
}

/**
 * `wrn sweep slurm`: the job array and the collect job for this grid, written under --out/slurm/;
 * prints the two sbatch commands, or with --submit submits them and prints the job ids. Only the
 * shards with grid points left are in the array, so a rerun after a failure resubmits what is not done.
 */
async function slurmCommand(argv: string[]): Promise<number> {
  const f = sweepFlags(argv);
  const { grid } = sweepConfigFromFlags(f);
  requireRange('sweep slurm', 'shards', f.shards, 1, 100_000);
  requireRange('sweep slurm', 'cpus-per-task', f['cpus-per-task'], 1, 4096);
  requireRange('sweep slurm', 'gpus', f.gpus, 0, 64);
  if (f.time && !/^[\d:-]+$/.test(f.time)) throw new UsageError(`wrn sweep slurm: --time must be Slurm's form (minutes, H:MM:SS or D-HH:MM:SS), got '${f.time}'`);
  const out = resolve(f.out);
  const done = new Set(readSweepRecords(out).records.map((r) => r.key));
  // The shards with a point left: a point's shard is its index mod N (as shardPoints splits the grid).
  const indices = [...new Set(gridPoints(grid).flatMap((p, i) => (done.has(p.key) ? [] : [i % f.shards])))].sort((a, b) => a - b);
  const o: SlurmOptions = {
    shards: f.shards,
    indices,
    cpusPerTask: f['cpus-per-task'],
    gpus: f.gpus,
    time: f.time,
    partition: f.partition,
    out,
    wrn: [process.execPath, WRN_BIN],
    sweepArgs: withoutFlags(argv, NOT_FOR_TASKS),
    checkFirst: f['check-first'],
    workdir: process.cwd(),
  };
  ensureDir(join(out, 'slurm'), '--out');
  const arrayPath = join(out, 'slurm', 'sweep.sbatch');
  const collectPath = join(out, 'slurm', 'collect.sbatch');
  if (indices.length) writeFileAtomic(arrayPath, arrayScript(o));
  writeFileAtomic(collectPath, collectScript(o));
  const points = gridPoints(grid).length;
  console.log(`${points} grid points, ${done.size} already done; ${indices.length} of ${f.shards} shards have work left` + (indices.length ? ` (array ${arraySpec(indices)})` : ''));
  if (!f.submit) {
    if (indices.length) console.log(`written: ${arrayPath}, ${collectPath}\nsubmit with:\n  jid=$(sbatch --parsable ${shellQuote(arrayPath)})\n  sbatch --dependency=afterany:$jid ${shellQuote(collectPath)}`);
    else console.log(`written: ${collectPath}; nothing left to run: sbatch ${shellQuote(collectPath)} (or wrn sweep ... --collect) makes the table`);
    return 0;
  }
  const sbatch = (args: string[]) => {
    const r = spawnSync('sbatch', ['--parsable', ...args], { encoding: 'utf8' });
    if (r.error) throw new UsageError(`wrn sweep slurm --submit: cannot run sbatch (${(r.error as NodeJS.ErrnoException).code ?? r.error.message}); is Slurm's client installed and SLURM_CONF set?`);
    if (r.status !== 0) throw new Error(`wrn sweep slurm --submit: sbatch ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout.trim().split(';')[0];
  };
  const arrayId = indices.length ? sbatch([arrayPath]) : null;
  const collectId = sbatch([...(arrayId ? [`--dependency=afterany:${arrayId}`] : []), collectPath]);
  console.log(`submitted: array job ${arrayId ?? '(none: nothing left to run)'}, collect job ${collectId}`);
  console.log(JSON.stringify({ array: arrayId, collect: collectId }));
  return 0;
}

/** The claims as markdown: a heading, one line each, and how many hold. */
export function claimsSection(preset: string, claims: Claim[]): string {
  if (!claims.length) return `No claim of ${preset} applies to this grid.\n`;
  const shown = claims.filter((c) => c.holds).length;
  return [`Claims (${preset}): ${shown} of ${claims.length} SHOWN. A claim holds in the aggregate over seeds; margins are in standard deviations over seeds.`, '', ...claims.map(claimLine), ''].join('\n');
}

/** Accuracy and optimal learning rate against batch size (one line per variant and depth) and against depth. */
function writeSweepPlots(out: string, cells: Cell[], records: RunRecord[]): string {
  const keys = [...new Set(cells.map((c) => `${c.variant} depth ${c.depth}`))];
  const series = (y: (c: Cell) => number) =>
    keys.map((k) => {
      const cs = cells.filter((c) => `${c.variant} depth ${c.depth}` === k).sort((a, b) => a.batchSize - b.batchSize);
      return { name: k, x: cs.map((c) => c.batchSize), y: cs.map(y), markers: true };
    });
  const byDepth = [...new Set(cells.map((c) => `${c.variant} batch ${c.batchSize}`))].map((k) => {
    const cs = cells.filter((c) => `${c.variant} batch ${c.batchSize}` === k).sort((a, b) => a.depth - b.depth);
    return { name: k, x: cs.map((c) => c.depth), y: cs.map((c) => (c.bestLr === null ? NaN : 100 * c.mean)), markers: true };
  });
  const lossByDepth: LineSeries[] = [...new Set(cells.map((c) => `${c.variant} batch ${c.batchSize}`))].map((k) => {
    const cs = cells.filter((c) => `${c.variant} batch ${c.batchSize}` === k).sort((a, b) => a.depth - b.depth);
    return { name: k, x: cs.map((c) => c.depth), y: cs.map((c) => (c.bestLr === null ? NaN : c.trainLoss)), markers: true };
  });
  // Per learning rate at the deepest depth: where each arm trains, stalls at ln 10 or diverges in every seed (no point).
  const deep = Math.max(...cells.map((c) => c.depth));
  const lossByLr: LineSeries[] = cells
    .filter((c) => c.depth === deep)
    .map((c) => ({ name: `${c.variant} batch ${c.batchSize}`, x: c.perLr.map((p) => p.lr), y: c.perLr.map((p) => (Number.isFinite(p.trainLoss) ? p.trainLoss : NaN)), markers: true })); // the mean over the seeds that did not diverge
  const depths = cells.map((c) => c.depth);
  const lrs = cells.flatMap((c) => c.perLr.map((p) => p.lr));
  const chance = (xs: number[]) => ({ name: 'ln 10 (chance)', x: [Math.min(...xs), Math.max(...xs)], y: [Math.log(10), Math.log(10)], color: '#aaaaaa' });
  lossByDepth.push(chance(depths));
  lossByLr.push(chance(lrs));
  const charts = [
    lineChart({ title: 'test accuracy vs depth', xLabel: 'depth', yLabel: 'accuracy (%)', yMin: 0, series: byDepth }),
    lineChart({ title: 'final training loss vs depth (ln 10 = chance; no point: every run diverged)', xLabel: 'depth', yLabel: 'cross-entropy (at the optimal lr)', yMin: 0, series: lossByDepth }),
    lineChart({ title: `final training loss vs learning rate, depth ${deep} (no point: every seed diverged)`, xLabel: 'learning rate', yLabel: 'cross-entropy', logX: true, yMin: 0, series: lossByLr }),
  ];
  // The batch-size panels (Figures 3 and 4) only when the grid has several batch sizes.
  if (new Set(cells.map((c) => c.batchSize)).size > 1) {
    charts.push(
      lineChart({ title: 'test accuracy vs batch size', xLabel: 'batch size', yLabel: 'accuracy (%)', logX: true, series: series((c) => (c.bestLr === null ? NaN : 100 * c.mean)) }),
      lineChart({ title: 'optimal learning rate vs batch size', xLabel: 'batch size', yLabel: 'learning rate', logX: true, logY: true, series: series((c) => c.bestLr ?? NaN) }),
      lineChart({ title: 'maximum stable learning rate vs batch size (no seed diverged)', xLabel: 'batch size', yLabel: 'learning rate', logX: true, logY: true, series: series((c) => maxStableLr(records, c) ?? NaN) }),
    );
  }
  const path = join(out, 'sweep.png');
  savePng(panels(charts, 2), path);
  return path;
}
