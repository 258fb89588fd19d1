// `wrn tune`: for the adapter at hand, every convolution a WRN training step dispatches (each kernel
// at each geometry: a bucket), every implementation that supports it is first checked against the
// CPU reference with `wrn check`'s tolerance (a wrong one is reported and never chosen), then
// timed, the candidates interleaved round by round (GPU timestamps where the adapter has them),
// and the fastest becomes the bucket's choice in a tuning-cache entry (src/gpu/tuning.ts).
// Browser-safe: the caller stores the entry.
import { compareArrays, input, rand } from '../check.js';
import { Tensor } from '../tensor.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { chooseConv, CONV_IMPLEMENTATIONS, CONV_IMPLEMENTATIONS_CHECKSUM, convBucket, convolutionsOf, type ConvBuffers, type ConvImplementation, type ConvKernel } from '../gpu/programs/conv2d.js';
import type { ConvGeometry } from '../gpu/programs/conv2d.js';
import type { ConvImplementationName } from '../gpu/profile.js';
import { tuningKey, type TuneRow, type TuningEntry } from '../gpu/tuning.js';
import { conv2dBackwardFilterKernel, conv2dBackwardInputKernel, conv2dForwardKernel, CONV_TOL } from '../ops/conv2d.js';
import { WideResNet, blocksPerStage } from '../model/wrn.js';
import { trainStep, readStatus } from '../train/step.js';
import { fmtDuration, timeIt } from './harness.js';
import { spreadOf, type Spread } from './step_report.js';
import { fmt } from './format.js';

export interface TuneOptions {
  depth: number;
  width: number;
  batch: number;
  /** interleaved rounds of timing per bucket; each candidate's time is the median over rounds */
  rounds: number;
  command?: string | null;
  log?: (line: string) => void;
  /** Extra candidates (tests: a deliberately wrong one must never be chosen). */
  extraCandidates?: { [K in ConvKernel]?: ConvImplementation<K>[] };
}

const KERNEL = { forward: conv2dForwardKernel, backward_input: conv2dBackwardInputKernel, backward_filter: conv2dBackwardFilterKernel };

/** The convolutions one training step of the WRN dispatches (every variant has the same ones). */
async function stepConvolutions(o: TuneOptions): Promise<{ kernel: ConvKernel; g: ConvGeometry }[]> {
  const model = new WideResNet({ depth: o.depth, widen: o.width, variant: 'bn', seed: 1 }, 'webgpu');
  const velocities = model.params.map((p) => Tensor.zeros(p.tensor.shape, 'webgpu').keep());
  try {
    const batch = { x: rand([o.batch, 3, 32, 32], 7), shape: [o.batch, 3, 32, 32] as const, labels: Array.from({ length: o.batch }, (_, i) => i % 10) };
    let status: ReturnType<typeof trainStep> | null = null;
    const convs = convolutionsOf(() => void (status = trainStep(model, velocities, batch, { lr: 0, momentum: 0, weightDecay: 0, dropoutSeed: 0 })));
    await readStatus(status!);
    return convs;
  } finally {
    model.release();
    for (const v of velocities) v.release();
  }
}

/**
 * Run `impl`'s program at `g` with batch 1 (the same program; the CPU side stays quick) and compare
 * it with the op's CPU reference, value by value, with wrn check's tolerance (the implementation's
 * own where it has one: `tolerance`).
 */
async function validate(kernel: ConvKernel, impl: ConvImplementation, full: ConvGeometry): Promise<{ ok: boolean; message: string }> {
  const g = { ...full, batch: 1 };
  const x = input([1, g.cin, g.h, g.w], 1);
  const w = input([g.cout, g.cin, g.kh, g.kw], 2);
  const dy = input([1, g.cout, g.ho, g.wo], 4);
  const ins = kernel === 'forward' ? [x, w] : kernel === 'backward_input' ? [dy, w] : [x, dy];
  const outShape = kernel === 'forward' ? dy.shape : kernel === 'backward_input' ? x.shape : w.shape;
  const expected = new Float64Array(outShape.reduce((a, b) => a * b, 1));
  KERNEL[kernel].cpu(ins.map((i) => Float64Array.from(i.data)), [expected], { stride: g.stride, pad: g.pad }, [...ins.map((i) => i.shape), outShape]);
  const tensors = ins.map((i) => Tensor.from(i.data, i.shape, 'webgpu'));
  const out = Tensor.zeros(outShape, 'webgpu');
  try {
    const [a, b] = tensors.map((t) => t.gpuBuf());
    const bufs = kernel === 'forward' ? { x: a, weight: b, y: out.gpuBuf() } : kernel === 'backward_input' ? { dy: a, weight: b, dx: out.gpuBuf() } : { x: a, dy: b, dw: out.gpuBuf() };
    (impl.run as (g: ConvGeometry, b: unknown) => void)(g, bufs);
    // An implementation whose rounding differs from a direct sum's (Winograd) brings its own bound.
    const r = compareArrays(`conv2d.${kernel} ${impl.name}`, await out.toArray(), expected, impl.tolerance?.(g) ?? CONV_TOL);
    return { ok: r.ok, message: r.message };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  } finally {
    for (const t of [...tensors, out]) t.release();
  }
}

