// The networks of the signal-propagation analysis (Figure 2 of De & Smith 2020), measured at
// initialization with forward passes only.
//
//   fc-unnorm         x_l = x_{l-1} + W_l ReLU(x_{l-1})                 W_l He (std sqrt(2/width))
//   fc-bn             x_l = x_{l-1} + W_l ReLU(BN(x_{l-1}))             BN: batch statistics, gamma 1, beta 0
//   fc-linear-unnorm  x_l = x_{l-1} + W_l x_{l-1}                       W_l std sqrt(1/width): the paper's
//   fc-linear-bn      x_l = x_{l-1} + W_l BN(x_{l-1})                   "linear" nets of Figure 2(a), (b)
//   conv-bn           x_l = x_{l-1} + conv3x3_l(ReLU(BN(x_{l-1})))      He (std sqrt(2/(9C))), pad 1
//   skipinit          x_l = x_{l-1} + alpha W_l ReLU(x_{l-1}), alpha = 0
//   skipinit-alpha    the same with a small alpha (default 1/sqrt(depth))
//   wrn-<variant>     the trainer's Wide-ResNet (src/model/wrn.ts), statistics per block via its probe
//
// The fully connected layer is a 1x1 convolution of x viewed as [batch, width, 1, 1]: the same
// product as linear(), and on a CPU adapter conv2d's tiling (a few workgroups looping over tiles)
// runs it ~10x faster than matmul.wgsl (measured: 56 ms against 525 ms at 256x256x256).
//
// Each block's weights are fresh He-normal draws made on the CPU from a seeded stream that
// depends only on (seed, block, layer shape), so every net of one shape sees the same W_l, on
// either device; they are uploaded, used once, and released with the block's scope, so depth 1000
// never holds more than a few blocks' weights.
import { noGrad, scope, Tensor, type Device } from '../tensor.js';
import { add, relu } from '../ops/elementwise.js';
import { batchNorm, type BatchNormState } from '../ops/batchnorm.js';
import { conv2d } from '../ops/conv2d.js';
import { skipAdd } from '../ops/skipadd.js';
import { VARIANTS, WideResNet, blocksPerStage, type Variant } from '../model/wrn.js';
import { mixSeed, Rng } from '../util/rng.js';
import { channelStats, readStats, type ChannelStats, type ChannelStatsTensors } from './stats.js';
import { predictConvBn, predictDoubling, predictPlusOne, predictSkipInit, type Prediction } from './predict.js';
import { convBnExpectation, type ConvBnExpectation } from './convbn.js';

export const FC_NETS = ['fc-unnorm', 'fc-bn', 'fc-linear-unnorm', 'fc-linear-bn', 'skipinit', 'skipinit-alpha'] as const;
export const CONV_NETS = ['conv-bn'] as const;
export const WRN_NETS = VARIANTS.map((v) => `wrn-${v}` as const);
export const SIGNAL_NETS = [...FC_NETS, ...CONV_NETS, ...WRN_NETS] as const;
export type SignalNet = (typeof SIGNAL_NETS)[number];

export function isSignalNet(name: string): name is SignalNet {
  return (SIGNAL_NETS as readonly string[]).includes(name);
}

export interface SignalConfig {
  /** Residual blocks of the fc-* , skipinit* and conv-bn nets. */
  depth: number;
  /** Fully connected nets: features and batch size. */
  width: number;
  batch: number;
  /** conv-bn: channels, batch size and image size (square). */
  convChannels: number;
  convBatch: number;
  convSize: number;
  /** skipinit-alpha's alpha. */
  alpha: number;
  /** Wide-ResNets: depth 6N + 4, width factor, batch size. */
  wrnDepth: number;
  wrnWidth: number;
  wrnBatch: number;
  /** WRN inputs [wrnBatch, 3, 32, 32]; Gaussian (mean 0, variance 1) if absent. */
  wrnImages?: Float32Array;
  device: Device;
  seed: number;
  /** Blocks recorded between two readbacks. */
  chunk: number;
  /** Stop a net once its variance has been non-finite for a whole chunk (the rest is inf/NaN). */
  stopAfterOverflow: boolean;
  /** Independent draws of weights and inputs averaged per block, for every net (runSignal); absent: DEFAULT_DRAWS per net. */
  draws?: number;
}

