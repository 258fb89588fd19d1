// The paper's claims that a sweep can show, each as one line with its margin over the seeds'
// spread: Table 1 (which arms train at the deepest depth), Figure 3 (learning rate against batch
// size) and Figure 4 (small batch sizes). A claim holds when it holds in the aggregate over seeds;
// each line also says in how many seeds it holds on its own, so a reader sees how close it was.
import type { Cell, RunRecord } from './sweep.js';
import { finalTrainLoss, parseArm } from './sweep.js';

/** A net trains when its final training loss is at most 0.6 ln 10 and its test accuracy at least 30%. */
export const TRAIN_LOSS_BOUND = 0.6 * Math.log(10);
export const TRAIN_MIN_ACCURACY = 0.3;
/** Regularized SkipInit is "close to" SkipInit when their test accuracies are within this (fraction). */
export const CLOSE_ACCURACY = 0.05;

export interface Claim {
  /** What the paper says, in this sweep's terms. */
  statement: string;
  holds: boolean;
  /** The numbers behind it: values with their spread, the bound, the margin in standard deviations. */
  evidence: string;
  /** Seeds in which the claim holds on its own, of how many (null where it is not per seed). */
  seedsHolding: number | null;
  seeds: number | null;
}

export const claimLine = (c: Claim): string =>
  `- ${c.statement}: ${c.holds ? 'SHOWN' : 'NOT SHOWN'} (${c.evidence}${c.seeds !== null ? `; holds on its own in ${c.seedsHolding} of ${c.seeds} seeds` : ''})`;

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
/** Sample standard deviation (n - 1); 0 for a single value. */
const sd = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** "margin 4.3 std", or the plain difference where the seeds agree exactly (one seed, or no spread). */
function margin(distance: number, spread: number, show: (d: number) => string = (d) => d.toFixed(3)): string {
  if (spread > 0) return `margin ${(distance / spread).toFixed(1)} std`;
  return `margin ${show(distance)}, no spread over seeds to compare it with`;
}

const trained = (r: RunRecord) => !r.diverged && finalTrainLoss(r) <= TRAIN_LOSS_BOUND && r.testAccuracy >= TRAIN_MIN_ACCURACY;

function runsAt(records: RunRecord[], c: { variant: string; depth: number; batchSize: number }, lr?: number): RunRecord[] {
  return records.filter((r) => r.variant === c.variant && r.depth === c.depth && r.batchSize === c.batchSize && (lr === undefined || r.lr === lr));
}

/** What Table 1 says of an arm at depth: it trains (BN, SkipInit with alpha 0, its regularized form, Fixup), fails (unnormalized, alpha >= 1), or nothing. */
export function table1Expectation(arm: string): 'trains' | 'fails' | null {
  const { variant, alphaInit } = parseArm(arm);
  if (variant === 'unnormalized' || (variant === 'skipinit' && (alphaInit ?? 0) >= 1)) return 'fails';
  if (variant === 'bn' || variant === 'fixup' || ((variant === 'skipinit' || variant === 'regularized-skipinit') && (alphaInit ?? 0) === 0)) return 'trains';
  return null;
}

/** A trainable arm at its optimal learning rate: the mean final loss over seeds is under the bound. */
function trainsClaim(records: RunRecord[], c: Cell): Claim {
  const seeds = new Set(runsAt(records, c).map((r) => r.seed)).size;
  const statement = `${c.variant} trains at depth ${c.depth}, batch ${c.batchSize} (final training loss <= 0.6 ln 10 = ${TRAIN_LOSS_BOUND.toFixed(3)}, test accuracy >= ${pct(TRAIN_MIN_ACCURACY)})`;
  if (c.bestLr === null) return { statement, holds: false, evidence: `every run diverged (${c.diverged}/${c.runs})`, seedsHolding: 0, seeds };
  const at = runsAt(records, c, c.bestLr);
  // A seed that diverged at the optimal rate did not train: it counts against the claim at chance loss.
  const losses = at.map((r) => (r.diverged ? Math.log(10) : finalTrainLoss(r)));
  const accs = at.map((r) => (r.diverged ? 0 : r.testAccuracy));
  const m = mean(losses);
  const holds = m <= TRAIN_LOSS_BOUND && mean(accs) >= TRAIN_MIN_ACCURACY;
  const evidence = `lr ${c.bestLr}: loss ${m.toFixed(3)} ± ${sd(losses).toFixed(3)}, accuracy ${pct(mean(accs))} ± ${pct(sd(accs))} over ${at.length} seeds, bound ${TRAIN_LOSS_BOUND.toFixed(3)}, ${margin(TRAIN_LOSS_BOUND - m, sd(losses))}`;
  return { statement, holds, evidence, seedsHolding: at.filter(trained).length, seeds: at.length };
}

