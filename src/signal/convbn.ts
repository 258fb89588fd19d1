// The expected statistics of conv-bn, x_l = x_{l-1} + conv3x3_l(ReLU(BN(x_{l-1}))) (He weights,
// std sqrt(2/(9C)), zero padding 1, BN with the batch's pooled mean and biased variance over the
// N·H·W values of a channel, and its eps), for the geometry actually run: batch N, image H x W.
//
// The derivation. Give each channel of x_{l-1} the covariance K_{l-1} over its N·H·W (sample,
// pixel) values (channels are exchangeable; at init they are independent in the wide limit). The
// weights of block l are fresh, independent of x_{l-1} and of mean 0, so the branch f_l is
// uncorrelated with the skip and, given h = ReLU(BN(x_{l-1})), has covariance
//     E[f(n,p) f(n',p')] = 2/(9C) Σ_ci Σ_t h_ci(n, p+t) h_ci(n', p'+t)
// (t over the 9 taps; a tap outside the image reads a zero). Averaged over channels this is, at
// any width, K_l = K_{l-1} + G_l with
//     G_l(np, n'p') = (2/9) Σ_t M(n, p+t; n', p'+t),   M = E[r r^T],  r = ReLU(BN(z)),
// and the one approximation is to take z, one channel's N·H·W values, Gaussian N(0, K_{l-1})
// (exact in the infinite-width limit; checked against the finite net in test/signal.test.ts).
//
// Structure that makes it cheap. K is invariant under permuting the samples, so it is a
// within-sample block A (HW x HW, n = n') and a cross-sample block B (n != n'), and
//     z_n = u_n - mean_k u_k + m,   u_n ~ N(0, A - B) iid,   m ~ N(0, (A + (N-1) B) / N)
// has exactly that covariance (m is the batch mean; both covariances are >= v0 I, so two
// Cholesky factorizations of HW x HW matrices always exist). M is estimated by a fixed-seed Monte
// Carlo with antithetic pairs (z and -z: BN(-z) = -BN(z), so ReLU's two halves share one draw),
// averaged over the samples (within / across) and over the image's symmetries (flips, and the
// transpose on a square image), all of which leave K invariant. The same random numbers are used
// at every block (common random numbers), so the estimate is a smooth function of K and its own
// error acts like one small bias, not a random walk.
//
// M does not depend on K's scale (BN; apart from eps, which is kept: BN divides by
// sqrt(var + eps) with var the batch's biased variance), and K's normalized shape changes by
// O(1/l) per block, so M is computed at every block up to `everyBlockUpTo` and then on a
// geometric grid (ratio `gridRatio`); between two grid points the last G is held. The effect of
// that grid on the curve is measured in test/signal.test.ts against a finer one.
//
// What is predicted, the way src/signal/stats.ts measures it (per channel over its M = N·H·W
// values, then averaged over channels; the variance with 1/M):
//   squared mean  E[m_c^2] = (1/M^2) Σ_{ij} K_ij = (Σ A + (N-1) Σ B) / (N (HW)^2)
//   second moment E[mean x^2] = tr(K) / M = tr(A) / HW,   variance = second moment - squared mean
// and the same for the branch from G_l.
import { Rng } from '../util/rng.js';

export interface ConvBnGeometry {
  /** Batch size N. */
  batch: number;
  height: number;
  width: number;
  /** BN's eps (added to the biased batch variance). */
  eps: number;
}

export interface ConvBnOptions {
  /** Antithetic pairs of Monte Carlo samples per evaluation of M (default: defaultPairs). */
  pairs: number;
  /** Seed of the Monte Carlo (the same numbers at every block). */
  seed: number;
  /** M is computed at every block l <= everyBlockUpTo ... */
  everyBlockUpTo: number;
  /** ... and then at l = previous grid point * gridRatio (rounded up, at least +1). */
  gridRatio: number;
}

export const DEFAULT_CONVBN_OPTIONS: Omit<ConvBnOptions, 'pairs'> = { seed: 0x5167_0bb1, everyBlockUpTo: 12, gridRatio: 1.15 };

