// The analysis' predictions (De & Smith, NeurIPS 2020, Section 3 and Figure 2) and how far a
// measurement is from them.
//
// x_l = x_{l-1} + f_l(x_{l-1}), Var(x_0) = v0; "Var" is the second moment, the variance over
// inputs and the random init. A ReLU then a He-initialized layer (or a linear layer with
// std 1/sqrt(fan_in)) keeps the second moment: E[f^2] = E[x^2]; branch and skip are uncorrelated.
//   unnormalized   Var(x_l) = 2 Var(x_{l-1})               = v0 2^l
//   normalized     Var(x_l) = Var(x_{l-1}) + 1              = v0 + l   (BN makes E[f^2] = 1)
//   conv, pad 1    Var(x_l) = v0 + Σ_{k<=l} g_k, from the recursion of src/signal/convbn.ts over
//                  each channel's covariance across the batch and pixels. g_1 = c, the padding
//                  fraction (3H-2)(3W-2) / (9HW) of a 3x3 kernel's taps inside the image (0.8403 at
//                  8x8); after that the stream grows faster in the interior than at the border and
//                  BN's statistics are pooled over all pixels, so g_k rises (to ~0.888 by block
//                  1000 at batch 4, 8x8): v0 + c l is right at block 1 only.
//   SkipInit       Var(x_l) = (1 + alpha^2) Var(x_{l-1})    = v0 (1 + alpha^2)^l  (v0 at alpha = 0)
// The branch's own second moment (before SkipInit's alpha) is Var(x_{l-1}), 1, g_l, Var(x_{l-1}).

import type { ConvBnExpectation } from './convbn.js';

/** Largest finite f32. */
export const F32_MAX = 3.4028234663852886e38;

export type PredictionKind = 'double' | 'plus-one' | 'plus-c' | 'conv-bn' | 'skipinit';

export interface Prediction {
  kind: PredictionKind;
  /** A one-line formula for printing and plots. */
  label: string;
  /** The Var(x_0) the prediction is anchored at (the mean over draws when draws are averaged). */
  v0: number;
  /** Predicted Var(x_l) (second moment), l = 0..depth. */
  total(l: number): number;
  /** Predicted second moment of block l's branch output f_l (before alpha), l >= 1. */
  branch(l: number): number;
  /** A line on how the prediction was computed, where that is worth saying (conv-bn's recursion). */
  note?: () => string;
  /**
   * Where the prediction splits the second moment: the squared channel mean and the variance
   * (with 1/M, as src/signal/stats.ts measures them) of x_l, and of the branch. Absent where only
   * their sum is predicted.
   */
  split?: {
    sqMean(l: number): number;
    variance(l: number): number;
    branchSqMean(l: number): number;
    branchVariance(l: number): number;
  };
}

/** Fraction of a 3x3 zero-padded kernel's taps inside an H x W image, averaged over pixels. */
export function paddingFraction(h: number, w: number): number {
  return ((3 * h - 2) * (3 * w - 2)) / (9 * h * w);
}

export function predictDoubling(v0: number): Prediction {
  return { kind: 'double', label: `${fmt(v0)} * 2^l`, v0, total: (l) => v0 * 2 ** l, branch: (l) => v0 * 2 ** (l - 1) };
}

export function predictPlusOne(v0: number): Prediction {
  return { kind: 'plus-one', label: `${fmt(v0)} + l`, v0, total: (l) => v0 + l, branch: () => 1 };
}

/** v0 + c l: conv-bn's second moment if every block added the padding fraction c (right at block 1 only). */
export function predictPlusC(v0: number, c: number): Prediction {
  return { kind: 'plus-c', label: `${fmt(v0)} + ${c.toFixed(4)} l`, v0, total: (l) => v0 + c * l, branch: () => c };
}

export function predictSkipInit(v0: number, alpha: number): Prediction {
  const g = 1 + alpha * alpha;
  return {
    kind: 'skipinit',
    label: alpha === 0 ? `${fmt(v0)} (alpha = 0)` : `${fmt(v0)} * (1 + ${fmt(alpha)}^2)^l`,
    v0,
    total: (l) => v0 * g ** l,
    branch: (l) => v0 * g ** (l - 1),
  };
}

/**
 * conv-bn's expectation (src/signal/convbn.ts), computed on first use: tens of seconds for 1000
 * blocks, so a per-draw prediction that is replaced by the averaged one never pays for it.
 */
export function predictConvBn(
  v0: number,
  compute: () => ConvBnExpectation,
  describe: (e: ConvBnExpectation) => string = () => 'conv-bn recursion',
  note: (e: ConvBnExpectation) => string = (e) => `computed in ${e.seconds.toFixed(1)} s`,
): Prediction {
  let e: ConvBnExpectation | null = null;
  const get = () => (e ??= compute());
  const at = (a: (e: ConvBnExpectation) => Float64Array) => (l: number) => {
    const arr = a(get());
    return Number.isInteger(l) && l >= 0 && l < arr.length ? arr[l] : NaN;
  };
  return {
    kind: 'conv-bn',
    get label() {
      return `${fmt(v0)} + g_1 + ... + g_l (${describe(get())})`;
    },
    v0,
    note: () => note(get()),
    total: at((x) => x.total),
    branch: at((x) => x.branch),
    split: { sqMean: at((x) => x.sqMean), variance: at((x) => x.variance), branchSqMean: at((x) => x.branchSqMean), branchVariance: at((x) => x.branchVariance) },
  };
}

function fmt(v: number): string {
  return Number(v.toPrecision(4)).toString();
}

/** The first block whose predicted variance exceeds f32's range, or null within `depth`. */
export function predictedOverflowBlock(p: Prediction, depth: number): number | null {
  if (p.kind === 'double') {
    // v0 * 2^l > F32_MAX  <=>  l > log2(F32_MAX / v0); search near it to avoid rounding at the edge.
    const guess = Math.max(0, Math.floor(Math.log2(F32_MAX / p.total(0))) - 2);
    for (let l = guess; l <= depth; l++) if (p.total(l) > F32_MAX) return l;
    return null;
  }
  for (let l = 0; l <= depth; l++) if (p.total(l) > F32_MAX) return l;
  return null;
}

/** max |measured / predicted - 1| over the pairs where both are finite (null if none). */
export function maxRelDeviation(measured: readonly number[], predicted: readonly number[]): { max: number; at: number } | null {
  let best: { max: number; at: number } | null = null;
  for (let i = 0; i < measured.length; i++) {
    const m = measured[i];
    const p = predicted[i];
    if (!Number.isFinite(m) || !Number.isFinite(p) || p > F32_MAX || p === 0) continue;
    const d = Math.abs(m / p - 1);
    if (!best || d > best.max) best = { max: d, at: i };
  }
  return best;
}
