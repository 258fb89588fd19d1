// `wrn bench step`: whole WRN training steps (forward, softmax cross-entropy, backward, SGD) of the
// variants side by side, measured so the result can be cited: the variants run interleaved for
// several rounds (the order rotated each round), each round times a few steps by the wall clock
// and profiles a few with per-dispatch GPU timestamps, and the copy and FMA yardsticks are measured
// in every round too. Every dispatch also reports its bytes and FLOPs (src/gpu/cost.ts), so each
// category gets a roofline floor. What the rounds add up to (medians, spreads, BN's cost both ways
// and whether it is resolved) is src/bench/step_report.ts. Browser-safe.
import { rand } from '../check.js';
import { gpu, Tensor } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { CATEGORIES, type Category, type DispatchRecord } from '../gpu/cost.js';
import { describeAdapter } from '../gpu/device.js';
import { WideResNet, blocksPerStage, type Variant } from '../model/wrn.js';
import { withTiledConvs } from '../gpu/programs/conv2d.js';
import { trainStep, readStatus } from '../train/step.js';
import { PROFILE_CAPACITY, copyYardstick, fmaYardstick, fmtDuration, type Yardstick } from './harness.js';
import { resultHeader } from './report.js';
import { STEP_KIND, spreadOf, summarizeStep, type StepBenchResult, type StepRound, type StepRoundVariant } from './step_report.js';

/** A benchmarked configuration: a model variant, BN+ReLU fused or not, BN fused into the convolutions or not. */
export interface StepVariant {
  name: string;
  variant: Variant;
  fuseBnRelu: boolean;
  /** BN fused into the convolutions (WrnConfig.fuseBn): the bn-fused arm. */
  fuseBn?: boolean;
  /**
   * Every convolution on the tiled kernels the bn-fused arm runs as (withTiledConvs), so that
   * bn-tiled against bn-fused differs only by the fusion; the profile's own choice otherwise
   * (a CPU adapter runs narrow layers on direct kernels, which have no fused form).
   */
  tiledConvs?: boolean;
}

export const STEP_VARIANTS: StepVariant[] = [
  { name: 'bn', variant: 'bn', fuseBnRelu: true },
  { name: 'bn-unfused', variant: 'bn', fuseBnRelu: false },
  { name: 'bn-tiled', variant: 'bn', fuseBnRelu: true, tiledConvs: true },
  { name: 'bn-fused', variant: 'bn', fuseBnRelu: true, fuseBn: true },
  { name: 'skipinit', variant: 'skipinit', fuseBnRelu: true },
  { name: 'unnormalized', variant: 'unnormalized', fuseBnRelu: true },
  { name: 'fixup', variant: 'fixup', fuseBnRelu: true },
  { name: 'regularized-skipinit', variant: 'regularized-skipinit', fuseBnRelu: true },
];
/** What `wrn bench step` runs by default (the others on request: --variants). */
export const DEFAULT_STEP_VARIANTS = ['bn', 'bn-tiled', 'bn-fused', 'skipinit', 'unnormalized'];

export interface StepBenchOptions {
  depth: number;
  width: number;
  batch: number;
  /** Wall-clock-timed steps per variant and round, the variants alternating step by step. */
  steps: number;
  /** Steps per variant and round profiled with per-dispatch timestamps (where the adapter has them); default 1. */
  profiledSteps?: number;
  /** Untimed steps per variant before the first round (shader compiles, pool growth). */
  warmup: number;
  /** Interleaved rounds: every variant runs once per round. */
  rounds: number;
  quick: boolean;
  /** Names from STEP_VARIANTS (default all). */
  variants?: string[];
  /** Do not use timestamp queries even where available (the wall-clock-only report). */
  wallClock?: boolean;
  runtime?: string;
  commit?: string | null;
  /** The command line that made the result, recorded with it. */
  command?: string | null;
  notes?: string[];
  /** The host's 1, 5 and 15 minute load averages (Node: os.loadavg), recorded before and after. */
  loadAverage?: () => number[];
  log?: (line: string) => void;
  /** Called before every step (warm-up and timed): where the run is (the page's progress bar). */
  progress?: (p: StepProgress) => void;
  /**
   * Polled before every step: true stops the run there, and it returns the rounds that finished as
   * a partial result (partial: true, stoppedAt). Not polled inside a step: a stop waits for it.
   */
  cancelled?: () => boolean;
}

