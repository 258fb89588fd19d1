// Axis tick selection ('nice' 1-2-5 steps, powers of ten on log axes) and compact number formatting.

const MULTIPLIERS = [1, 2, 5] as const;

/** m * 10^k computed so that e.g. 3 * 0.2 gives 0.6, not 0.6000000000000001. */
function tickValue(i: number, m: number, k: number): number {
  const v = k >= 0 ? i * m * 10 ** k : (i * m) / 10 ** -k;
  const r = Number(v.toPrecision(12));
  return r === 0 ? 0 : r; // no -0
}

function pow10(e: number): number {
  return Number(`1e${e}`); // exact decimal parse; 10 ** -3 can be off by an ulp
}

interface Scale {
  min: number;
  max: number;
  ticks: number[];
}

/**
 * Walks 1-2-5 steps upward from below the range's magnitude; the first step that yields at most
 * maxTicks ticks wins. `loose` extends the range outward to whole steps, otherwise ticks lie inside.
 */
function searchSteps(min: number, max: number, maxTicks: number, loose: boolean): Scale {
  const range = max - min;
  if (!Number.isFinite(range) || range <= 0) return { min, max, ticks: Number.isFinite(min) ? [min] : [] };
  maxTicks = Math.max(2, Math.floor(maxTicks));
  let k = Math.floor(Math.log10(range / maxTicks)) - 1;
  for (let guard = 0; guard < 64; guard++, k++) {
    for (const m of MULTIPLIERS) {
      const step = m * 10 ** k;
      const i0 = loose ? Math.floor(min / step + 1e-9) : Math.ceil(min / step - 1e-9);
      const i1 = loose ? Math.ceil(max / step - 1e-9) : Math.floor(max / step + 1e-9);
      if (i1 - i0 + 1 > maxTicks) continue;
      const ticks: number[] = [];
      for (let i = i0; i <= i1; i++) ticks.push(tickValue(i, m, k));
      return loose ? { min: tickValue(i0, m, k), max: tickValue(i1, m, k), ticks } : { min, max, ticks };
    }
  }
  return { min, max, ticks: [min, max] };
}

function sorted(a: number, b: number): [number, number] {
  return a <= b ? [a, b] : [b, a];
}

/** Tick values inside [min, max] on 1-2-5 steps, at most maxTicks of them. */
export function niceTicks(min: number, max: number, maxTicks = 7): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  [min, max] = sorted(min, max);
  return searchSteps(min, max, maxTicks, false).ticks;
}

/** Range widened outward to whole 1-2-5 steps, with its ticks (for auto-ranged linear axes). */
export function niceScale(min: number, max: number, maxTicks = 7): Scale {
  [min, max] = sorted(min, max);
  if (min === max) {
    const d = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= d;
    max += d;
  }
  return searchSteps(min, max, maxTicks, true);
}

/**
 * Ticks for a log axis on [min, max] (both > 0): powers of ten, thinned to every 2nd, 3rd, 5th, ... decade
 * when there are too many; narrow ranges (under two powers inside) fall back to 1-2-5 multiples, then to linear.
 */
export function logTicks(min: number, max: number, maxTicks = 8): number[] {
  if (!(min > 0 && max > 0 && Number.isFinite(min) && Number.isFinite(max))) return [];
  [min, max] = sorted(min, max);
  maxTicks = Math.max(2, Math.floor(maxTicks));
  const e0 = Math.ceil(Math.log10(min) - 1e-9);
  const e1 = Math.floor(Math.log10(max) + 1e-9);
  const n = e1 - e0 + 1;
  if (n >= 2) {
    let stride = 1;
    for (const s of [1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 500, 1000]) {
      stride = s;
      if (Math.ceil(n / s) <= maxTicks) break;
    }
    const out: number[] = [];
    for (let e = e0; e <= e1; e++) if (((e % stride) + stride) % stride === 0) out.push(pow10(e));
    if (out.length >= 2) return out;
    return [pow10(e0), pow10(e1)];
  }
  const mults: number[] = [];
  for (let e = Math.floor(Math.log10(min)) - 1; e <= Math.ceil(Math.log10(max)); e++)
    for (const m of MULTIPLIERS) {
      const v = Number(`${m}e${e}`);
      if (v >= min * (1 - 1e-12) && v <= max * (1 + 1e-12)) mults.push(v);
    }
  if (mults.length >= 2 && mults.length <= maxTicks) return mults;
  return niceTicks(min, max, maxTicks);
}

/** Minor ticks for a log axis: 2..9 x 10^e inside [min, max]. */
export function logMinorTicks(min: number, max: number): number[] {
  const out: number[] = [];
  if (!(min > 0 && max > 0)) return out;
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
    for (let m = 2; m <= 9; m++) {
      const v = Number(`${m}e${e}`);
      if (v > min && v < max) out.push(v);
    }
  return out;
}

function expForm(v: number, sig: number): string {
  const [mant, exp] = v.toExponential(Math.max(0, sig - 1)).split('e');
  const m = mant!.includes('.') ? mant!.replace(/0+$/, '').replace(/\.$/, '') : mant!;
  return `${m}e${Number(exp)}`;
}

/**
 * Compact number: 250, 0.25, 0.001, 1e12, 2.5e-7. Exponent form below 1e-3 and from 1e5 up.
 * `sig` caps significant digits.
 */
export function formatNumber(v: number, sig = 6): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return expForm(v, sig);
  const r = Number(v.toPrecision(sig));
  if (Math.abs(r) >= 1e5) return expForm(v, sig); // rounding carried it over
  return String(r);
}

/** Labels for a set of ticks in one consistent style: all plain or all exponent form. */
export function formatTicks(values: readonly number[]): string[] {
  const nz = values.filter((v) => v !== 0 && Number.isFinite(v)).map(Math.abs);
  const useExp = nz.length > 0 && (Math.max(...nz) >= 1e5 || Math.min(...nz) < 1e-3);
  return values.map((v) => (v === 0 ? '0' : useExp && Number.isFinite(v) ? expForm(v, 6) : formatNumber(v)));
}

/** Log-axis labels: each value on its own terms (1, 10, 100, 1000, 1e4, ...). */
export function formatLogTicks(values: readonly number[]): string[] {
  return values.map((v) => (Math.abs(v) >= 1e4 ? expForm(v, 6) : formatNumber(v)));
}
