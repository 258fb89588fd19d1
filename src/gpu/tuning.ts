// The tuning cache: which implementation `wrn tune` measured fastest (and checked correct) for each
// convolution this adapter runs, keyed by the adapter (vendor, architecture, device, description,
// which names the driver), the engine's version, a checksum of the implementation set (a changed
// kernel invalidates its entries) and the static profile the choices were measured against. The
// runtime's profile is the static one with the entry's choices overlaid (`withChosen`). Pure
// code: Node keeps the cache in a file (src/cli/tuning_cache.ts), the page could keep it in
// localStorage.
import type { AdapterDescription } from './device.js';
import type { ConvImplementationName, TuningProfile } from './profile.js';
import { CONV_IMPLEMENTATION_NAMES } from './profile.js';
import { CONV_IMPLEMENTATIONS_CHECKSUM } from './programs/conv2d.js';
import type { GpuRuntime } from './runtime.js';

export const TUNING_KIND = 'wrn-tuning-cache';
export const TUNING_SCHEMA = 1;
/** The engine's version (package.json's; a test keeps them equal). */
export const ENGINE_VERSION = '0.1.0';

export interface TuningKey {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  runtime: string;
  engine: string;
  /** of the implementation set (CONV_IMPLEMENTATIONS_CHECKSUM) */
  checksum: string;
  /** the static profile the choices overlay */
  profile: string;
}

/** One measured bucket: every candidate's time over the rounds (or why it was refused) and the choice. */
export interface TuneRow {
  /** `forward x[32,16,32,32] w[16,16,3,3] s1 p1` */
  bucket: string;
  /** median and range over the rounds (ms; null: refused by the CPU check) */
  candidates: { name: string; ok: boolean; ms: number | null; minMs: number | null; maxMs: number | null; message: string }[];
  /** the fastest median */
  fastest: string;
  /**
   * The choice: the fastest where its range lies wholly below the static choice's (over >= 2
   * rounds), else the static choice (a difference within the spread is not a reason to change
   * the kernel, and so the rounding).
   */
  winner: string;
  /** whether the fastest beat the static choice beyond the spread */
  resolved: boolean;
  /** the runner-up's median over the fastest's (1 when only one candidate ran) */
  margin: number;
  /** what the static profile runs there, and its median over the fastest's */
  staticChoice: string;
  staticOverWinner: number | null;
}

export interface TuningEntry {
  key: TuningKey;
  date: string;
  command: string | null;
  config: Record<string, unknown>;
  /** bucket -> implementation */
  chosen: Record<string, ConvImplementationName>;
  table: TuneRow[];
}

export interface TuningCache {
  kind: typeof TUNING_KIND;
  schema: number;
  entries: TuningEntry[];
}

export function tuningKey(adapter: AdapterDescription, profile: string, checksum: string): TuningKey {
  const { vendor, architecture, device, description, runtime } = adapter;
  return { vendor, architecture, device, description, runtime, engine: ENGINE_VERSION, checksum, profile };
}

const sameKey = (a: TuningKey, b: TuningKey) => (Object.keys(a) as (keyof TuningKey)[]).every((k) => a[k] === b[k]);
const sameAdapter = (a: TuningKey, b: TuningKey) => (['vendor', 'architecture', 'device', 'description', 'runtime'] as const).every((k) => a[k] === b[k]);

/** The entry for `key`, or null with the reason (none for this adapter, or a stale one). */
export function findEntry(cache: TuningCache, key: TuningKey): { entry: TuningEntry | null; reason: string } {
  const entry = cache.entries.find((e) => sameKey(e.key, key));
  if (entry) return { entry, reason: '' };
  const stale = cache.entries.find((e) => sameAdapter(e.key, key));
  if (!stale) return { entry: null, reason: 'no entry for this adapter' };
  const why = stale.key.checksum !== key.checksum ? 'the kernels changed since it was tuned' : stale.key.engine !== key.engine ? `it was tuned by engine ${stale.key.engine}` : `it was tuned against the '${stale.key.profile}' profile`;
  return { entry: null, reason: `the entry for this adapter is stale (${why}): run wrn tune again` };
}

/**
 * `cache` with `entry` added. An entry with the same key is merged into it: the new choices win
 * where both tuned a convolution, the old ones stay for the others (tuning WRN-16-4 after WRN-16-1
 * keeps WRN-16-1's choices).
 */
export function withEntry(cache: TuningCache | null, entry: TuningEntry): TuningCache {
  const entries = cache?.entries ?? [];
  const old = entries.find((e) => sameKey(e.key, entry.key));
  const merged: TuningEntry = old
    ? { ...entry, chosen: { ...old.chosen, ...entry.chosen }, table: [...old.table.filter((r) => !(r.bucket in entry.chosen)), ...entry.table] }
    : entry;
  return { kind: TUNING_KIND, schema: TUNING_SCHEMA, entries: [...entries.filter((e) => e !== old), merged] };
}

/** `p` with the per-bucket choices overlaid (a new profile; `p` is left alone). */
export function withChosen(p: TuningProfile, chosen: Readonly<Record<string, ConvImplementationName>>): TuningProfile {
  return { ...p, conv2d: { ...p.conv2d, chosen: { ...chosen } } };
}

/** Check that `value` (read from `file`) is a tuning cache; errors name the file and the field. */
export function validateCache(value: unknown, file: string): TuningCache {
  const bad = (why: string) => new Error(`${file}: ${why}; expected a tuning cache written by 'wrn tune' (delete it, or run wrn tune again)`);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad('not a JSON object');
  const c = value as Partial<TuningCache>;
  if (c.kind !== TUNING_KIND) throw bad(`'kind' is ${JSON.stringify(c.kind)}, not '${TUNING_KIND}'`);
  if (c.schema !== TUNING_SCHEMA) throw bad(`'schema' is ${JSON.stringify(c.schema)}, not ${TUNING_SCHEMA}`);
  if (!Array.isArray(c.entries)) throw bad("'entries' is not a list");
  c.entries.forEach((e, i) => {
    if (!e || typeof e !== 'object' || !e.key || typeof e.key.checksum !== 'string' || !e.chosen || typeof e.chosen !== 'object') throw bad(`entries[${i}] lacks a key or its choices`);
    for (const [bucket, name] of unknownImplementations(e.chosen)) throw bad(`entries[${i}] chooses '${name}' for ${bucket}, which is not an implementation (${CONV_IMPLEMENTATION_NAMES.join(', ')})`);
  });
  return c as TuningCache;
}

/** The choices (bucket, name) that name no implementation of this build. */
export function unknownImplementations(chosen: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(chosen).filter(([, name]) => !(CONV_IMPLEMENTATION_NAMES as readonly string[]).includes(name));
}

/**
 * Overlay this adapter's entry of `cache` on the runtime's profile. Returns whether it did and, in
 * words, how many choices `from` where (a file, "stored in this browser"), or why none applies.
 */
export function applyCache(rt: GpuRuntime, cache: TuningCache, from: string): { applied: boolean; line: string } {
  const { entry, reason } = findEntry(cache, tuningKey(rt.ctx.adapter, rt.profile.name, CONV_IMPLEMENTATIONS_CHECKSUM));
  if (!entry) return { applied: false, line: reason };
  rt.setProfile(withChosen(rt.profile, entry.chosen));
  const c = entry.config;
  return { applied: true, line: `${Object.keys(entry.chosen).length} convolution choices ${from} (tuned ${entry.date.slice(0, 10)} for WRN-${c.depth}-${c.width} at batch ${c.batch})` };
}