/**
 * Default Monte Carlo size: 4000 antithetic pairs at batch 4, 8x8, and in general ~1M normalized
 * values per evaluation (each sample averages over its N·H·W values, so the error depends on
 * about their product). Measured at batch 4, 8x8: two seeds differ by 0.05% at block 1000.
 */
export function defaultPairs(batch: number, pixels: number): number {
  return Math.min(16000, Math.max(200, Math.ceil(1_024_000 / (batch * pixels))));
}

/** The expected per-block statistics, index l = 0..depth (the branch's entry 0 is NaN). */
export interface ConvBnExpectation {
  v0: number;
  depth: number;
  sqMean: Float64Array;
  variance: Float64Array;
  total: Float64Array;
  branchSqMean: Float64Array;
  branchVariance: Float64Array;
  branch: Float64Array;
  /** The Monte Carlo's standard errors of branch[l] and branchSqMean[l] (of the evaluation of M that block l uses). */
  branchSe: Float64Array;
  branchSqMeanSe: Float64Array;
  /** Antithetic pairs per evaluation of M. */
  pairs: number;
  /** Blocks at which M was computed. */
  grid: number[];
  seconds: number;
}

/** The blocks at which M is evaluated: every block up to everyBlockUpTo, then a geometric grid. */
export function convBnGrid(depth: number, opts: Pick<ConvBnOptions, 'everyBlockUpTo' | 'gridRatio'>): number[] {
  const grid: number[] = [];
  for (let l = 1; l <= depth; ) {
    grid.push(l);
    l = l < opts.everyBlockUpTo ? l + 1 : Math.max(l + 1, Math.ceil(l * opts.gridRatio));
  }
  return grid;
}

/**
 * The expected statistics of conv-bn at every block 0..depth, from K_0 = v0 I (the prediction is
 * anchored at the measured second moment of x_0, as the other nets' are).
 */
export function convBnExpectation(geom: ConvBnGeometry, v0: number, depth: number, options: Partial<ConvBnOptions> = {}): ConvBnExpectation {
  const t0 = performance.now();
  const { batch: n, height: h, width: w } = geom;
  const opts: ConvBnOptions = { ...DEFAULT_CONVBN_OPTIONS, pairs: defaultPairs(n, h * w), ...options };
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(h) && h >= 1 && Number.isInteger(w) && w >= 1)) throw new Error(`convBnExpectation: bad geometry ${JSON.stringify(geom)}`);
  if (!(v0 > 0 && Number.isFinite(v0))) throw new Error(`convBnExpectation: v0 must be finite and > 0, got ${v0}`);
  if (n * h * w < 2) throw new Error('convBnExpectation: BN needs at least 2 values per channel');
  const P = h * w;
  const A = new Float64Array(P * P);
  const B = new Float64Array(P * P);
  for (let i = 0; i < P; i++) A[i * P + i] = v0;
  const out: ConvBnExpectation = {
    v0,
    depth,
    sqMean: new Float64Array(depth + 1),
    variance: new Float64Array(depth + 1),
    total: new Float64Array(depth + 1),
    branchSqMean: new Float64Array(depth + 1).fill(NaN),
    branchVariance: new Float64Array(depth + 1).fill(NaN),
    branch: new Float64Array(depth + 1).fill(NaN),
    branchSe: new Float64Array(depth + 1).fill(NaN),
    branchSqMeanSe: new Float64Array(depth + 1).fill(NaN),
    pairs: opts.pairs,
    grid: [],
    seconds: 0,
  };
  const record = (l: number, a: Float64Array, b: Float64Array, sq: Float64Array, vr: Float64Array, tot: Float64Array) => {
    const s = moments(a, b, n, P);
    sq[l] = s.sqMean;
    tot[l] = s.total;
    vr[l] = s.total - s.sqMean;
  };
  record(0, A, B, out.sqMean, out.variance, out.total);
  const grid = new Set(convBnGrid(depth, opts));
  const mc = new BranchMonteCarlo(n, h, w, geom.eps, opts.pairs, opts.seed);
  let G: BranchCovariance | null = null;
  for (let l = 1; l <= depth; l++) {
    if (grid.has(l) || !G) {
      G = mc.branchCovariance(A, B);
      out.grid.push(l);
    }
    record(l, G.a, G.b, out.branchSqMean, out.branchVariance, out.branch);
    out.branchSe[l] = G.branchSe;
    out.branchSqMeanSe[l] = G.branchSqMeanSe;
    for (let i = 0; i < P * P; i++) {
      A[i] += G.a[i];
      B[i] += G.b[i];
    }
    record(l, A, B, out.sqMean, out.variance, out.total);
  }
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

