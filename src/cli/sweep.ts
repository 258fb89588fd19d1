// `wrn sweep`: Table 1 / Figures 3 and 4 at a scale this machine can run, resumable.
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fsx.js';
import { DEFAULT_TRAIN, type TrainConfig } from '../train/trainer.js';
import { VARIANTS, type Variant } from '../model/wrn.js';
import { initWebGPU } from '../index.js';
import { runSweep, aggregate, markdownTable, logGrid, parseArm, type Cell } from '../sweep/sweep.js';
import { lineChart, panels, savePng } from '../plot/index.js';
import { loadData, resolveDataSource } from './train.js';
import { parseFlags, usage, requireRange, UsageError } from './args.js';

const FLAGS = {
  depths: { type: 'list', default: [10, 28], help: 'WRN depths (6N + 4); at 28 (12 blocks) the unnormalized net no longer trains' },
  variants: { type: 'list', default: ['bn', 'skipinit', 'unnormalized'], help: `variants (${VARIANTS.join(', ')})` },
  'lr-min': { type: 'number', default: 0.02, help: 'smallest learning rate of the logarithmic grid' },
  'lr-max': { type: 'number', default: 0.2, help: 'largest learning rate' },
  'lr-points': { type: 'int', default: 3, help: 'learning rates in the grid' },
  'batch-sizes': { type: 'list', default: [8], help: 'batch sizes (small: more steps for the same images)' },
  seeds: { type: 'int', default: 2, help: 'runs per grid point (paper: 7)' },
  'best-k': { type: 'int', default: 2, help: 'aggregate the best k of the seeds (paper: 5 of 7)' },
  epochs: { type: 'int', default: 2, help: 'epochs per run (paper: 200)' },
  'lr-decay-every': { type: 'int', default: 1, help: 'after half the epochs, halve the learning rate every this many epochs (paper: 10)' },
  width: { type: 'int', default: 1, help: 'WRN width factor (paper Table 1: 2, Figures 3/4: 4)' },
  'alpha-init': { type: 'number', default: 0, help: "SkipInit's alpha at init" },
  data: { type: 'string', default: 'auto', help: "'fashion-mnist', 'synthetic', a directory of IDX or CIFAR-10 binary files, or 'auto' (fashion-mnist if installed)" },
  'train-count': { type: 'int', default: 128, help: 'training images per run: the first N (0: all)' },
  'test-count': { type: 'int', default: 100, help: 'test images: the first N of the test set (0: all)' },
  'image-size': { type: 'int', default: 0, help: 'resize images to N x N by area averaging (0: native)' },
  device: { type: 'string', default: 'webgpu', choices: ['webgpu', 'cpu'], help: 'device' },
  out: { type: 'string', default: 'runs/sweep', help: 'sweep directory (runs.jsonl, table.md, PNG plots, one folder per run)' },
  seed: { type: 'int', default: 0, help: 'data seed' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

export async function sweepCommand(argv: string[]): Promise<number> {
  const f = parseFlags('sweep', argv, FLAGS);
  if (f.help) {
    console.log(
      usage(
        'sweep',
        'Train a grid of WRNs (depth x variant x learning rate x batch size x seeds), resumably, and write the paper-style table and plots.\n' +
          'Full scale on CIFAR-10 with a real GPU (Table 1): --data DIR --depths 16,28,52,100 --width 2 --batch-sizes 64 --epochs 200 --lr-decay-every 10 --seeds 7 --best-k 5 --lr-points 7 --lr-min 0.0125 --lr-max 0.8\n' +
          'Figures 3/4: --depths 16 --width 4 --batch-sizes 1,4,16,64,256,1024 ...',
        FLAGS,
      ),
    );
    return 0;
  }
  for (const v of f.variants) {
    try {
      parseArm(String(v));
    } catch (e) {
      throw new UsageError(`wrn ${(e as Error).message}`);
    }
  }
  for (const d of f.depths) if (!Number.isInteger(d) || d < 10 || (d - 4) % 6 !== 0) throw new UsageError(`wrn sweep: --depths: ${d} is not 6N + 4 (10, 16, 22, ...)`);
  for (const b of f['batch-sizes']) if (!Number.isInteger(b) || b < 1) throw new UsageError(`wrn sweep: --batch-sizes: ${b} is not a positive integer`);
  requireRange('sweep', 'seeds', f.seeds, 1);
  requireRange('sweep', 'best-k', f['best-k'], 1, f.seeds);
  requireRange('sweep', 'epochs', f.epochs, 1);
  let lrs: number[];
  try {
    lrs = logGrid(f['lr-min'], f['lr-max'], f['lr-points']);
  } catch (e) {
    throw new UsageError(`wrn sweep: ${(e as Error).message}`);
  }
  const dataSpec = { source: resolveDataSource(f.data), trainCount: f['train-count'], testCount: f['test-count'], imageSize: f['image-size'] };
  const base: TrainConfig = { ...DEFAULT_TRAIN, epochs: f.epochs, widen: f.width, alphaInit: f['alpha-init'], device: f.device, lrDecayEvery: f['lr-decay-every'], data: dataSpec };
  const data = loadData(dataSpec, f.seed);
  if (f.device === 'webgpu') console.log(`adapter: ${(await initWebGPU()).adapterName}`);
  const grid = { depths: f.depths as number[], variants: (f.variants as unknown[]).map(String), lrs, batchSizes: f['batch-sizes'] as number[], seeds: f.seeds, bestK: f['best-k'] };
  const records = await runSweep({ grid, base, data, out: f.out });
  const cells = aggregate(records, grid.bestK);
  const table = markdownTable(cells, grid.bestK, grid.seeds);
  writeFileAtomic(join(f.out, 'table.md'), [new TextEncoder().encode(table)]);
  writeFileAtomic(join(f.out, 'cells.json'), [new TextEncoder().encode(JSON.stringify(cells, null, 2) + '\n')]);
  const plot = writeSweepPlots(f.out, cells);
  console.log(`\n${table}`);
  console.log(`written: ${join(f.out, 'table.md')}, ${join(f.out, 'cells.json')}, ${plot}`);
  return 0;
}

/** Accuracy and optimal learning rate against batch size (one line per variant and depth) and against depth. */
function writeSweepPlots(out: string, cells: Cell[]): string {
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
  const charts = [
    lineChart({ title: 'test accuracy vs batch size', xLabel: 'batch size', yLabel: 'accuracy (%)', logX: true, series: series((c) => (c.bestLr === null ? NaN : 100 * c.mean)) }),
    lineChart({ title: 'optimal learning rate vs batch size', xLabel: 'batch size', yLabel: 'learning rate', logX: true, logY: true, series: series((c) => c.bestLr ?? NaN) }),
    lineChart({ title: 'test accuracy vs depth', xLabel: 'depth', yLabel: 'accuracy (%)', series: byDepth }),
  ];
  const path = join(out, 'sweep.png');
  savePng(panels(charts, 3), path);
  return path;
}
