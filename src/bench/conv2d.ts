// `wrn bench conv2d`: times the conv2d kernels (forward, backward-input, backward-filter) at
// WRN-16-4-like shapes and compares them, on the equivalent GEMM (M = Cout, N = batch*Ho*Wo,
// K = Cin*KH*KW) measured in the same run, with the engine's matmul kernel (src/ops/matmul.ts) and
// with the benchmark suite's SGEMM yardstick (src/bench/shaders/sgemm.wgsl, the GEMM padded to its
// 64x64x16 granularity; its GFLOP/s count the padded FLOPs, as in src/bench/kernels.ts).
// `tile` forces one tile shape for all three kernels (by default each GEMM gets pickTile's).
//
// Each measurement: one warm-up dispatch and sync, then `rounds` times: record `reps` dispatches
// into one submit and wait for them; the best round counts (other processes share the CPU when
// the adapter is SwiftShader). GFLOP/s counts 2*M*N*K for all three kernels (the nominal conv
// FLOPs; the backward-input kernel skips taps that miss with stride 2, so it does fewer).
// Node only (process.cpuUsage).
import { gpu, runKernel, Tensor } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { matmulKernel } from '../ops/matmul.js';
import { conv2dBackwardFilterKernel, conv2dBackwardInputKernel, conv2dForwardKernel, convOutSize, type Conv2dParams } from '../ops/conv2d.js';
import { TILE_SHAPES } from '../gpu/programs/conv2d.js';
import { paddedGemm, recordSgemm } from './harness.js';

export interface ConvLayer {
  name: string;
  cin: number;
  cout: number;
  /** input H = W */
  size: number;
  k: number;
  stride: number;
  pad: number;
}

// WRN-16-4 on 32x32 images: stem, then stages of width 64, 128, 256 (stride 2 into stages 2, 3).
export const CONV_LAYERS: ConvLayer[] = [
  { name: 'stem 3->16 3x3 @32', cin: 3, cout: 16, size: 32, k: 3, stride: 1, pad: 1 },
  { name: 'stage1 64->64 3x3 @32', cin: 64, cout: 64, size: 32, k: 3, stride: 1, pad: 1 },
  { name: 'stage2 64->128 3x3 s2 @32', cin: 64, cout: 128, size: 32, k: 3, stride: 2, pad: 1 },
  { name: 'stage2 128->128 3x3 @16', cin: 128, cout: 128, size: 16, k: 3, stride: 1, pad: 1 },
  { name: 'stage3 256->256 3x3 @8', cin: 256, cout: 256, size: 8, k: 3, stride: 1, pad: 1 },
  { name: 'shortcut 128->256 1x1 s2 @16', cin: 128, cout: 256, size: 16, k: 1, stride: 2, pad: 0 },
];

/** The tile shapes by name ('64x64', '32x128', '16x256'). */
export const TILE_NAMES = TILE_SHAPES.map((t) => `${t.tm}x${t.tn}`);

/** 'cin,cout,size,k,stride,pad' as one custom layer; a message naming the bad part otherwise. */
export function parseConvLayer(spec: string): ConvLayer {
  const parts = spec.split(',').map((s) => s.trim());
  const names = ['cin', 'cout', 'size', 'k', 'stride', 'pad'];
  if (parts.length !== 6 || parts.some((p) => !/^\d+$/.test(p))) throw new Error(`expected cin,cout,size,k,stride,pad (six integers, e.g. 64,64,16,3,1,1), got '${spec}'`);
  const [cin, cout, size, k, stride, pad] = parts.map(Number);
  for (const [i, v] of [cin, cout, size, k, stride].entries()) if (v < 1) throw new Error(`${names[i]} must be >= 1, got ${v} in '${spec}'`);
  if (convOutSize(size, k, stride, pad) < 1) throw new Error(`a ${k}x${k} kernel with pad ${pad} does not fit a ${size}x${size} input ('${spec}')`);
  return { name: `custom ${cin}->${cout} ${k}x${k} s${stride} p${pad} @${size}`, cin, cout, size, k, stride, pad };
}

export interface Conv2dBenchOptions {
  batch: number;
  /** dispatches per submit */
  reps: number;
  /** submits; the best counts */
  rounds: number;
  /** only the layers whose name contains this */
  only?: string;
  skipMatmul?: boolean;
  /** time these layers instead of CONV_LAYERS */
  layers?: ConvLayer[];
  /** cap on workgroups launched at once (the profile's conv2d.maxWorkgroups, for this run) */
  maxWorkgroups?: number | null;
  /** one tile shape for every GEMM (one of TILE_NAMES) */
  tile?: string | null;
}

/** Best-of-rounds ms per dispatch: wall time, and this process's CPU time (all threads). */
export interface ConvTime {
  wall: number;
  cpu: number;
}

export interface Conv2dBenchRow {
  layer: ConvLayer;
  gemm: { m: number; n: number; k: number };
  flops: number;
  forward: ConvTime;
  backwardInput: ConvTime;
  backwardFilter: ConvTime;
  /** NaN with skipMatmul */
  matmul: ConvTime;
  sgemm: ConvTime;
  sgemmFlops: number;
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

function rand(shape: number[], seed: number): Tensor {
  return Tensor.from(random(shape.reduce((a, b) => a * b, 1), seed), shape, 'webgpu');
}

/**
 * Best-of-`rounds` milliseconds per dispatch of `record` (which records one dispatch): wall time,
 * and this process's CPU time (all threads), which on a CPU adapter is the work done and is not
 * inflated when other processes share the cores.
 */
async function time(record: () => void, reps: number, rounds: number): Promise<ConvTime> {
  record();
  await gpu().sync();
  let wall = Infinity;
  let cpu = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) record();
    await gpu().sync();
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, (performance.now() - t0) / reps);
    cpu = Math.min(cpu, (c.user + c.system) / 1000 / reps);
  }
  return { wall, cpu };
}

