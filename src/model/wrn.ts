// Wide-ResNet WRN-n-k (Zagoruyko & Komodakis) in every variant the paper compares.
//
// depth n = 6N + 4: a 3x3 stem conv with 16 channels, three stages of N pre-activation blocks with
// widths 16k, 32k, 64k (stride 2 at the first block of stages 2 and 3), then (BN) ReLU, global
// average pool and a linear classifier. A block is
//     h = ReLU(BN(x));  branch = conv3x3(ReLU(BN(conv3x3(h, stride))));  out = skip + branch
// with skip = x, or a 1x1 conv (with the stride) of h when the width or the stride changes.
// Variants change only the normalization and how the branch joins the skip:
//   bn                    BN as above
//   skipinit              no BN; out = skip + alpha * branch, alpha a learnable scalar (init 0)
//   unnormalized          no BN, no alpha
//   regularized-skipinit  skipinit + a bias on every conv + dropout before the classifier
//   fixup                 no BN; scalar biases before each conv/linear/activation, a scalar
//                         multiplier per branch, zero-init last conv and classifier, branch convs
//                         scaled by L^(-1/(2m-2)) (L blocks, m = 2 convs per branch)
import { Tensor, type Device } from '../tensor.js';
import { add, relu } from '../ops/elementwise.js';
import { linear, addScalar } from '../ops/matmul.js';
import { conv2d } from '../ops/conv2d.js';
import { batchNorm, type BatchNormState } from '../ops/batchnorm.js';
import { skipAdd } from '../ops/skipadd.js';
import { addBnStats, bnReluConv2d, runningStats, type BnActivation, type BnStats } from '../ops/bn_fused.js';
import { globalAvgPool } from '../ops/pool.js';
import { dropout } from '../ops/dropout.js';
import { Rng } from '../util/rng.js';

export const VARIANTS = ['bn', 'skipinit', 'unnormalized', 'regularized-skipinit', 'fixup'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface WrnConfig {
  depth: number;
  widen: number;
  variant: Variant;
  numClasses?: number;
  /** Input channels (3: RGB, 1: grey); the stem maps them to 16. */
  inChannels?: number;
  /** SkipInit's alpha at init (0 in the paper; 1 for its ablation). */
  alphaInit?: number;
  /** Dropout before the classifier (regularized-skipinit: 0.6). */
  dropout?: number;
  seed?: number;
  /** BN running-statistics momentum and epsilon. */
  bnMomentum?: number;
  bnEps?: number;
  /** BN + ReLU in one kernel pass (default); false runs BN then a separate ReLU (for benchmarks). */
  fuseBnRelu?: boolean;
  /**
   * Variant bn only: BN fused into the convolutions (src/ops/bn_fused.ts), the same model and
   * parameters computed with fewer passes over memory: each BN's statistics come from the kernel
   * that wrote its input, its normalize + ReLU is applied by the convolution that reads it.
   */
  fuseBn?: boolean;
}

export interface Param {
  name: string;
  tensor: Tensor;
}

/** A standard normal draw (Box-Muller). */
function normal(rng: Rng): number {
  const u = 1 - rng.float(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.float());
}

// The most parameters a WRN may have (1 GiB of f32; its gradients and momenta take as much again
// each): past it the allocation fails with a bare 'Invalid typed array length' or a GPU error.
export const MAX_WRN_PARAMETERS = 2 ** 28;

/**
 * The parameter count of a configuration, computed without building it: the stem, per block two
 * 3x3 convs (and a 1x1 projection where the width or the stride changes), BN's gamma and beta,
 * the variant's biases and scalars, and the classifier. Equals WideResNet.parameterCount.
 */
export function wrnParameterCount(cfg: Pick<WrnConfig, 'depth' | 'widen' | 'variant' | 'numClasses' | 'inChannels'>): number {
  const n = blocksPerStage(cfg.depth);
  const v = cfg.variant;
  const bn = v === 'bn';
  const convBias = v === 'regularized-skipinit';
  const classes = cfg.numClasses ?? 10;
  let count = 16 * (cfg.inChannels ?? 3) * 9 + (convBias ? 16 : 0);
  // One block from inC to outC channels; a stage is its first block and n - 1 blocks from outC to
  // outC, in closed form: a huge valid depth is refused at once, not after a loop per block.
  const block = (inC: number, outC: number, projected: boolean) =>
    outC * inC * 9 + outC * outC * 9 + (bn ? 2 * inC + 2 * outC : 0) + (convBias ? 2 * outC : 0) + (projected ? outC * inC + (convBias ? outC : 0) : 0) +
    (v === 'skipinit' || v === 'regularized-skipinit' ? 1 : 0) + // alpha
    (v === 'fixup' ? 1 + 4 : 0); // the branch multiplier and four scalar biases
  let inC = 16;
  [16, 32, 64].forEach((w, stage) => {
    const outC = w * cfg.widen;
    count += block(inC, outC, inC !== outC || stage > 0) + (n - 1) * block(outC, outC, false);
    inC = outC;
  });
  if (bn) count += 2 * inC;
  count += classes * inC + classes + (v === 'fixup' ? 1 : 0);
  return count;
}

/** Refuse a configuration above MAX_WRN_PARAMETERS before anything is allocated; `lower` names what to change. */
export function checkWrnSize(cfg: Pick<WrnConfig, 'depth' | 'widen' | 'variant' | 'numClasses' | 'inChannels'>, lower = 'lower --width or --depth'): void {
  const count = wrnParameterCount(cfg);
  if (count <= MAX_WRN_PARAMETERS) return;
  const gib = (4 * count) / 2 ** 30;
  throw new Error(`WRN-${cfg.depth}-${cfg.widen} would have ${count.toLocaleString('en')} parameters (${gib.toLocaleString('en', { maximumFractionDigits: 1 })} GiB); ${lower}`);
}

/** Blocks per stage for a WRN of this depth; throws on a depth that is not 6N + 4. */
export function blocksPerStage(depth: number): number {
  if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
    throw new Error(`WRN depth must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...), got ${depth}`);
  }
  return (depth - 4) / 6;
}