/** A failing arm: no learning rate of the grid trains it; the margin is taken at its best rate by loss. */
function failsClaim(records: RunRecord[], c: Cell): Claim {
  const runs = runsAt(records, c);
  const seedList = [...new Set(runs.map((r) => r.seed))];
  const statement = `${c.variant} does not train at depth ${c.depth}, batch ${c.batchSize} (at no learning rate of the grid)`;
  const perLr = c.perLr.map((p) => {
    const at = runsAt(records, c, p.lr);
    const ok = at.filter((r) => !r.diverged).map(finalTrainLoss);
    return { lr: p.lr, ok, diverged: at.length - ok.length, trains: ok.length > 0 && mean(ok) <= TRAIN_LOSS_BOUND && mean(at.map((r) => (r.diverged ? 0 : r.testAccuracy))) >= TRAIN_MIN_ACCURACY };
  });
  const finite = perLr.filter((p) => p.ok.length);
  const holds = perLr.every((p) => !p.trains);
  const seedsHolding = seedList.filter((s) => !runs.some((r) => r.seed === s && trained(r))).length;
  if (!finite.length) return { statement, holds, evidence: `every run diverged (${c.diverged}/${c.runs})`, seedsHolding, seeds: seedList.length };
  const best = finite.reduce((b, p) => (mean(p.ok) < mean(b.ok) ? p : b));
  const m = mean(best.ok);
  const evidence =
    `lowest loss at lr ${best.lr}: ${m.toFixed(3)} ± ${sd(best.ok).toFixed(3)} over ${best.ok.length} seeds that did not diverge, bound ${TRAIN_LOSS_BOUND.toFixed(3)}, ${margin(m - TRAIN_LOSS_BOUND, sd(best.ok))}` +
    `; ${c.diverged}/${c.runs} runs diverged`;
  return { statement, holds, evidence, seedsHolding, seeds: seedList.length };
}

/** Regularized SkipInit trains to an accuracy close to SkipInit's (each at its optimal rate). */
function closeClaim(records: RunRecord[], reg: Cell, skip: Cell): Claim {
  const statement = `${reg.variant} is close to ${skip.variant} at depth ${reg.depth}, batch ${reg.batchSize} (test accuracies within ${pct(CLOSE_ACCURACY)})`;
  if (reg.bestLr === null || skip.bestLr === null) return { statement, holds: false, evidence: 'one of them diverged at every rate', seedsHolding: null, seeds: null };
  const a = runsAt(records, reg, reg.bestLr).map((r) => (r.diverged ? 0 : r.testAccuracy));
  const b = runsAt(records, skip, skip.bestLr).map((r) => (r.diverged ? 0 : r.testAccuracy));
  const diff = mean(a) - mean(b);
  const spread = Math.sqrt(sd(a) ** 2 + sd(b) ** 2);
  const holds = Math.abs(diff) <= CLOSE_ACCURACY;
  const bySeed = a.map((v, i) => (i < b.length ? Math.abs(v - b[i]) <= CLOSE_ACCURACY : false));
  return {
    statement,
    holds,
    evidence: `${pct(mean(a))} ± ${pct(sd(a))} against ${pct(mean(b))} ± ${pct(sd(b))}, difference ${pct(diff)}, ${margin(CLOSE_ACCURACY - Math.abs(diff), spread, pct)}`,
    seedsHolding: bySeed.filter(Boolean).length,
    seeds: Math.min(a.length, b.length),
  };
}

