// A small flag parser: --name value or --name=value; every flag is declared with its type, so a
// typo or a bad value is a clear error naming the flag and the expected form.

export type FlagType = 'int' | 'number' | 'string' | 'bool' | 'list';

export interface FlagSpec {
  type: FlagType;
  default?: string | number | boolean | readonly (string | number)[];
  help: string;
  /** allowed values, for strings */
  choices?: readonly string[];
}

export type Flags = Record<string, FlagSpec>;
/** A flag's value type, from its spec: numbers for int/number, a list of strings and numbers, a choice, ... */
type ValueOf<S extends FlagSpec> = S['type'] extends 'int' | 'number'
  ? number
  : S['type'] extends 'bool'
    ? boolean
    : S['type'] extends 'list'
      ? (string | number)[]
      : S extends { choices: readonly (infer C)[] }
        ? C
        : string;
/** Parsed flags, typed from the spec; a flag without a default may be undefined. */
export type Parsed<F extends Flags> = { [K in keyof F]: F[K] extends { default: unknown } ? ValueOf<F[K]> : ValueOf<F[K]> | undefined };

export class UsageError extends Error {}

const isWrnDepth = (d: number) => Number.isInteger(d) && d >= 10 && (d - 4) % 6 === 0;

export function parseFlags<F extends Flags>(command: string, argv: string[], spec: F): Parsed<F> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) if (s.default !== undefined) out[k] = s.default;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`wrn ${command}: unexpected argument '${arg}' (flags start with --; see wrn ${command} --help)`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const s = spec[name];
    if (!s) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new UsageError(`wrn ${command}: unknown flag --${name} (known: ${known})`);
    }
    if (s.type === 'bool') {
      if (value === undefined) out[name] = true;
      else if (value === 'true' || value === 'false') out[name] = value === 'true';
      else throw new UsageError(`wrn ${command}: --${name} is a switch; give it alone or as --${name}=true|false, not '${value}'`);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`wrn ${command}: --${name} needs a value (${describe(s)})`);
    }
    out[name] = convert(command, name, s, value);
  }
  return out as Parsed<F>;
}

/** The flag names present in argv (without the leading --), whatever their values. */
export function flagsGiven(argv: string[]): Set<string> {
  return new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
}

/** A decimal number: 0.1, -2, 1e-3, .5 (not 0x10, 0b1, Infinity or an empty string). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function describe(s: FlagSpec): string {
  if (s.choices) return `one of ${s.choices.join(', ')}`;
  return { int: 'an integer', number: 'a number', string: 'a string', bool: 'a switch', list: 'a comma-separated list' }[s.type];
}

function convert(command: string, name: string, s: FlagSpec, v: string): unknown {
  const bad = () => new UsageError(`wrn ${command}: --${name} must be ${describe(s)}, got '${v}'`);
  switch (s.type) {
    case 'int': {
      // Exactly representable: past 2^53 - 1 two different values would be the same number.
      if (!/^-?\d+$/.test(v)) throw bad();
      const n = Number(v);
      if (!Number.isSafeInteger(n)) throw new UsageError(`wrn ${command}: --${name} must be an integer of magnitude at most 2^53 - 1 (${Number.MAX_SAFE_INTEGER}), got '${v}'`);
      return n;
    }
    case 'number': {
      // Decimal only: Number() would also take hex, octal and binary ('0x10' is 16) and '' as 0.
      const n = Number(v);
      if (!Number.isFinite(n) || v.trim() === '') throw bad();
      if (!DECIMAL.test(v)) throw new UsageError(`wrn ${command}: --${name} must be a decimal number (0.1, -2, 1e-3), got '${v}'`);
      return n;
    }
    case 'list':
      return v.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map((x) => (/^-?[\d.e+-]+$/i.test(x) && Number.isFinite(Number(x)) ? Number(x) : x));
    default:
      if (s.choices && !s.choices.includes(v)) throw bad();
      return v;
  }
}

export function usage(command: string, summary: string, spec: Flags): string {
  const lines = [`usage: wrn ${command} [flags]`, '', summary, '', 'flags:'];
  for (const [k, s] of Object.entries(spec)) {
    const def = s.default !== undefined ? ` (default: ${Array.isArray(s.default) ? s.default.join(',') : s.default})` : '';
    lines.push(`  --${k.padEnd(18)} ${s.help}${s.choices ? ` [${s.choices.join('|')}]` : ''}${def}`);
  }
  return lines.join('\n');
}

/** The WRN depth rule (n = 6N + 4, N >= 1), one place for every command; `flag` names it in the error. */
export function requireWrnDepth(command: string, flag: string, v: unknown): number {
  if (typeof v !== 'number' || !isWrnDepth(v)) throw new UsageError(`wrn ${command}: --${flag} must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...), got ${v}`);
  return v;
}

/** A list flag of positive integers (batch sizes, ...). */
export function requirePositiveInts(command: string, flag: string, vs: readonly unknown[]): number[] {
  for (const v of vs) if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new UsageError(`wrn ${command}: --${flag}: ${v} is not a positive integer`);
  return vs as number[];
}

/** Check a numeric flag's range, naming it. */
export function requireRange(command: string, name: string, v: number, lo: number, hi = Infinity): void {
  if (!(v >= lo && v <= hi)) throw new UsageError(`wrn ${command}: --${name} must be in [${lo}, ${hi === Infinity ? '∞' : hi}], got ${v}`);
}

/** Refuse an empty list flag (an empty grid would run nothing and say nothing). */
export function requireNonEmpty(command: string, name: string, v: readonly unknown[]): void {
  if (!v.length) throw new UsageError(`wrn ${command}: --${name} is empty; give one or more comma-separated values`);
}

// The longest wait a seconds flag may ask for: Playwright reads a timeout of 0 as none, and
// setTimeout fires at once past 2^31 - 1 ms.
export const MAX_TIMEOUT_S = Math.floor((2 ** 31 - 1) / 1000);

// The most values one tensor may hold, checked up front: past it a typed array or a GPU binding
// fails with a message that names no flag (2^28 f32 values = 1 GiB).
export const MAX_TENSOR_VALUES = 2 ** 28;

/** Refuse a tensor of `shape` (named `what`, e.g. 'the fc weights') above MAX_TENSOR_VALUES, naming the flags to lower. */
export function requireTensorSize(command: string, what: string, shape: readonly number[], lower: string): void {
  const values = shape.reduce((a, b) => a * b, 1);
  if (values <= MAX_TENSOR_VALUES) return;
  throw new UsageError(
    `wrn ${command}: ${what} [${shape.join(', ')}] would hold ${values.toLocaleString('en')} values (${((4 * values) / 2 ** 30).toFixed(1)} GiB of f32), ` +
      `more than the ${MAX_TENSOR_VALUES.toLocaleString('en')} (1 GiB) one tensor may hold; lower ${lower}`,
  );
}