interface Bn {
  gamma: Tensor;
  beta: Tensor;
  state: BatchNormState;
}

interface Block {
  inC: number;
  outC: number;
  stride: number;
  bn1?: Bn;
  conv1: Tensor;
  bias1?: Tensor;
  bn2?: Bn;
  conv2: Tensor;
  bias2?: Tensor;
  proj?: Tensor;
  projBias?: Tensor;
  alpha?: Tensor;
  /** fixup: scalar biases before conv1, before the ReLU, before conv2, after conv2 */
  fixupBias?: [Tensor, Tensor, Tensor, Tensor];
}

export class WideResNet {
  readonly config: Required<WrnConfig>;
  readonly params: Param[] = [];
  /** Non-trainable state saved in checkpoints (BN running statistics). */
  readonly buffers: { name: string; tensor: Tensor }[] = [];
  private stem: Tensor;
  private stemBias?: Tensor;
  private blocks: Block[] = [];
  private finalBn?: Bn;
  private fc: Tensor;
  private fcBias: Tensor;
  private fixupFcBias?: Tensor;
  private rng: Rng;

  constructor(cfg: WrnConfig, readonly device: Device) {
    this.config = {
      numClasses: 10,
      inChannels: 3,
      alphaInit: 0,
      dropout: cfg.variant === 'regularized-skipinit' ? 0.6 : 0,
      seed: 0,
      bnMomentum: 0.1,
      bnEps: 1e-5,
      fuseBnRelu: true,
      fuseBn: false,
      ...cfg,
    };
    if (this.config.fuseBn && cfg.variant !== 'bn') throw new Error(`fuseBn fuses batch norm into the convolutions: it needs variant 'bn', got '${cfg.variant}'`);
    if (!VARIANTS.includes(cfg.variant)) throw new Error(`unknown WRN variant '${cfg.variant}' (expected one of ${VARIANTS.join(', ')})`);
    if (!Number.isInteger(cfg.widen) || cfg.widen < 1) throw new Error(`WRN width factor must be a positive integer, got ${cfg.widen}`);
    const n = blocksPerStage(cfg.depth);
    checkWrnSize(this.config); // before the first allocation
    this.rng = new Rng(this.config.seed);
    const v = cfg.variant;
    const useBn = v === 'bn';
    const convBias = v === 'regularized-skipinit';
    const fixup = v === 'fixup';
    const fixupScale = fixup ? Math.pow(3 * n, -1 / (2 * 2 - 2)) : 1; // L^(-1/(2m-2)), m = 2

    this.stem = this.heConv('stem', 16, this.config.inChannels, 3);
    if (convBias) this.stemBias = this.zeros('stem.bias', [16]);
    let inC = 16;
    const widths = [16 * cfg.widen, 32 * cfg.widen, 64 * cfg.widen];
    widths.forEach((outC, stage) => {
      for (let i = 0; i < n; i++) {
        const stride = i === 0 && stage > 0 ? 2 : 1;
        const p = `stage${stage + 1}.block${i + 1}`;
        const b: Block = { inC, outC, stride, conv1: this.heConv(`${p}.conv1`, outC, inC, 3, fixupScale), conv2: this.heConv(`${p}.conv2`, outC, outC, 3, fixupScale) };
        if (fixup) b.conv2.assign(new Float32Array(b.conv2.size)); // zero-init the branch's last layer
        if (useBn) {
          b.bn1 = this.bn(`${p}.bn1`, inC);
          b.bn2 = this.bn(`${p}.bn2`, outC);
        }
        if (convBias) {
          b.bias1 = this.zeros(`${p}.conv1.bias`, [outC]);
          b.bias2 = this.zeros(`${p}.conv2.bias`, [outC]);
        }
        if (inC !== outC || stride !== 1) {
          b.proj = this.heConv(`${p}.proj`, outC, inC, 1);
          if (convBias) b.projBias = this.zeros(`${p}.proj.bias`, [outC]);
        }
        if (v === 'skipinit' || v === 'regularized-skipinit') b.alpha = this.scalar(`${p}.alpha`, this.config.alphaInit);
        if (fixup) {
          b.alpha = this.scalar(`${p}.scale`, 1);
          b.fixupBias = [0, 1, 2, 3].map((k) => this.scalar(`${p}.fixup_bias${k + 1}`, 0)) as Block['fixupBias'];
        }
        this.blocks.push(b);
        inC = outC;
      }
    });
    if (useBn) this.finalBn = this.bn('final.bn', inC);
    const bound = 1 / Math.sqrt(inC);
    this.fc = this.param('fc.weight', [cfg.numClasses ?? 10, inC], fixup ? () => 0 : () => this.rng.uniform(-bound, bound));
    this.fcBias = this.zeros('fc.bias', [cfg.numClasses ?? 10]);
    if (fixup) this.fixupFcBias = this.scalar('fc.fixup_bias', 0);
  }