/** Table 1's claims at the deepest depth of the sweep, every batch size. */
export function table1Claims(records: RunRecord[], cells: Cell[]): Claim[] {
  if (!cells.length) return [];
  const deep = Math.max(...cells.map((c) => c.depth));
  const out: Claim[] = [];
  const atDepth = cells.filter((c) => c.depth === deep).sort((a, b) => a.batchSize - b.batchSize || a.variant.localeCompare(b.variant));
  for (const c of atDepth) {
    const e = table1Expectation(c.variant);
    if (e === 'trains') out.push(trainsClaim(records, c));
    else if (e === 'fails') out.push(failsClaim(records, c));
  }
  for (const reg of atDepth.filter((c) => c.variant === 'regularized-skipinit')) {
    const skip = atDepth.find((c) => c.variant === 'skipinit' && c.batchSize === reg.batchSize);
    if (skip) out.push(closeClaim(records, reg, skip));
  }
  return out;
}

// ---- Figures 3 and 4: against batch size ---------------------------------------------------------

/** The largest learning rate at which no seed diverged, or null when every rate diverged somewhere. */
export function maxStableLr(records: RunRecord[], c: Cell): number | null {
  const stable = c.perLr.filter((p) => !runsAt(records, c, p.lr).some((r) => r.diverged)).map((p) => p.lr);
  return stable.length ? Math.max(...stable) : null;
}

/** Least-squares slope of log(optimal lr) against log(batch size) over the given cells. */
function logSlope(cs: Cell[]): number | null {
  const pts = cs.filter((c) => c.bestLr !== null).map((c) => [Math.log(c.batchSize), Math.log(c.bestLr!)]);
  if (pts.length < 2) return null;
  const mx = mean(pts.map((p) => p[0]));
  const my = mean(pts.map((p) => p[1]));
  const sxx = pts.reduce((s, p) => s + (p[0] - mx) ** 2, 0);
  return pts.reduce((s, p) => s + (p[0] - mx) * (p[1] - my), 0) / sxx;
}

/** Figure 3's claims at one depth: the order of the maximum stable rate at the largest batch, and the optimal rate proportional to batch at small batches. */
export function figure3Claims(records: RunRecord[], cells: Cell[]): Claim[] {
  const out: Claim[] = [];
  for (const depth of [...new Set(cells.map((c) => c.depth))].sort((a, b) => a - b)) {
    const at = cells.filter((c) => c.depth === depth);
    const batches = [...new Set(at.map((c) => c.batchSize))].sort((a, b) => a - b);
    if (batches.length < 2) continue;
    const big = batches[batches.length - 1];
    const order = ['bn', 'skipinit', 'unnormalized'].map((v) => at.find((c) => c.variant === v && c.batchSize === big)).filter((c): c is Cell => !!c);
    if (order.length >= 2) {
      const lrs = order.map((c) => maxStableLr(records, c));
      const ordered = lrs.every((lr, i) => i === 0 || (lr ?? 0) <= (lrs[i - 1] ?? 0));
      // Two arms stable up to the grid's largest rate are tied only because the grid stops there:
      // their order is not measured, so the claim is not shown by them.
      const top = Math.max(...order.flatMap((c) => c.perLr.map((p) => p.lr)));
      const censored = lrs.some((lr, i) => i > 0 && lr === top && lrs[i - 1] === top);
      const holds = ordered && !censored;
      out.push({
        statement: `at the largest batch (${big}), depth ${depth}, the maximum stable learning rate is ordered ${order.map((c) => c.variant).join(' >= ')}`,
        holds,
        evidence:
          order.map((c, i) => `${c.variant} ${lrs[i] ?? 'none'}`).join(', ') +
          ' (the largest rate of the grid at which no seed diverged)' +
          (censored ? `; not resolved: arms stable at the grid's largest rate (${top}) tie only because the grid stops there (extend --lr-max)` : ''),
        seedsHolding: null,
        seeds: null,
      });
    }
    // Small batches: the lower half of the batch sizes (at least two).
    const small = batches.slice(0, Math.max(2, Math.ceil(batches.length / 2)));
    for (const v of [...new Set(at.map((c) => c.variant))]) {
      const cs = at.filter((c) => c.variant === v && small.includes(c.batchSize));
      const slope = logSlope(cs);
      out.push({
        statement: `${v}, depth ${depth}: at small batch sizes (${small.join(', ')}) the optimal learning rate is proportional to the batch size (slope of log lr against log batch in [0.5, 1.5])`,
        holds: slope !== null && slope >= 0.5 && slope <= 1.5,
        evidence: `optimal rates ${cs.map((c) => `${c.bestLr ?? 'none'} at ${c.batchSize}`).join(', ')}; slope ${slope === null ? 'n/a' : slope.toFixed(2)}`,
        seedsHolding: null,
        seeds: null,
      });
    }
  }
  return out;
}