/**
 * Draws averaged per net when cfg.draws is absent, chosen from each net's per-draw scatter so that
 * the mean over draws stays within the command's criteria (report.ts, SIGNAL_CRITERIA) at every
 * block of the default geometry. sigma_1, one draw's relative scatter of the second moment, is
 * printed by the command (drawSd); the largest deviation over 1000 blocks of the mean of K draws
 * came out at 2.9-3.9 sigma_1 / sqrt(K) (the noise is correlated from block to block, and sigma_1
 * varies over blocks), so K is the smallest with 3 sigma_1 / sqrt(K) <= 5% for sigma_1 at its
 * 90th percentile over blocks: fc-bn 5.8% -> 12, fc-linear-bn 3.5% -> 5, conv-bn 7.5% -> 21, kept
 * at 25 (README, "Figure 2"). The others are exact (SkipInit, alpha = 0), far inside their
 * criterion with one draw (the unnormalized nets), or have no criterion.
 */
export const DEFAULT_DRAWS: Partial<Record<SignalNet, number>> = { 'fc-bn': 12, 'fc-linear-bn': 5, 'conv-bn': 25 };

/** Draws of `net` in a run: cfg.draws when given, else the net's default. */
export function drawsFor(net: SignalNet, cfg: Pick<SignalConfig, 'draws'>): number {
  return cfg.draws ?? DEFAULT_DRAWS[net] ?? 1;
}

/** BN's eps in every net of the analysis (the expectation of conv-bn keeps it too). */
export const SIGNAL_BN_EPS = 1e-5;

export const DEFAULT_SIGNAL: SignalConfig = {
  depth: 1000,
  width: 128,
  batch: 128,
  convChannels: 32,
  convBatch: 4,
  convSize: 8,
  alpha: 1 / Math.sqrt(1000),
  wrnDepth: 16,
  wrnWidth: 1,
  wrnBatch: 8,
  device: 'webgpu',
  seed: 0,
  chunk: 50,
  stopAfterOverflow: true,
};

/** Statistics of block l: x_l after the add, and the branch f_l just before it (before alpha). */
export interface BlockRow extends ChannelStats {
  block: number;
  /** Shape of x_l. */
  shape: number[];
  branchSqMean: number;
  branchVariance: number;
  /** Averaged draws only: the relative standard deviation of one draw's second moment over the draws (sigma_1 at this block). */
  drawSd?: number;
}

export interface NetResult {
  net: SignalNet;
  description: string;
  /** Shape of x_0 (WRN: the input images). */
  inputShape: number[];
  /** Scale of the branch at the join (SkipInit's alpha), or null for a plain add. */
  alpha: number | null;
  /** Statistics of x_0 (WRN: of the images). */
  input: ChannelStats;
  rows: BlockRow[];
  /** Blocks the net has. */
  depth: number;
  /** Set when the run stopped early after an overflow: the last block measured. */
  stoppedAt: number | null;
  /** The analysis' prediction, anchored at the measured Var(x_0); null for the WRNs. */
  prediction: Prediction | null;
  /** Independent draws averaged into these rows (1 for one measurement). */
  draws: number;
  seconds: number;
}

export type ProgressFn = (net: SignalNet, done: number, total: number, seconds: number) => void;

// ---- seeded normal draws ------------------------------------------------------------------------

const INPUT_STREAM = 0x5167_0001;
const WEIGHT_STREAM = 0x5167_0002;