/** Where a step benchmark is, reported before each step. */
export interface StepProgress {
  /** 'warm-up': each variant's untimed steps (and its costed step); 'rounds': the timed rounds */
  phase: 'warm-up' | 'rounds';
  /** 1-based; 0 in the warm-up */
  round: number;
  rounds: number;
  /** 1-based position in this round's order (the warm-up: in the run's order) */
  variant: number;
  variants: number;
  name: string;
  /** 1-based: this variant's step in this round (wall-timed, then profiled) or in its warm-up */
  step: number;
  steps: number;
  /** steps run so far in the whole run, and how many it will run */
  done: number;
  total: number;
  /** e.g. 'round 2 of 3, variant 1 of 5 (bn), step 2 of 3' */
  text: string;
}

/** Reports a step about to run, then polls for a stop: true means stop before it. */
type BeforeStep = (variant: number, name: string, step: number) => boolean;

export function stepDefaults(quick: boolean): Pick<StepBenchOptions, 'depth' | 'width' | 'batch' | 'steps' | 'warmup' | 'rounds'> {
  return quick ? { depth: 10, width: 1, batch: 4, steps: 2, warmup: 1, rounds: 3 } : { depth: 16, width: 4, batch: 64, steps: 6, warmup: 2, rounds: 5 };
}

const zeros = (): Record<Category, number> => Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;

/** One variant's model, ready to step: built once, stepped in every round, released at the end. */
interface Runner {
  v: StepVariant;
  model: WideResNet;
  step: (i: number) => Promise<void>;
  release: () => void;
  steps: number;
  /** GPU ms per step by kernel name, summed over the rounds */
  kernels: Map<string, { category: Category; ms: number; count: number }>;
}

function makeRunner(v: StepVariant, o: StepBenchOptions): Runner {
  const model = new WideResNet({ depth: o.depth, widen: o.width, variant: v.variant, fuseBnRelu: v.fuseBnRelu, fuseBn: v.fuseBn, seed: 1 }, 'webgpu');
  const rt = gpu();
  const params = model.params.map((p) => p.tensor);
  const velocities = params.map((p) => Tensor.zeros(p.shape, 'webgpu').keep());
  const batch = { x: rand([o.batch, 3, 32, 32], 7), shape: [o.batch, 3, 32, 32] as const, labels: Array.from({ length: o.batch }, (_, i) => (i * 7) % 10) };
  const runner: Runner = {
    v,
    model,
    steps: 0,
    kernels: new Map(),
    // The trainer's own step (src/train/step.ts); a small learning rate keeps the weights (and so
    // the work) stable over the timed steps.
    step: async (i: number) => {
      // The profile matters while the step is recorded (each op picks its kernels then).
      const prev = v.tiledConvs ? rt.setProfile(withTiledConvs(rt.profile)) : null;
      let status: Tensor;
      try {
        status = trainStep(model, velocities, batch, { lr: 1e-3, momentum: 0.9, weightDecay: 5e-4, dropoutSeed: i });
      } finally {
        if (prev) rt.setProfile(prev);
      }
      const { loss, nonFinite } = await readStatus(status); // as the trainer does: one wait per step
      if (!Number.isFinite(loss) || nonFinite) throw new Error(`bench step: ${v.name}: the loss is ${loss}${nonFinite ? ' and the weights are not finite' : ''} at step ${i}`);
      runner.steps++;
    },
    release: () => {
      model.release();
      for (const t of velocities) t.release();
    },
  };
  return runner;
}

const median = (xs: number[]) => spreadOf(xs).median;

/**
 * One round: `steps` wall-timed steps of every variant, alternating step by step (a drift of the
 * host's speed then falls on all variants alike), then `profiled` steps of each with timestamps.
 * Null when `before` stopped it: an unfinished round is dropped whole (its variants' kernel times
 * too), so every reported round still has every variant.
 */