  // ---- parameters ------------------------------------------------------------------------------

  private param(name: string, shape: number[], init: () => number): Tensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = init();
    const t = Tensor.from(data, shape, this.device).param(name);
    this.params.push({ name, tensor: t });
    return t;
  }

  /** He-normal: std = sqrt(2 / fan_in), fan_in = Cin * k * k. */
  private heConv(name: string, cout: number, cin: number, k: number, scale = 1): Tensor {
    const std = scale * Math.sqrt(2 / (cin * k * k));
    return this.param(name, [cout, cin, k, k], () => std * normal(this.rng));
  }

  private zeros(name: string, shape: number[]): Tensor {
    return this.param(name, shape, () => 0);
  }

  private scalar(name: string, value: number): Tensor {
    return this.param(name, [1], () => value);
  }

  private bn(name: string, c: number): Bn {
    const gamma = this.param(`${name}.gamma`, [c], () => 1);
    const beta = this.param(`${name}.beta`, [c], () => 0);
    const runningMean = Tensor.zeros([c], this.device).keep();
    const runningVar = Tensor.full([c], 1, this.device).keep();
    this.buffers.push({ name: `${name}.running_mean`, tensor: runningMean }, { name: `${name}.running_var`, tensor: runningVar });
    return { gamma, beta, state: { runningMean, runningVar, momentum: this.config.bnMomentum, eps: this.config.bnEps } };
  }

  get parameterCount(): number {
    return this.params.reduce((s, p) => s + p.tensor.size, 0);
  }

  // ---- forward ---------------------------------------------------------------------------------

  /**
   * Logits [N, classes] for images x [N, inChannels, H, W] (any H, W: the pooling is global). `training` picks BN's batch statistics (and
   * updates the running ones) and turns dropout on; `dropoutSeed` makes its mask reproducible.
   * If `probe` is given, it is called after every block with (index, output, branch output).
   */
  forward(x: Tensor, training: boolean, dropoutSeed = 0, probe?: (block: number, out: Tensor, branch: Tensor) => void): Tensor {
    const c = this.config.inChannels;
    if (x.shape.length !== 4 || x.shape[1] !== c) throw new Error(`WideResNet.forward: input ${JSON.stringify(x.shape)} must be [N, ${c}, H, W]`);
    if (this.config.fuseBn) return this.forwardFused(x, training, probe);
    let h = conv2d(x, this.stem, this.stemBias, { stride: 1, pad: 1 });
    this.blocks.forEach((b, i) => {
      const [out, branch] = this.block(b, h, training);
      probe?.(i, out, branch);
      h = out;
    });
    const f = this.finalBn ? this.bnRelu(h, this.finalBn, training) : relu(h);
    let pooled = globalAvgPool(f);
    if (this.fixupFcBias) pooled = addScalar(pooled, this.fixupFcBias);
    if (this.config.dropout > 0) pooled = dropout(pooled, this.config.dropout, dropoutSeed, training);
    return linear(pooled, this.fc, this.fcBias);
  }

  private block(b: Block, x: Tensor, training: boolean): [Tensor, Tensor] {
    const fb = b.fixupBias;
    // Pre-activation: the same (BN-)ReLU output feeds the branch and the projection.
    const h = b.bn1 ? this.bnRelu(x, b.bn1, training) : relu(x);
    const convIn = fb ? addScalar(h, fb[0]) : h;
    let r = conv2d(convIn, b.conv1, b.bias1, { stride: b.stride, pad: 1 });
    if (b.bn2) r = this.bnRelu(r, b.bn2, training);
    else r = relu(fb ? addScalar(r, fb[1]) : r);
    if (fb) r = addScalar(r, fb[2]);
    let branch = conv2d(r, b.conv2, b.bias2, { stride: 1, pad: 1 });
    if (fb) branch = addScalar(branch, fb[3]);
    const skip = b.proj ? conv2d(convIn, b.proj, b.projBias, { stride: b.stride, pad: 0 }) : x;
    const out = b.alpha ? skipAdd(skip, branch, b.alpha) : add(skip, branch);
    return [out, branch];
  }

  /**
   * The bn variant with BN fused into the convolutions: the same function as forward's, and the
   * same parameters. In training, the statistics of every BN come from the kernel that wrote its
   * input (the stem conv, conv1, the residual add); in eval, from the running statistics.
   */
  private forwardFused(x: Tensor, training: boolean, probe?: (block: number, out: Tensor, branch: Tensor) => void): Tensor {
    const bns = [...this.blocks.map((b) => b.bn1!), this.finalBn!];
    const act = (bn: Bn, stats: BnStats | null): BnActivation => ({ gamma: bn.gamma, beta: bn.beta, ...(stats ?? runningStats(bn.state)), training });
    const stem = bnReluConv2d(x, null, this.stem, { stride: 1, pad: 1 }, training ? bns[0].state : undefined);
    let h = stem.y;
    let stats = stem.stats;
    this.blocks.forEach((b, i) => {
      const bn1 = act(b.bn1!, stats);
      const conv1 = bnReluConv2d(h, bn1, b.conv1, { stride: b.stride, pad: 1 }, training ? b.bn2!.state : undefined);
      const branch = bnReluConv2d(conv1.y, act(b.bn2!, conv1.stats), b.conv2, { stride: 1, pad: 1 }).y;
      const skip = b.proj ? bnReluConv2d(h, bn1, b.proj, { stride: b.stride, pad: 0 }).y : h;
      if (training) ({ out: h, stats } = addBnStats(skip, branch, bns[i + 1].state));
      else h = add(skip, branch);
      probe?.(i, h, branch);
    });
    const final = act(this.finalBn!, stats);
    const f = batchNorm(h, final.gamma, final.beta, this.finalBn!.state, { training, relu: true, stats: training ? { mean: final.mean, rstd: final.rstd } : undefined });
    return linear(globalAvgPool(f), this.fc, this.fcBias);
  }

  /** ReLU(BN(x)): one fused kernel pass, or BN then ReLU when fuseBnRelu is off. */
  private bnRelu(x: Tensor, bn: Bn, training: boolean): Tensor {
    if (this.config.fuseBnRelu) return batchNorm(x, bn.gamma, bn.beta, bn.state, { training, relu: true });
    return relu(batchNorm(x, bn.gamma, bn.beta, bn.state, { training }));
  }

  /** Tensors of all parameters and buffers, for checkpoints. */
  stateTensors(): { name: string; tensor: Tensor }[] {
    return [...this.params.map((p) => ({ name: p.name, tensor: p.tensor })), ...this.buffers];
  }

  release(): void {
    for (const s of this.stateTensors()) {
      s.tensor.grad?.release();
      s.tensor.release();
    }
  }
}