/** Seed of the Gaussian inputs of shape [n, c, h, ...] (fc: [batch, width, 1, 1]; WRN: [batch, 3, 32, 32]). */
export function inputSeed(seed: number, shape: readonly number[]): number {
  return mixSeed(INPUT_STREAM, seed, shape[0], shape[1], shape[2] ?? 1);
}

/** Seed of block l's weights [c, c, k, k] (before the std scaling). */
export function weightSeed(seed: number, c: number, k: number, l: number): number {
  return mixSeed(WEIGHT_STREAM, seed, c, k, l);
}

/** n normal draws (Box-Muller, both outputs) times std. */
export function normals(n: number, seed: number, std = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = std * Math.sqrt(-2 * Math.log(1 - rng.float()));
    const t = 2 * Math.PI * rng.float();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

// ---- the residual nets of the analysis ---------------------------------------------------------

interface ResidualSpec {
  family: 'fc' | 'conv';
  norm: boolean;
  relu: boolean;
  /** null: x + f; a number: skipAdd(x, f, alpha). */
  alpha: number | null;
  description: string;
}

function residualSpec(net: SignalNet, cfg: SignalConfig): ResidualSpec | null {
  switch (net) {
    case 'fc-unnorm':
      return { family: 'fc', norm: false, relu: true, alpha: null, description: 'x + W ReLU(x), He init' };
    case 'fc-bn':
      return { family: 'fc', norm: true, relu: true, alpha: null, description: 'x + W ReLU(BN(x)), He init' };
    case 'fc-linear-unnorm':
      return { family: 'fc', norm: false, relu: false, alpha: null, description: 'x + W x, std 1/sqrt(width)' };
    case 'fc-linear-bn':
      return { family: 'fc', norm: true, relu: false, alpha: null, description: 'x + W BN(x), std 1/sqrt(width)' };
    case 'skipinit':
      return { family: 'fc', norm: false, relu: true, alpha: 0, description: 'x + alpha W ReLU(x), alpha = 0' };
    case 'skipinit-alpha':
      return { family: 'fc', norm: false, relu: true, alpha: cfg.alpha, description: `x + alpha W ReLU(x), alpha = ${Number(cfg.alpha.toPrecision(4))}` };
    case 'conv-bn':
      return { family: 'conv', norm: true, relu: true, alpha: null, description: 'x + conv3x3(ReLU(BN(x))), He init, pad 1' };
    default:
      return null;
  }
}

function residualPrediction(spec: ResidualSpec, v0: number, cfg: SignalConfig): Prediction {
  if (spec.alpha !== null) return predictSkipInit(v0, spec.alpha);
  if (!spec.norm) return predictDoubling(v0);
  if (spec.family === 'conv') {
    const geom = { batch: cfg.convBatch, height: cfg.convSize, width: cfg.convSize, eps: SIGNAL_BN_EPS };
    const describe = (e: ConvBnExpectation) =>
      `conv-bn recursion, batch ${geom.batch}, ${geom.height}x${geom.width}: g_1 = ${e.branch[1].toFixed(4)}, g_${e.depth} = ${e.branch[e.depth].toFixed(4)}`;
    const note = (e: ConvBnExpectation) =>
      `the expectation: M = E[r r^T] by Monte Carlo (${e.pairs} antithetic pairs, fixed seed) at ${e.grid.length} of ${e.depth} blocks, held in between; ${e.seconds.toFixed(1)} s`;
    return predictConvBn(v0, () => convBnExpectation(geom, v0, cfg.depth), describe, note);
  }
  return predictPlusOne(v0);
}

/**
 * The analysis' prediction for a residual net anchored at Var(x_0) = v0 (null for the WRNs).
 * conv-bn's is computed on first use (src/signal/convbn.ts: seconds to tens of seconds).
 */
export function predictionFor(net: SignalNet, v0: number, cfg: SignalConfig): Prediction | null {
  const spec = residualSpec(net, cfg);
  return spec ? residualPrediction(spec, v0, cfg) : null;
}

/** Measure one net: statistics of x_0, then of every block, read back every `chunk` blocks. */
export async function measureNet(net: SignalNet, cfg: SignalConfig, onProgress?: ProgressFn): Promise<NetResult> {
  validateConfig(cfg);
  const spec = residualSpec(net, cfg);
  return spec ? measureResidual(net, spec, cfg, onProgress) : measureWrn(net, cfg, onProgress);
}

async function measureResidual(net: SignalNet, spec: ResidualSpec, cfg: SignalConfig, onProgress?: ProgressFn): Promise<NetResult> {
  const t0 = performance.now();
  const dev = cfg.device;
  const fc = spec.family === 'fc';
  const shape = fc ? [cfg.batch, cfg.width, 1, 1] : [cfg.convBatch, cfg.convChannels, cfg.convSize, cfg.convSize];
  const c = shape[1];
  const k = fc ? 1 : 3;
  const wShape = [c, c, k, k];
  const std = (spec.relu ? Math.sqrt(2) : 1) / Math.sqrt(c * k * k);
  const wSize = c * c * k * k;

  const held: Tensor[] = [];
  const hold = (t: Tensor) => (held.push(t.keep()), t);
  let bn: { gamma: Tensor; beta: Tensor; state: BatchNormState } | null = null;
  if (spec.norm) {
    bn = {
      gamma: hold(Tensor.full([c], 1, dev)),
      beta: hold(Tensor.zeros([c], dev)),
      state: { runningMean: hold(Tensor.zeros([c], dev)), runningVar: hold(Tensor.full([c], 1, dev)), momentum: 0.1, eps: SIGNAL_BN_EPS },
    };
  }
  const alphaT = spec.alpha === null ? null : hold(Tensor.from([spec.alpha], [1], dev));
  let x = Tensor.from(normals(shape.reduce((a, b) => a * b, 1), inputSeed(cfg.seed, shape)), shape, dev).keep();

  const rows: BlockRow[] = [];
  let stoppedAt: number | null = null;
  try {
    const [input] = await readStats([noGrad(() => scope(() => channelStats(x)))]);
    for (let start = 1; start <= cfg.depth && stoppedAt === null; start += cfg.chunk) {
      const end = Math.min(cfg.depth, start + cfg.chunk - 1);
      const pending: { x: ChannelStatsTensors; f: ChannelStatsTensors; shape: number[] }[] = [];
      for (let l = start; l <= end; l++) {
        const w = normals(wSize, weightSeed(cfg.seed, c, k, l), std);
        const [next, sx, sf] = noGrad(() =>
          scope(() => {
            const wt = Tensor.from(w, wShape, dev);
            let h = x;
            if (bn) h = batchNorm(x, bn.gamma, bn.beta, bn.state, { training: true, relu: spec.relu });
            else if (spec.relu) h = relu(x);
            const f = conv2d(h, wt, undefined, { stride: 1, pad: (k - 1) / 2 });
            const out = alphaT ? skipAdd(x, f, alphaT) : add(x, f);
            return [out, channelStats(out), channelStats(f)] as [Tensor, ChannelStatsTensors, ChannelStatsTensors];
          }),
        );
        x.release();
        x = next.keep();
        pending.push({ x: sx, f: sf, shape });
      }
      const read = await readStats(pending.flatMap((p) => [p.x, p.f]));
      pending.forEach((p, i) => rows.push(blockRow(start + i, p.shape, read[2 * i], read[2 * i + 1])));
      onProgress?.(net, end, cfg.depth, (performance.now() - t0) / 1000);
      // Once the variance has been inf/NaN for a whole chunk, the rest only carries inf/NaN.
      if (cfg.stopAfterOverflow && end < cfg.depth && end - start + 1 === cfg.chunk && rows.slice(-cfg.chunk).every((r) => !Number.isFinite(r.variance))) {
        stoppedAt = end;
      }
    }
    const v0 = input.sqMean + input.variance;
    return {
      net,
      description: spec.description,
      inputShape: shape,
      alpha: spec.alpha,
      input,
      rows,
      depth: cfg.depth,
      stoppedAt,
      prediction: residualPrediction(spec, v0, cfg),
      draws: 1,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    x.release();
    for (const t of held) t.release();
  }
}

// ---- Wide-ResNets, through the model's probe ----------------------------------------------------

async function measureWrn(net: SignalNet, cfg: SignalConfig, onProgress?: ProgressFn): Promise<NetResult> {
  const t0 = performance.now();
  const variant = net.slice('wrn-'.length) as Variant;
  const n = blocksPerStage(cfg.wrnDepth);
  const inputShape = [cfg.wrnBatch, 3, 32, 32];
  const size = inputShape.reduce((a, b) => a * b, 1);
  if (cfg.wrnImages && cfg.wrnImages.length !== size) {
    throw new Error(`signal: ${cfg.wrnImages.length} image values given for WRN inputs [${inputShape.join(', ')}] (${size} values)`);
  }
  const model = new WideResNet({ depth: cfg.wrnDepth, widen: cfg.wrnWidth, variant, seed: cfg.seed }, cfg.device);
  const x = Tensor.from(cfg.wrnImages ?? normals(size, inputSeed(cfg.seed, inputShape)), inputShape, cfg.device).keep();
  try {
    // One forward pass records every block's statistics; the pass is short, so one readback.
    const shapes: number[][] = [];
    const recorded = noGrad(() =>
      scope(() => {
        const list: ChannelStatsTensors[] = [channelStats(x)];
        model.forward(x, true, 0, (_block, out, branch) => {
          shapes.push([...out.shape]);
          list.push(channelStats(out), channelStats(branch));
        });
        return list;
      }),
    );
    const read = await readStats(recorded);
    const rows = shapes.map((s, i) => blockRow(i + 1, s, read[1 + 2 * i], read[2 + 2 * i]));
    onProgress?.(net, rows.length, 3 * n, (performance.now() - t0) / 1000);
    const alpha = variant === 'skipinit' || variant === 'regularized-skipinit' ? model.config.alphaInit : null;
    return {
      net,
      description: `WRN-${cfg.wrnDepth}-${cfg.wrnWidth} ${variant} (${n} blocks per stage)`,
      inputShape,
      alpha,
      input: read[0],
      rows,
      depth: 3 * n,
      stoppedAt: null,
      prediction: null,
      draws: 1,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    x.release();
    model.release();
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function blockRow(block: number, shape: number[], x: ChannelStats, f: ChannelStats): BlockRow {
  return { block, shape, sqMean: x.sqMean, variance: x.variance, branchSqMean: f.sqMean, branchVariance: f.variance };
}

/** Throws a clear error for a configuration no net can run. */
export function validateConfig(cfg: SignalConfig): void {
  const need = (name: string, v: number, lo: number, what = 'an integer') => {
    if (!Number.isInteger(v) || v < lo) throw new Error(`signal: ${name} must be ${what} >= ${lo}, got ${v}`);
  };
  need('depth', cfg.depth, 1);
  need('width', cfg.width, 1);
  need('batch', cfg.batch, 2); // a batch variance needs two samples
  need('convChannels', cfg.convChannels, 1);
  need('convBatch', cfg.convBatch, 1);
  need('convSize', cfg.convSize, 1);
  need('wrnWidth', cfg.wrnWidth, 1);
  need('wrnBatch', cfg.wrnBatch, 1);
  need('chunk', cfg.chunk, 1);
  if (!Number.isFinite(cfg.alpha)) throw new Error(`signal: alpha must be a finite number, got ${cfg.alpha}`);
  if (cfg.device !== 'cpu' && cfg.device !== 'webgpu') throw new Error(`signal: device must be 'cpu' or 'webgpu', got '${cfg.device}'`);
  blocksPerStage(cfg.wrnDepth);
}