async function runRound(
  rt: GpuRuntime,
  order: Runner[],
  o: StepBenchOptions,
  profiled: number,
  before: BeforeStep,
  onVariant: (r: Runner, res: StepRoundVariant) => void,
): Promise<Record<string, StepRoundVariant> | null> {
  const samples = new Map<Runner, number[]>(order.map((r) => [r, []]));
  for (let i = 0; i < o.steps; i++) {
    for (const [k, r] of order.entries()) {
      if (before(k + 1, r.v.name, i + 1)) return null;
      const t0 = performance.now();
      await r.step(r.steps);
      samples.get(r)!.push(performance.now() - t0);
    }
  }
  // This round's kernel times, added to the runners' only once the round is complete.
  const kernels: [Runner, string, { category: Category; ms: number; count: number }][] = [];
  const out: Record<string, StepRoundVariant> = {};
  for (const [k, r] of order.entries()) {
    const wallSamples = samples.get(r)!;
    const res: StepRoundVariant = { wallMs: median(wallSamples), wallSamples, gpuMs: null, breakdown: null };
    if (profiled > 0) {
      const breakdown = zeros();
      for (let i = 0; i < profiled; i++) {
        if (before(k + 1, r.v.name, o.steps + i + 1)) return null;
        rt.startProfile(PROFILE_CAPACITY);
        let entries;
        try {
          await r.step(r.steps);
        } finally {
          entries = await rt.stopProfile();
        }
        for (const e of entries) {
          const ms = e.ns / 1e6 / profiled; // mean per step
          breakdown[e.category] += ms;
          kernels.push([r, e.label.split(' ')[0], { category: e.category, ms, count: 1 / profiled }]);
        }
      }
      Object.assign(res, { gpuMs: CATEGORIES.reduce((s, c) => s + breakdown[c], 0), breakdown });
    }
    out[r.v.name] = res;
    onVariant(r, res);
  }
  for (const [r, name, e] of kernels) {
    const acc = r.kernels.get(name) ?? { category: e.category, ms: 0, count: 0 };
    acc.ms += e.ms;
    acc.count += e.count;
    r.kernels.set(name, acc);
  }
  return out;
}


