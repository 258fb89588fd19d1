// `wrn bench`: kernel benchmarks against the adapter's own limits, the training step broken down by
// kernel category (what share is BN, what SkipInit saves), and comparing two result files.
import { cpus, loadavg } from 'node:os';
import { ensureDir } from '../util/fsx.js';
import { parseFlags, usage, requireRange, requireNonEmpty, requireTensorSize, UsageError, MAX_TENSOR_VALUES, MAX_TIMEOUT_S, requireWrnDepth } from './args.js';
import { checkWrnSize } from '../model/wrn.js';
import { formatVersionComparison, kernelDefaults, runKernelBench, WRN16_4_LAYERS, layerName, type KernelBenchOptions } from '../bench/kernels.js';
import { describeRegistry, formatVersions, parseVersionRequest, versionsOf, withVersions, type VersionRequest } from '../gpu/versions.js';
import { DEFAULT_STEP_VARIANTS, runStepBench, stepDefaults, STEP_VARIANTS } from '../bench/step.js';
import { compareResults, formatKernels, formatStep, validateResult, type KernelBenchResult } from '../bench/report.js';
import { DEFAULT_RESULTS_DIR, gitCommit, readResult, writeResult } from '../bench/output.js';
import { openTunedRuntime } from './tuning_cache.js';
import { CONV_LAYERS, parseConvLayer, runConv2dBench, TILE_NAMES } from '../bench/conv2d.js';
import { convOutSize } from '../ops/conv2d.js';
import { BN_SHAPES, runBnDispatchBench } from '../bench/bn_dispatches.js';
import type { GpuRuntime } from '../gpu/runtime.js';