/** Squared channel mean and second moment of an exchangeable covariance (A within, B across samples). */
export function moments(A: Float64Array, B: Float64Array, n: number, P: number): { sqMean: number; total: number } {
  let sa = 0;
  let sb = 0;
  let tr = 0;
  for (let i = 0; i < P * P; i++) {
    sa += A[i];
    sb += B[i];
  }
  for (let i = 0; i < P; i++) tr += A[i * P + i];
  return { sqMean: (sa + (n - 1) * sb) / (n * P * P), total: tr / P };
}

/**
 * Cholesky factor (lower, row-major) of a symmetric positive semi-definite P x P matrix; a pivot
 * that rounding made <= 0 gets a zero column (the matrix is singular in that direction).
 */
export function cholesky(S: Float64Array, P: number): Float64Array {
  const L = new Float64Array(P * P);
  let scale = 0;
  for (let i = 0; i < P; i++) scale = Math.max(scale, S[i * P + i]);
  const tiny = 1e-13 * scale;
  for (let j = 0; j < P; j++) {
    let d = S[j * P + j];
    for (let k = 0; k < j; k++) d -= L[j * P + k] * L[j * P + k];
    if (!(d > tiny)) continue; // column j stays 0
    const ljj = Math.sqrt(d);
    L[j * P + j] = ljj;
    for (let i = j + 1; i < P; i++) {
      let s = S[i * P + j];
      for (let k = 0; k < j; k++) s -= L[i * P + k] * L[j * P + k];
      L[i * P + j] = s / ljj;
    }
  }
  return L;
}

/** The pixel permutations of an H x W image that keep the 3x3 zero-padded convolution's law: flips, and the transpose when square. */
export function imageSymmetries(h: number, w: number): Int32Array[] {
  const maps: Int32Array[] = [];
  const transposes = h === w ? [false, true] : [false];
  for (const fy of [false, true]) {
    for (const fx of [false, true]) {
      for (const tr of transposes) {
        const m = new Int32Array(h * w);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            let yy = fy ? h - 1 - y : y;
            let xx = fx ? w - 1 - x : x;
            if (tr) [yy, xx] = [xx, yy];
            m[y * w + x] = yy * w + xx;
          }
        }
        maps.push(m);
      }
    }
  }
  return maps;
}

/** G(p, p') = (2/9) Σ_t M(p+t, p'+t) over the 3x3 taps t with both p+t and p'+t inside the image. */
export function convolveCovariance(M: Float64Array, h: number, w: number, out: Float64Array = new Float64Array(h * w * h * w)): Float64Array {
  const P = h * w;
  out.fill(0);
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        if (sy < 0 || sy >= h) continue;
        for (let x = 0; x < w; x++) {
          const sx = x + dx;
          if (sx < 0 || sx >= w) continue;
          const p = y * w + x;
          const q = sy * w + sx; // p + t
          for (let y2 = 0; y2 < h; y2++) {
            const sy2 = y2 + dy;
            if (sy2 < 0 || sy2 >= h) continue;
            for (let x2 = 0; x2 < w; x2++) {
              const sx2 = x2 + dx;
              if (sx2 < 0 || sx2 >= w) continue;
              out[p * P + y2 * w + x2] += M[q * P + sy2 * w + sx2];
            }
          }
        }
      }
    }
  }
  for (let i = 0; i < P * P; i++) out[i] *= 2 / 9;
  return out;
}