export async function runStepBench(rt: GpuRuntime, o: StepBenchOptions): Promise<StepBenchResult> {
  if (gpu() !== rt) throw new Error('bench step: rt must be the runtime behind webgpu tensors (open it with initWebGPU)');
  blocksPerStage(o.depth); // throws a clear error for a bad depth
  for (const [k, v] of Object.entries({ width: o.width, batch: o.batch, steps: o.steps, rounds: o.rounds })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`bench step: ${k} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new Error(`bench step: warmup must be an integer >= 0, got ${o.warmup}`);
  const names = o.variants ?? DEFAULT_STEP_VARIANTS;
  const chosen = names.map((n) => {
    const v = STEP_VARIANTS.find((s) => s.name === n);
    if (!v) throw new Error(`bench step: unknown variant '${n}' (known: ${STEP_VARIANTS.map((s) => s.name).join(', ')})`);
    return v;
  });
  const log = o.log ?? (() => {});
  const profile = rt.hasTimestamps && !o.wallClock;
  const profiled = profile ? (o.profiledSteps ?? 1) : 0;
  if (!Number.isInteger(profiled) || profiled < 0) throw new Error(`bench step: profiledSteps must be an integer >= 0, got ${o.profiledSteps}`);
  const loadBefore = o.loadAverage?.() ?? null;
  log(profile ? 'per-dispatch GPU timestamps: breakdown by kernel category' : 'no timestamp-query: wall time per step only, no breakdown');
  log(`${o.rounds} rounds of ${chosen.map((v) => v.name).join(', ')}: ${o.steps} wall-timed steps each, alternating step by step (order rotated each round)${profiled ? `, then ${profiled} profiled` : ''}, after ${o.warmup} warm-up steps`);
  // The copy yardstick at the size of the step's largest activation (stage 1: [batch, 16 x width,
  // 32, 32]), and at least 16 MiB: a smaller copy measures the launch more than the memory.
  const copyValues = Math.max(4 * 2 ** 20, o.batch * 16 * o.width * 32 * 32);
  const fmaGflop = 0.5; // grown by fmaYardstick until a repetition takes 10 ms
  const yardstickOpts = { warmup: 1, reps: 5, wall: !profile };
  const runners: Runner[] = [];
  const yardsticks: Yardstick[] = [];
  // Progress and the stop poll, before every step: the warm-up's (warmup + the costed step per
  // variant), then every round's (steps wall-timed + profiled per variant).
  const n = chosen.length;
  const perRound = o.steps + profiled;
  const total = n * (o.warmup + 1) + o.rounds * n * perRound;
  let stepsDone = 0;
  const stop = { at: null as string | null };
  const beforeStep = (round: number, steps: number): BeforeStep => (variant, name, step) => {
    const text = `${round ? `round ${round} of ${o.rounds}` : 'warm-up'}, variant ${variant} of ${n} (${name}), step ${step} of ${steps}`;
    if (o.cancelled?.()) {
      stop.at = text;
      return true;
    }
    o.progress?.({ phase: round ? 'rounds' : 'warm-up', round, rounds: o.rounds, variant, variants: n, name, step, steps, done: stepsDone, total, text });
    stepsDone++;
    return false;
  };
  try {
    const costs = new Map<Runner, DispatchRecord[]>();
    const warm = beforeStep(0, o.warmup + 1);
    warmup: for (const [k, v] of chosen.entries()) {
      const r = makeRunner(v, o);
      runners.push(r);
      for (let i = 0; i < o.warmup; i++) {
        if (warm(k + 1, v.name, i + 1)) break warmup;
        await r.step(r.steps);
      }
      if (warm(k + 1, v.name, o.warmup + 1)) break;
      // One step's dispatches with their categories and costs (no GPU timing needed).
      rt.startCostLog();
      await r.step(r.steps);
      const records = rt.stopCostLog();
      if (profile && records.length > PROFILE_CAPACITY) throw new Error(`bench step: ${v.name} records ${records.length} dispatches per step; the profiler holds ${PROFILE_CAPACITY}`);
      costs.set(r, records);
      log(`${v.name}: warmed up, ${records.length} dispatches per step`);
    }
    // Made once, measured every round.
    if (stop.at === null) {
      yardsticks.push(copyYardstick(rt, copyValues));
      yardsticks.push(await fmaYardstick(rt, fmaGflop));
    }
    const rounds: StepRound[] = [];
    const t0 = performance.now();
    const units = o.rounds * runners.length;
    for (let round = 0; round < o.rounds && stop.at === null; round++) {
      if (o.cancelled?.()) {
        stop.at = `round ${round + 1} of ${o.rounds}, its yardsticks`;
        break;
      }
      const [copy, fma] = yardsticks;
      const copyGBs = (await copy.measure(yardstickOpts)).value;
      const fmaGflops = (await fma.measure(yardstickOpts)).value;
      const order = runners.map((_, i) => runners[(i + round) % runners.length]);
      let finished = 0;
      const variants = await runRound(rt, order, o, profiled, beforeStep(round + 1, perRound), (r, res) => {
        const done = round * runners.length + ++finished;
        const eta = ((performance.now() - t0) / done) * (units - done);
        log(
          `round ${round + 1}/${o.rounds} ${r.v.name}: ${res.wallMs.toPrecision(4)} ms/step wall` +
            (res.gpuMs !== null ? `, ${res.gpuMs.toPrecision(4)} ms GPU, BN ${((100 * res.breakdown!.bn) / res.gpuMs).toFixed(1)}%` : '') +
            (done < units ? `; ETA ${fmtDuration(eta)}` : ''),
        );
      });
      if (!variants) break;
      rounds.push({ round: round + 1, order: order.map((r) => r.v.name), copyGBs, fmaGflops, variants });
    }
    const loadAfter = o.loadAverage?.() ?? null;
    if (stop.at !== null) log(`stopped before ${stop.at}: ${rounds.length} of ${o.rounds} rounds finished, reported as a partial result`);
    return summarizeStep({
      kind: STEP_KIND,
      ...resultHeader(rt, o, describeAdapter),
      ...(stop.at !== null ? { partial: true as const, stoppedAt: stop.at } : {}),
      method: profile ? 'timestamp-query' : 'wall-clock',
      // A partial result's rounds are those that finished (the request is in stoppedAt: 'round 2 of 5, ...').
      config: { depth: o.depth, width: o.width, batch: o.batch, steps: o.steps, profiledSteps: profiled, warmup: o.warmup, rounds: rounds.length, quick: o.quick },
      conditions: {
        command: o.command ?? null,
        loadAverageBefore: loadBefore,
        loadAverageAfter: loadAfter,
        order: 'the variants alternating step by step, the order rotated by one variant each round',
        yardsticks: `per round: a vec4 copy of ${copyValues} values and an FMA kernel of at least ${fmaGflop} GFLOP and 10 ms, ${yardstickOpts.reps} repetitions each`,
      },
      copyValues,
      // Stopped before the first round finished: no variant has a measurement to summarize.
      runners: (rounds.length ? runners : []).map((r) => ({ name: r.v.name, variant: r.v.variant, fuseBnRelu: r.v.fuseBnRelu, fuseBn: !!r.v.fuseBn, tiledConvs: !!r.v.tiledConvs, parameters: r.model.parameterCount, records: costs.get(r)!, kernels: r.kernels })),
      rounds,
    });
  } finally {
    for (const r of runners) r.release();
    for (const y of yardsticks) y.release();
  }
}