const KERNEL_FLAGS = {
  batch: { type: 'int', help: 'batch size of the layer shapes (default 64; --quick: 2)' },
  reps: { type: 'int', help: 'timed repetitions per kernel after warm-up (default 20; --quick: 3)' },
  warmup: { type: 'int', help: 'warm-up repetitions per kernel (default 3; --quick: 1)' },
  quick: { type: 'bool', default: false, help: 'small batch, few repetitions, small limit measurements: a CPU adapter finishes in well under two minutes' },
  only: { type: 'string', default: '', help: "only the kernels whose name contains this (e.g. 'bn.', 'conv2d.forward', '16x16x128')" },
  out: { type: 'string', default: DEFAULT_RESULTS_DIR, help: 'directory for the JSON result and its PNG chart' },
  'wall-clock': { type: 'bool', default: false, help: 'time with the wall clock even where GPU timestamps are available' },
  versions: {
    type: 'string',
    help:
      "kernel versions (src/gpu/versions.ts), each checked against the CPU reference before it is timed: 'conv2d=v1,batchnorm=v1' runs the whole benchmark with those; " +
      "'all' (or 'conv2d,skipadd') times every version of those families side by side (conv versions also at WRN width 1's 32x32x16 and 16x16x32); default: the profile's own. Versions:\n" +
      describeRegistry(' '.repeat(23)),
  },
  browser: { type: 'bool', default: false, help: 'run the (quick) kernel benchmark in headless Chromium instead of Node (needs npm run build and Chromium)' },
  gpu: { type: 'bool', default: false, help: "with --browser: Chromium on the machine's GPU instead of SwiftShader" },
  timeout: { type: 'number', default: 600, help: 'with --browser: seconds to wait for the page' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

const STEP_FLAGS = {
  depth: { type: 'int', help: 'WRN depth (default 16; --quick: 10)' },
  width: { type: 'int', help: 'WRN width factor (default 4; --quick: 1)' },
  batch: { type: 'int', help: 'batch size (default 64; --quick: 4)' },
  steps: { type: 'int', help: 'wall-timed steps per variant and round, the variants alternating step by step (default 6; --quick: 2)' },
  'profiled-steps': { type: 'int', default: 1, help: 'steps per variant and round profiled with GPU timestamps, after the wall-timed ones (0: none)' },
  warmup: { type: 'int', help: 'untimed steps per variant before the first round (default 2; --quick: 1)' },
  rounds: { type: 'int', help: 'interleaved rounds (every variant once per round, the order rotated); medians and ranges are over rounds (default 5; --quick: 3)' },
  variants: { type: 'list', default: DEFAULT_STEP_VARIANTS, help: `variants to run, of ${STEP_VARIANTS.map((v) => v.name).join(', ')} (bn-tiled: bn on the tiled conv kernels bn-fused runs as; bn-fused: BN fused into the convolutions)` },
  quick: { type: 'bool', default: false, help: 'WRN-10-1 at batch 4, 3 rounds of 2 steps: a minute on a CPU adapter' },
  out: { type: 'string', default: DEFAULT_RESULTS_DIR, help: 'directory for the JSON result and its PNG chart' },
  'wall-clock': { type: 'bool', default: false, help: 'skip the timestamp profile (wall time per step only)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

const STEP_SUMMARY =
  "Whole WRN training steps of the variants, interleaved over --rounds rounds: wall time and GPU time by kernel category (median [min, max] over rounds); BN's cost two ways, (a) the wall-time difference bn - skipinit and (b) the BN kernels' share of the bn step's GPU time, each with its spread and a verdict when it is not resolved; every category's bytes, FLOPs and roofline floor against the copy and FMA yardsticks measured in the same rounds; and a labelled projection of the floors onto published GPUs. The JSON records the rounds, the load average, the profile, the commit and the command.";

const CONV2D_SUMMARY =
  "Time conv2d forward, backward-input and backward-filter at WRN-16-4 layer shapes against the engine's matmul and the benchmark's SGEMM on the equivalent GEMM (M = Cout, N = batch x Ho x Wo, K = Cin x KH x KW): ms per dispatch (best of --rounds), GFLOP/s, this process's CPU ms, and fwd/mm, fwd/sgemm (target >= 0.7), bi/fwd, bf/fwd (target <= 1.5).";

const CONV2D_FLAGS = {
  batch: { type: 'int', default: 2, help: 'batch size (WRN-16-4 trains at 64-128; on SwiftShader a small batch keeps this quick)' },
  reps: { type: 'int', default: 3, help: 'dispatches recorded into one submit' },
  rounds: { type: 'int', default: 3, help: 'submits per kernel; the best counts' },
  only: { type: 'string', default: '', help: "only the layers whose name contains this (e.g. 'stage1', 'shortcut')" },
  layer: { type: 'string', default: '', help: 'time one custom layer instead: cin,cout,size,k,stride,pad (e.g. 64,64,16,3,1,1)' },
  tile: { type: 'string', choices: TILE_NAMES, help: "one tile shape for all three kernels (default: each GEMM gets pickTile's)" },
  'max-workgroups': { type: 'int', help: 'launch at most this many workgroups at once (default: the engine\'s choice for the adapter)' },
  'skip-matmul': { type: 'bool', default: false, help: "skip the engine's matmul on the same GEMM" },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

const BN_DISPATCH_SUMMARY =
  "Time each dispatch of batch norm (statistics partials and merge, normalize+relu, gradient partials and merge, dx+relu) and a ReLU in units of a vec4 copy of the same tensor in the same profile, at WRN stage shapes: GPU timestamps, median of 5 profiles. Minimal bytes per value: 4 (stats), 12 (normalize), 8 (grad partials), 12 (dx); the copy moves 8.";

const BN_DISPATCH_FLAGS = {
  batch: { type: 'int', default: 2, help: 'batch size' },
  shapes: { type: 'list', default: BN_SHAPES.map(([c, h]) => `${c}x${h}`), help: 'the [batch, C, H, H] tensors to profile, as CxH' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

const HELP = `usage: wrn bench <kernels|step|compare|conv2d|bn-dispatches> [flags]   (wrn bench <subcommand> --help for its flags)

  kernels   every hot kernel of a training step at WRN-16-4 layer shapes: median time, GB/s or
            GFLOP/s, and the ratio to this adapter's copy bandwidth / SGEMM throughput measured in
            the same run, with the kernel targets (>= 70% of copy, conv >= 70% of SGEMM, conv
            backward <= 1.5x forward). --browser runs it in headless Chromium; --versions times
            the measured kernel versions (src/gpu/versions.ts) side by side, each validated first.
  step      whole training steps (forward, backward, SGD) of the bn, bn-tiled, bn-fused, skipinit
            and unnormalized variants interleaved over rounds: BN's cost with spreads, GPU time
            by kernel category, bytes and FLOPs, roofline floors, images/s
  compare   wrn bench compare A.json B.json: B over A, per kernel or per step category
  conv2d    the three conv2d kernels per WRN-16-4 layer against the engine's matmul and the SGEMM
            yardstick on the same GEMM (wall and CPU time; how the tile shapes were chosen)
  bn-dispatches
            each BN dispatch's GPU time in units of a copy of the same tensor (how the BN kernels
            were tuned)

kernels and step write their results to ${DEFAULT_RESULTS_DIR}/ as JSON (adapter, runtime, commit, every figure)
plus a PNG chart; conv2d and bn-dispatches print a table only.`;

function nodeNotes(rt: GpuRuntime): string[] {
  const notes: string[] = [];
  if (rt.ctx.adapter.isFallbackAdapter) {
    notes.push(`CPU adapter: kernels run on the host's ${cpus().length} cores, shared with whatever else runs (load average ${loadavg()[0].toFixed(2)} at start); figures are noisy, ratios less so`);
  }
  const chosen = rt.profile.conv2d.chosen;
  if (chosen) notes.push(`tuning cache: ${Object.keys(chosen).length} convolution choices overlaid on the '${rt.profile.name}' profile (wrn tune)`);
  return notes;
}

function positiveInts(cmd: string, f: Record<string, unknown>, names: string[]): void {
  for (const n of names) {
    const v = f[n];
    const min = n === 'warmup' || n === 'profiled-steps' ? 0 : 1;
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) throw new UsageError(`wrn bench ${cmd}: --${n} must be an integer >= ${min}, got ${v}`);
  }
}

async function kernels(argv: string[]): Promise<number> {
  const f = parseFlags('bench kernels', argv, KERNEL_FLAGS);
  if (f.help) {
    console.log(usage('bench kernels', 'Time every hot kernel at WRN-16-4 layer shapes against the adapter\'s own copy bandwidth and SGEMM throughput.', KERNEL_FLAGS));
    return 0;
  }
  positiveInts('kernels', f, ['batch', 'reps', 'warmup']);
  // Past this batch the largest activation would not fit one tensor (a bare allocation error otherwise).
  const largest = WRN16_4_LAYERS.reduce((a, l) => (l.c * l.h * l.h > a.c * a.h * a.h ? l : a));
  const maxBatch = Math.floor(MAX_TENSOR_VALUES / (largest.c * largest.h * largest.h));
  if (f.batch !== undefined && f.batch > maxBatch) {
    throw new UsageError(`wrn bench kernels: --batch must be in [1, ${maxBatch}] (beyond, the ${layerName(largest)} activation would hold more than ${MAX_TENSOR_VALUES.toLocaleString('en')} values = 1 GiB), got ${f.batch}`);
  }
  requireRange('bench kernels', 'timeout', f.timeout, 1, MAX_TIMEOUT_S); // 0 would mean no timeout
  let versions: VersionRequest;
  try {
    versions = parseVersionRequest(f.versions ?? '');
  } catch (e) {
    throw new UsageError(`wrn bench kernels: --versions: ${(e as Error).message}`);
  }
  if (f.browser && versions.kind !== 'default') throw new UsageError('wrn bench kernels: --versions runs in Node only (not with --browser)');
  ensureDir(f.out, '--out'); // a bad --out fails now, not after minutes of benchmarking
  const quick = f.quick || f.browser; // the page runs the quick configuration
  const d = kernelDefaults(quick);
  const opts: KernelBenchOptions = { ...d, quick, only: f.only, wallClock: f['wall-clock'], versions, commit: gitCommit() };
  if (f.batch !== undefined) opts.batch = f.batch;
  if (f.reps !== undefined) opts.reps = f.reps;
  if (f.warmup !== undefined) opts.warmup = f.warmup;
  let r: KernelBenchResult;
  if (f.browser) {
    r = await kernelsInBrowser(opts, f.gpu, f.timeout);
  } else {
    const rt = await openTunedRuntime({ timestamps: true });
    if (versions.kind === 'select') console.log(`kernel versions: ${formatVersions(versionsOf(withVersions(rt.profile, versions.versions)))}`);
    if (versions.kind === 'compare') console.log(`kernel versions compared: ${versions.families.join(', ')} (the profile's own: ${formatVersions(versionsOf(rt.profile))})`);
    r = await runKernelBench(rt, { ...opts, notes: nodeNotes(rt), log: (l) => console.log(`  ${l}`) });
  }
  console.log('');
  console.log(formatKernels(r));
  const sideBySide = 'versions' in r ? formatVersionComparison(r as Parameters<typeof formatVersionComparison>[0]) : '';
  if (sideBySide) console.log(`\n${sideBySide}`);
  const files = writeResult(r, f.out);
  console.log(`\nwrote ${files.json} and ${files.png}`);
  return 0;
}

async function kernelsInBrowser(opts: KernelBenchOptions, useGpu: boolean, timeoutS: number): Promise<KernelBenchResult> {
  const { runInBrowser } = await import('../web/runner.js');
  const query: Record<string, string | number | boolean> = { batch: opts.batch, reps: opts.reps, warmup: opts.warmup, quick: 1 };
  if (opts.only) query.only = opts.only;
  if (opts.wallClock) query.wallClock = 1;
  if (opts.commit) query.commit = opts.commit;
  console.log(`running the kernel benchmark in headless Chromium (${useGpu ? "the machine's GPU" : 'WebGPU on SwiftShader'}) ...`);
  const page = await runInBrowser({
    task: 'bench',
    query,
    gpu: useGpu ? 'default' : 'swiftshader',
    timeoutMs: timeoutS * 1000,
    // Chromium rounds GPU timestamps to 100 us unless told otherwise (a fingerprinting guard).
    extraArgs: ['--disable-dawn-features=timestamp_quantization'],
    onConsole: (l) => {
      if (l.startsWith('[wrn]   ')) console.log(`  ${l.slice(8)}`);
    },
  });
  if (page.error) throw new Error(`the page reported an error: ${page.error}`);
  const r = validateResult(page.result, 'the browser page\'s result') as KernelBenchResult;
  r.notes = [...r.notes, `${page.browserVersion}, headless, launched with ${page.launchArgs.join(' ')}`];
  return r;
}

async function step(argv: string[]): Promise<number> {
  const f = parseFlags('bench step', argv, STEP_FLAGS);
  if (f.help) {
    console.log(usage('bench step', STEP_SUMMARY, STEP_FLAGS));
    return 0;
  }
  positiveInts('step', f, ['depth', 'width', 'batch', 'steps', 'warmup', 'rounds', 'profiled-steps']);
  ensureDir(f.out, '--out');
  const d = stepDefaults(f.quick);
  const o = { ...d, quick: f.quick, variants: (f.variants as (string | number)[]).map(String), wallClock: f['wall-clock'], commit: gitCommit(), command: ['wrn', 'bench', 'step', ...argv].join(' '), loadAverage: loadavg, profiledSteps: f['profiled-steps'] };
  for (const k of ['depth', 'width', 'batch', 'steps', 'warmup', 'rounds'] as const) if (f[k] !== undefined) o[k] = f[k];
  requireWrnDepth('bench step', 'depth', o.depth);
  const unknown = o.variants.filter((v) => !STEP_VARIANTS.some((s) => s.name === v));
  if (unknown.length) throw new UsageError(`wrn bench step: unknown variant(s) ${unknown.join(', ')} (known: ${STEP_VARIANTS.map((s) => s.name).join(', ')})`);
  // Sizes that cannot be allocated are refused before the adapter is opened, naming the flags.
  for (const v of STEP_VARIANTS.filter((s) => o.variants.includes(s.name))) {
    try {
      checkWrnSize({ depth: o.depth, widen: o.width, variant: v.variant });
    } catch (e) {
      throw new UsageError(`wrn bench step: --depth ${o.depth} --width ${o.width}: ${(e as Error).message}`);
    }
  }
  requireTensorSize('bench step', 'the activations [--batch, 16 x --width, 32, 32] =', [o.batch, 16 * o.width, 32, 32], '--batch or --width');
  const rt = await openTunedRuntime({ timestamps: true });
  const r = await runStepBench(rt, { ...o, notes: nodeNotes(rt), log: (l) => console.log(`  ${l}`) });
  console.log('');
  console.log(formatStep(r));
  const files = writeResult(r, f.out);
  console.log(`\nwrote ${files.json} and ${files.png}`);
  return 0;
}

function compare(argv: string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: wrn bench compare A.json B.json\n\nPrint B over A for two results of the same kind: per kernel (time and ratio to the limits) or per step variant and category.');
    return 0;
  }
  if (argv.length !== 2 || argv.some((a) => a.startsWith('--'))) {
    throw new UsageError(`wrn bench compare: expected two result files (wrn bench compare A.json B.json), got ${argv.length ? argv.map((a) => `'${a}'`).join(' ') : 'none'}`);
  }
  const [a, b] = argv.map(readResult);
  console.log(compareResults(a, b, argv[0], argv[1]));
  return 0;
}

async function conv2dBench(argv: string[]): Promise<number> {
  const f = parseFlags('bench conv2d', argv, CONV2D_FLAGS);
  if (f.help) {
    console.log(usage('bench conv2d', CONV2D_SUMMARY, CONV2D_FLAGS));
    return 0;
  }
  positiveInts('conv2d', f, ['batch', 'reps', 'rounds', 'max-workgroups']);
  let layers;
  if (f.layer) {
    try {
      layers = [parseConvLayer(f.layer)];
    } catch (e) {
      throw new UsageError(`wrn bench conv2d: --layer: ${(e as Error).message}`);
    }
  }
  // The largest tensors of each layer (input, output, and the GEMM's N-sized operand, padded for the SGEMM).
  for (const l of layers ?? CONV_LAYERS) {
    const ho = convOutSize(l.size, l.k, l.stride, l.pad);
    const n = f.batch * ho * ho;
    requireTensorSize('bench conv2d', `${l.name}: the input [--batch, ${l.cin}, ${l.size}, ${l.size}] =`, [f.batch, l.cin, l.size, l.size], '--batch');
    requireTensorSize('bench conv2d', `${l.name}: the output [--batch, ${l.cout}, ${ho}, ${ho}] =`, [f.batch, l.cout, ho, ho], '--batch');
    requireTensorSize('bench conv2d', `${l.name}: the GEMM's K x N operand (K = Cin x KH x KW, N = batch x Ho x Wo, padded) =`, [Math.ceil((l.cin * l.k * l.k) / 16) * 16, Math.ceil(n / 64) * 64], '--batch');
  }
  const rt = await openTunedRuntime();
  await runConv2dBench(rt, { batch: f.batch, reps: f.reps, rounds: f.rounds, only: f.only, layers, tile: f.tile ?? null, maxWorkgroups: f['max-workgroups'] ?? null, skipMatmul: f['skip-matmul'] });
  return 0;
}

async function bnDispatches(argv: string[]): Promise<number> {
  const f = parseFlags('bench bn-dispatches', argv, BN_DISPATCH_FLAGS);
  if (f.help) {
    console.log(usage('bench bn-dispatches', BN_DISPATCH_SUMMARY, BN_DISPATCH_FLAGS));
    return 0;
  }
  positiveInts('bn-dispatches', f, ['batch']);
  const shapes = f.shapes.map((s): [number, number] => {
    const m = /^(\d+)x(\d+)$/.exec(String(s));
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`wrn bench bn-dispatches: --shapes: expected CxH with C, H >= 1 (e.g. 64x32), got '${s}'`);
    return [Number(m[1]), Number(m[2])];
  });
  requireNonEmpty('bench bn-dispatches', 'shapes', shapes);
  for (const [c, h] of shapes) requireTensorSize('bench bn-dispatches', 'the tensor [--batch, C, H, H] =', [f.batch, c, h, h], '--batch or --shapes');
  const rt = await openTunedRuntime({ timestamps: true });
  await runBnDispatchBench(rt, { batch: f.batch, shapes });
  return 0;
}

export async function benchCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub === 'kernels') return kernels(rest);
  if (sub === 'step') return step(rest);
  if (sub === 'compare') return compare(rest);
  if (sub === 'conv2d') return conv2dBench(rest);
  if (sub === 'bn-dispatches') return bnDispatches(rest);
  throw new UsageError(`wrn bench: unknown subcommand '${sub}' (expected kernels, step, compare, conv2d or bn-dispatches)\n\n${HELP}`);
}