/** Buffers of the full geometry for timing `kernel`. */
function buffersFor(rt: GpuRuntime, kernel: ConvKernel, g: ConvGeometry): { bufs: ConvBuffers[ConvKernel]; release: () => void } {
  const x = rt.upload(rand([g.batch, g.cin, g.h, g.w], 1));
  const w = rt.upload(rand([g.cout, g.cin, g.kh, g.kw], 2));
  const y = rt.upload(rand([g.batch, g.cout, g.ho, g.wo], 3));
  const release = () => [x, w, y].forEach((b) => rt.release(b));
  if (kernel === 'forward') return { bufs: { x, weight: w, y }, release };
  if (kernel === 'backward_input') return { bufs: { dy: y, weight: w, dx: x }, release };
  return { bufs: { x, dy: y, dw: w }, release };
}


/**
 * Of candidates timed over rounds (sorted fastest first), what runs: the fastest where its range
 * lies wholly below the static choice's over at least 2 rounds, else the static choice (when it
 * was timed). A difference within the spread is no reason to change the kernel and the rounding.
 */
export function pickChoice<T extends Spread>(timed: readonly T[], isStatic: (t: T) => boolean): { fastest: T; winner: T; resolved: boolean } {
  const fastest = timed[0];
  const stat = timed.find(isStatic);
  const resolved = !!stat && stat !== fastest && fastest.n >= 2 && fastest.max < stat.min;
  return { fastest, winner: stat && !resolved ? stat : fastest, resolved };
}