/** Figure 4's claims at one depth: Regularized SkipInit at least as accurate as BN at the smallest batch; BN improves with batch size there, SkipInit hardly depends on it. */
export function figure4Claims(records: RunRecord[], cells: Cell[]): Claim[] {
  const out: Claim[] = [];
  for (const depth of [...new Set(cells.map((c) => c.depth))].sort((a, b) => a - b)) {
    const at = cells.filter((c) => c.depth === depth);
    const batches = [...new Set(at.map((c) => c.batchSize))].sort((a, b) => a - b);
    const tiny = batches[0];
    const accs = (c: Cell | undefined) => (c && c.bestLr !== null ? runsAt(records, c, c.bestLr).map((r) => (r.diverged ? 0 : r.testAccuracy)) : [0]);
    const bn = (b: number) => at.find((c) => c.variant === 'bn' && c.batchSize === b);
    const reg = at.find((c) => c.variant === 'regularized-skipinit' && c.batchSize === tiny);
    if (bn(tiny) && reg) {
      const a = accs(reg);
      const b = accs(bn(tiny));
      const diff = mean(a) - mean(b);
      out.push({
        statement: `at the smallest batch (${tiny}), depth ${depth}, regularized-skipinit is at least as accurate as bn`,
        holds: diff >= 0,
        evidence: `${pct(mean(a))} ± ${pct(sd(a))} against ${pct(mean(b))} ± ${pct(sd(b))}, difference ${pct(diff)}, ${margin(diff, Math.sqrt(sd(a) ** 2 + sd(b) ** 2), pct)}`,
        seedsHolding: a.filter((v, i) => i < b.length && v >= b[i]).length,
        seeds: Math.min(a.length, b.length),
      });
    }
    if (batches.length >= 2 && bn(tiny) && bn(batches[batches.length - 1])) {
      const lo = accs(bn(tiny));
      const hi = accs(bn(batches[batches.length - 1]));
      out.push({
        statement: `bn, depth ${depth}: test accuracy rises from batch ${tiny} to batch ${batches[batches.length - 1]}`,
        holds: mean(hi) > mean(lo),
        evidence: `${pct(mean(lo))} ± ${pct(sd(lo))} at ${tiny}, ${pct(mean(hi))} ± ${pct(sd(hi))} at ${batches[batches.length - 1]}, ${margin(mean(hi) - mean(lo), Math.sqrt(sd(lo) ** 2 + sd(hi) ** 2), pct)}`,
        seedsHolding: null,
        seeds: null,
      });
    }
    for (const v of ['skipinit', 'regularized-skipinit']) {
      const cs = batches.map((b) => at.find((c) => c.variant === v && c.batchSize === b)).filter((c): c is Cell => !!c);
      if (cs.length < 2) continue;
      const ms = cs.map((c) => mean(accs(c)));
      const range = Math.max(...ms) - Math.min(...ms);
      out.push({
        statement: `${v}, depth ${depth}: test accuracy nearly independent of batch size at small batches (range within ${pct(CLOSE_ACCURACY)})`,
        holds: range <= CLOSE_ACCURACY,
        evidence: cs.map((c, i) => `${pct(ms[i])} at ${c.batchSize}`).join(', ') + `; range ${pct(range)}`,
        seedsHolding: null,
        seeds: null,
      });
    }
  }
  return out;
}