/** M = E[r r^T], r = ReLU(BN(z)), z ~ N(0, K(A, B)), by a fixed-seed Monte Carlo (see the file comment). */
export class BranchMonteCarlo {
  private readonly P: number;
  private readonly sym: Int32Array[];
  /** taps[q]: how many output pixels read input pixel q through the 3x3 zero-padded kernel. */
  private readonly taps: Float64Array;
  /** windows[t]: the input pixels q that tap t reads for some output pixel (q - t inside the image). */
  private readonly windows: Int32Array[];
  constructor(
    readonly n: number,
    readonly h: number,
    readonly w: number,
    readonly eps: number,
    readonly pairs: number,
    readonly seed: number,
  ) {
    this.P = h * w;
    this.sym = imageSymmetries(h, w);
    this.taps = new Float64Array(this.P);
    const inside = (v: number, size: number) => (v > 0 ? 1 : 0) + 1 + (v < size - 1 ? 1 : 0);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) this.taps[y * w + x] = inside(y, h) * inside(x, w);
    this.windows = [];
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const q: number[] = [];
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (y - dy >= 0 && y - dy < h && x - dx >= 0 && x - dx < w) q.push(y * w + x);
        this.windows.push(Int32Array.from(q));
      }
    }
  }

  /**
   * Within-sample and cross-sample blocks of M (symmetrized; B's is 0 when N = 1), and the
   * standard error of the branch second moment tr(G)/HW they give (from the per-pair scatter of
   * (2/9) Σ_q taps(q) r_q^2 / HW, which the symmetrization leaves unchanged), and that of the
   * branch's squared channel mean (the sum of all of G's N·HW x N·HW entries over (N·HW)^2, per
   * pair (2/9) Σ_t (Σ_n Σ_{q in window t} r_nq)^2 / (N·HW)^2).
   */
  secondMoments(A: Float64Array, B: Float64Array): { a: Float64Array; b: Float64Array; branchSe: number; branchSqMeanSe: number } {
    const { n, P, eps, pairs } = this;
    const S1 = new Float64Array(P * P);
    const S2 = new Float64Array(P * P);
    for (let i = 0; i < P * P; i++) {
      S1[i] = A[i] - B[i];
      S2[i] = (A[i] + (n - 1) * B[i]) / n;
    }
    const L1 = cholesky(S1, P);
    const L2 = cholesky(S2, P);
    const rng = new Rng(this.seed);
    const NP = n * P;
    const xi = new Float64Array(NP + P);
    const z = new Float64Array(NP);
    const ubar = new Float64Array(P);
    const m = new Float64Array(P);
    const sp = new Float64Array(P);
    const sq = new Float64Array(P);
    const posI = new Int32Array(P);
    const posV = new Float64Array(P);
    const negI = new Int32Array(P);
    const negV = new Float64Array(P);
    const accA = new Float64Array(P * P); // Σ over samples and n of p p^T + q q^T (upper triangle)
    const accT = new Float64Array(P * P); // Σ over samples of sp sp^T + sq sq^T (upper triangle)
    const taps = this.taps;
    let x1 = 0;
    let x2 = 0;
    let y1 = 0;
    let y2 = 0;
    const windows = this.windows;
    for (let s = 0; s < pairs; s++) {
      for (let i = 0; i < NP + P; i += 2) {
        const r = Math.sqrt(-2 * Math.log(1 - rng.float()));
        const t = 2 * Math.PI * rng.float();
        xi[i] = r * Math.cos(t);
        if (i + 1 < NP + P) xi[i + 1] = r * Math.sin(t);
      }
      // u_n = L1 xi_n (into z), ubar = mean u_n, m = L2 eta; z_n = u_n - ubar + m.
      ubar.fill(0);
      for (let k = 0; k < n; k++) {
        const o = k * P;
        for (let i = 0; i < P; i++) {
          let acc = 0;
          const row = i * P;
          for (let j = 0; j <= i; j++) acc += L1[row + j] * xi[o + j];
          z[o + i] = acc;
          ubar[i] += acc;
        }
      }
      for (let i = 0; i < P; i++) {
        let acc = 0;
        const row = i * P;
        for (let j = 0; j <= i; j++) acc += L2[row + j] * xi[NP + j];
        m[i] = acc - ubar[i] / n;
      }
      let mean = 0;
      for (let k = 0; k < n; k++) for (let i = 0; i < P; i++) mean += z[k * P + i] += m[i];
      mean /= NP;
      let q2 = 0;
      for (let i = 0; i < NP; i++) q2 += (z[i] - mean) ** 2;
      const rstd = 1 / Math.sqrt(q2 / NP + eps);
      sp.fill(0);
      sq.fill(0);
      let tw = 0; // Σ_n Σ_q taps(q) b^2 (= Σ p^2 + q^2: the antithetic pair's diagonal)
      for (let k = 0; k < n; k++) {
        let np = 0;
        let nn = 0;
        for (let i = 0; i < P; i++) {
          const b = (z[k * P + i] - mean) * rstd;
          tw += taps[i] * b * b;
          if (b > 0) {
            posI[np] = i;
            posV[np++] = b;
            sp[i] += b;
          } else if (b < 0) {
            negI[nn] = i;
            negV[nn++] = -b;
            sq[i] -= b;
          }
        }
        outerUpper(accA, P, posI, posV, np);
        outerUpper(accA, P, negI, negV, nn);
      }
      const xs = (tw * 2) / (9 * P * 2 * n);
      x1 += xs;
      x2 += xs * xs;
      let ws = 0;
      for (const win of windows) {
        let a = 0;
        let b = 0;
        for (let u = 0; u < win.length; u++) {
          a += sp[win[u]];
          b += sq[win[u]];
        }
        ws += a * a + b * b;
      }
      const ys = (ws * 2) / (9 * 2 * NP * NP);
      y1 += ys;
      y2 += ys * ys;
      if (n > 1) {
        for (let i = 0; i < P; i++) {
          const a = sp[i];
          const b = sq[i];
          const row = i * P;
          for (let j = i; j < P; j++) accT[row + j] += a * sp[j] + b * sq[j];
        }
      }
    }
    // Mirror the upper triangles, normalize, and average over the image's symmetries.
    const a = new Float64Array(P * P);
    const b = new Float64Array(P * P);
    const cross = n > 1 ? 1 / (2 * pairs * n * (n - 1)) : 0;
    for (let i = 0; i < P; i++) {
      for (let j = i; j < P; j++) {
        const va = accA[i * P + j] / (2 * pairs * n);
        const vb = (accT[i * P + j] - accA[i * P + j]) * cross;
        a[i * P + j] = a[j * P + i] = va;
        b[i * P + j] = b[j * P + i] = vb;
      }
    }
    const mx = x1 / pairs;
    const my = y1 / pairs;
    const se = (m1: number, m2: number) => (pairs > 1 ? Math.sqrt(Math.max(0, m2 / pairs - m1 * m1) / (pairs - 1)) : NaN);
    return { a: symmetrize(a, P, this.sym), b: symmetrize(b, P, this.sym), branchSe: se(mx, x2), branchSqMeanSe: se(my, y2) };
  }

  /** G_l's within- and cross-sample blocks from K_{l-1}'s, with the Monte Carlo's standard errors. */
  branchCovariance(A: Float64Array, B: Float64Array): BranchCovariance {
    const M = this.secondMoments(A, B);
    return { a: convolveCovariance(M.a, this.h, this.w), b: convolveCovariance(M.b, this.h, this.w), branchSe: M.branchSe, branchSqMeanSe: M.branchSqMeanSe };
  }
}

export interface BranchCovariance {
  /** G's within-sample and cross-sample blocks (HW x HW, row-major). */
  a: Float64Array;
  b: Float64Array;
  /** Standard errors of tr(G)/HW (the branch second moment) and of the branch's squared channel mean. */
  branchSe: number;
  branchSqMeanSe: number;
}

/** acc[i][j] += v_i v_j for the listed (ascending) indices, j >= i only. */
function outerUpper(acc: Float64Array, P: number, idx: Int32Array, val: Float64Array, count: number): void {
  for (let u = 0; u < count; u++) {
    const row = idx[u] * P;
    const vu = val[u];
    for (let v = u; v < count; v++) acc[row + idx[v]] += vu * val[v];
  }
}

function symmetrize(M: Float64Array, P: number, maps: Int32Array[]): Float64Array {
  const out = new Float64Array(P * P);
  for (const g of maps) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) out[i * P + j] += M[g[i] * P + g[j]];
  for (let i = 0; i < P * P; i++) out[i] /= maps.length;
  return out;
}