export async function runTune(rt: GpuRuntime, o: TuneOptions): Promise<TuningEntry> {
  blocksPerStage(o.depth);
  for (const [k, v] of Object.entries({ width: o.width, batch: o.batch, rounds: o.rounds })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`tune: ${k} must be a positive integer, got ${v}`);
  }
  const log = o.log ?? (() => {});
  // Measured against the static profile: the choices of an earlier cache must not steer this one.
  const base = { ...rt.profile, conv2d: { ...rt.profile.conv2d, chosen: undefined } };
  const prev = rt.setProfile(base);
  try {
    const convs = await stepConvolutions(o);
    log(`WRN-${o.depth}-${o.width} at batch ${o.batch}: ${convs.length} convolutions (kernel x geometry) to tune, ${rt.hasTimestamps ? 'GPU timestamps' : 'the wall clock'}, ${o.rounds} interleaved rounds each`);
    const table: TuneRow[] = [];
    const chosen: Record<string, ConvImplementationName> = {};
    const t0 = performance.now();
    for (const [index, { kernel, g }] of convs.entries()) {
      const bucket = convBucket(kernel, g);
      const candidates = [...(CONV_IMPLEMENTATIONS[kernel] as ConvImplementation[]), ...((o.extraCandidates?.[kernel] ?? []) as ConvImplementation[])].filter((i) => i.supports(g, rt));
      const results = new Map<ConvImplementation, { ok: boolean; message: string; samples: number[] }>();
      for (const c of candidates) results.set(c, { ...(await validate(kernel, c, g)), samples: [] });
      const valid = candidates.filter((c) => results.get(c)!.ok);
      const { bufs, release } = buffersFor(rt, kernel, g);
      try {
        for (let round = 0; round < o.rounds; round++) {
          for (const c of valid) {
            const t = await timeIt(rt, () => (c.run as (g: ConvGeometry, b: unknown) => void)(g, bufs), { warmup: round === 0 ? 1 : 0, reps: 1, inner: 1 });
            results.get(c)!.samples.push(t.medianMs);
          }
        }
      } finally {
        release();
      }
      const timed = valid.map((c) => ({ c, ...spreadOf(results.get(c)!.samples) })).sort((a, b) => a.median - b.median);
      const staticChoice = chooseConv(kernel, g, rt).name;
      if (!timed.length) throw new Error(`tune: no implementation of conv2d.${kernel} passed its check at ${bucket}: ${candidates.map((c) => `${c.name}: ${results.get(c)!.message}`).join('; ')}`);
      const { fastest, winner, resolved } = pickChoice(timed, (t) => t.c.name === staticChoice);
      const stat = timed.find((t) => t.c.name === staticChoice);
      chosen[bucket] = winner.c.name as ConvImplementationName;
      table.push({
        bucket,
        candidates: candidates.map((c) => {
          const t = timed.find((x) => x.c === c);
          return { name: c.name, ok: results.get(c)!.ok, ms: t?.median ?? null, minMs: t?.min ?? null, maxMs: t?.max ?? null, message: results.get(c)!.message };
        }),
        fastest: fastest.c.name,
        winner: winner.c.name,
        resolved,
        margin: timed.length > 1 ? timed[1].median / fastest.median : 1,
        staticChoice,
        staticOverWinner: stat ? stat.median / fastest.median : null,
      });
      const refused = candidates.filter((c) => !results.get(c)!.ok);
      const done = index + 1;
      log(
        `[${done}/${convs.length}] ${bucket}: fastest ${fastest.c.name} ${fastest.median.toPrecision(3)} ms` +
          (timed.length > 1 ? ` (${timed[1].c.name} ${(timed[1].median / fastest.median).toFixed(2)}x)` : '') +
          `; runs ${winner.c.name}${winner === fastest ? '' : ' (the static choice: not beaten beyond the spread)'}` +
          (refused.length ? `; REFUSED ${refused.map((c) => `${c.name} (${results.get(c)!.message.slice(0, 80)})`).join(', ')}` : '') +
          (done < convs.length ? `; ETA ${fmtDuration(((performance.now() - t0) / done) * (convs.length - done))}` : ''),
      );
    }
    return {
      key: tuningKey(rt.ctx.adapter, base.name, CONV_IMPLEMENTATIONS_CHECKSUM),
      date: new Date().toISOString(),
      command: o.command ?? null,
      config: { depth: o.depth, width: o.width, batch: o.batch, rounds: o.rounds, timing: rt.hasTimestamps ? 'timestamp-query' : 'wall-clock', validation: 'batch 1 against the CPU reference, wrn check tolerance' },
      chosen,
      table,
    };
  } finally {
    rt.setProfile(prev);
  }
}

/** What was fastest where, by how much, whether that beat the static choice beyond the spread, and what runs. */
export function tuneRows(e: TuningEntry): string[][] {
  const rows = [['convolution', 'candidates (median [min, max] ms over rounds; REFUSED: failed the CPU check)', 'fastest', 'margin', 'static choice', 'static / fastest', 'runs']];
  for (const r of e.table) {
    const cands = r.candidates.map((c) => (c.ok ? `${c.name} ${fmt(c.ms)} [${fmt(c.minMs)}, ${fmt(c.maxMs)}]` : `${c.name} REFUSED`)).join(', ');
    const verdict = r.fastest === r.staticChoice ? '' : r.resolved ? ' (resolved)' : ' (within the spread)';
    rows.push([r.bucket, cands, r.fastest, `${fmt(r.margin)}x`, r.staticChoice, r.staticOverWinner === null ? '-' : `${fmt(r.staticOverWinner)}x${verdict}`, r.winner]);
  }
  return rows;
}

/** One line: how many convolutions run another implementation than the static profile, and why not more. */
export function tuneSummary(e: TuningEntry): string {
  const faster = e.table.filter((r) => r.fastest !== r.staticChoice).length;
  const changed = e.table.filter((r) => r.winner !== r.staticChoice).length;
  const rounds = e.config.rounds;
  return `${changed} of ${e.table.length} convolutions run another implementation than the static profile: another was fastest at ${faster}, beyond the spread over ${rounds} rounds at ${changed} (the others keep the static choice). Margin: the runner-up's median over the fastest's.`;
}