/** Time every selected layer, printing the table through `log`, under the runtime's profile with --tile and --max-workgroups applied (then put back). */
export async function runConv2dBench(rt: GpuRuntime, o: Conv2dBenchOptions, log: (line: string) => void = console.log): Promise<Conv2dBenchRow[]> {
  const conv2d = { ...rt.profile.conv2d };
  if (o.maxWorkgroups != null) conv2d.maxWorkgroups = o.maxWorkgroups;
  if (o.tile) {
    const tile = TILE_SHAPES.find((t) => `${t.tm}x${t.tn}` === o.tile);
    if (!tile) throw new Error(`--tile ${o.tile}: expected one of ${TILE_NAMES.join(', ')}`);
    conv2d.tiles = [tile];
  }
  const prev = rt.setProfile({ ...rt.profile, conv2d });
  try {
    return await timeLayers(rt, o, log);
  } finally {
    rt.setProfile(prev);
  }
}

async function timeLayers(rt: GpuRuntime, o: Conv2dBenchOptions, log: (line: string) => void): Promise<Conv2dBenchRow[]> {
  const { batch, reps, rounds } = o;
  log(`batch ${batch} (WRN-16-4 trains at batch 64-128; on SwiftShader a small batch keeps this quick), ${reps} dispatches per submit, best of ${rounds}`);
  const fmt = (t: ConvTime, flops: number) => `${t.wall.toFixed(1).padStart(7)} ms ${(flops / t.wall / 1e6).toFixed(2).padStart(5)} GF/s ${t.cpu.toFixed(0).padStart(5)} cpu-ms`;
  const col = (s: string) => s.padEnd(35);
  log(`${'layer'.padEnd(30)} ${'GEMM MxNxK'.padEnd(16)} ${col('forward')} ${col('backward-input')} ${col('backward-filter')} ${col('matmul (same GEMM)')} ${col('bench SGEMM (padded GEMM)')} fwd/mm fwd/sgemm bi/fwd bf/fwd`);
  const rows: Conv2dBenchRow[] = [];
  for (const l of o.layers ?? CONV_LAYERS) {
    if (o.only && !l.name.includes(o.only)) continue;
    const ho = convOutSize(l.size, l.k, l.stride, l.pad);
    const xShape = [batch, l.cin, l.size, l.size];
    const wShape = [l.cout, l.cin, l.k, l.k];
    const yShape = [batch, l.cout, ho, ho];
    const m = l.cout;
    const n = batch * ho * ho;
    const k = l.cin * l.k * l.k;
    const flops = 2 * m * n * k;
    const p: Conv2dParams = { stride: l.stride, pad: l.pad };
    const x = rand(xShape, 1);
    const w = rand(wShape, 2);
    const dy = rand(yShape, 3);
    const y = Tensor.empty(yShape, 'webgpu');
    const dx = Tensor.empty(xShape, 'webgpu');
    const dw = Tensor.empty(wShape, 'webgpu');
    const a = rand([m, k], 4);
    const b = rand([k, n], 5);
    const c = Tensor.empty([m, n], 'webgpu');
    const padded = paddedGemm({ m, n, k });
    const pa = rand([padded.m, padded.k], 6);
    const pb = rand([padded.k, padded.n], 7);
    const pc = Tensor.empty([padded.m, padded.n], 'webgpu');
    try {
      const fwd = await time(() => runKernel(conv2dForwardKernel, [x, w], [y], p), reps, rounds);
      const bi = await time(() => runKernel(conv2dBackwardInputKernel, [dy, w], [dx], p), reps, rounds);
      const bf = await time(() => runKernel(conv2dBackwardFilterKernel, [x, dy], [dw], p), reps, rounds);
      const mm = o.skipMatmul ? { wall: NaN, cpu: NaN } : await time(() => runKernel(matmulKernel, [a, b], [c], { m, n, k, transA: false, transB: false }), reps, rounds);
      const sg = await time(() => recordSgemm(rt, pa.gpuBuf(), pb.gpuBuf(), pc.gpuBuf(), padded), reps, rounds);
      const sgFlops = 2 * padded.m * padded.n * padded.k;
      log(
        `${l.name.padEnd(30)} ${`${m}x${n}x${k}`.padEnd(16)} ${fmt(fwd, flops)} ${fmt(bi, flops)} ${fmt(bf, flops)} ${fmt(mm, flops)} ${fmt(sg, sgFlops)}` +
          ` ${(mm.wall / fwd.wall).toFixed(2).padStart(6)} ${(flops / fwd.wall / (sgFlops / sg.wall)).toFixed(2).padStart(9)}` +
          ` ${(bi.wall / fwd.wall).toFixed(2).padStart(6)} ${(bf.wall / fwd.wall).toFixed(2).padStart(6)}`,
      );
      rows.push({ layer: l, gemm: { m, n, k }, flops, forward: fwd, backwardInput: bi, backwardFilter: bf, matmul: mm, sgemm: sg, sgemmFlops: sgFlops });
    } finally {
      for (const t of [x, w, dy, y, dx, dw, a, b, c, pa, pb, pc]) t.release();
    }
  }
  if (!rows.length) throw new Error(`no layer matches --only '${o.only}' (layers: ${(o.layers ?? CONV_LAYERS).map((l) => l.name).join('; ')})`);
  log('fwd/mm, fwd/sgemm = conv forward GFLOP/s over matmul / bench SGEMM GFLOP/s (target >= 0.7); bi/fwd, bf/fwd = backward wall time over forward wall time (target <= 1.5)');
  return rows;
}
