// Node's side of the tuning cache (src/gpu/tuning.ts): where it lives, reading and writing it
// (atomically), and overlaying this adapter's entry on the runtime's profile. The file is
// $WRN_TUNING_CACHE, else $XDG_CACHE_HOME/wrn-webgpu/tuning.json (~/.cache/...); WRN_TUNING_CACHE=off
// turns it off (the tests do, so a developer's cache cannot change what they compute).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GpuRuntime } from '../gpu/runtime.js';
import { CONV_IMPLEMENTATIONS_CHECKSUM } from '../gpu/programs/conv2d.js';
import { isCpuAdapter } from '../gpu/profile.js';
import { findEntry, tuningKey, validateCache, withChosen, withEntry, type TuningCache, type TuningEntry } from '../gpu/tuning.js';
import { writeFileAtomic } from '../util/fsx.js';

/** The cache file, or null when WRN_TUNING_CACHE=off. */
export function tuningCachePath(): string | null {
  const env = process.env.WRN_TUNING_CACHE;
  if (env === 'off') return null;
  if (env) return env;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wrn-webgpu', 'tuning.json');
}

export function readTuningCache(file: string): TuningCache | null {
  if (!existsSync(file)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); expected a tuning cache written by 'wrn tune' (delete it, or run wrn tune again)`);
  }
  return validateCache(value, file);
}

/** Add (or replace) `entry` in the cache at `file`. */
export function writeTuningEntry(file: string, entry: TuningEntry): void {
  const cache = withEntry(readTuningCache(file), entry);
  writeFileAtomic(file, JSON.stringify(cache, null, 2) + '\n');
}

/** Overlay this adapter's tuned choices on the runtime's profile; returns the line to print (how many, from where, or why none). */
export function applyTuningCache(rt: GpuRuntime): string {
  const file = tuningCachePath();
  if (!file) return 'tuning cache: off (WRN_TUNING_CACHE=off): the static profile';
  const cache = readTuningCache(file);
  const hint = isCpuAdapter(rt.ctx.adapter) ? '' : '; `wrn tune` would pick kernels for this GPU';
  if (!cache) return `tuning cache: none at ${file}${hint}`;
  const { entry, reason } = findEntry(cache, tuningKey(rt.ctx.adapter, rt.profile.name, CONV_IMPLEMENTATIONS_CHECKSUM));
  if (!entry) return `tuning cache: ${file}: ${reason}${hint}`;
  rt.setProfile(withChosen(rt.profile, entry.chosen));
  return `tuning cache: ${Object.keys(entry.chosen).length} convolution choices from ${file} (tuned ${entry.date.slice(0, 10)} for WRN-${entry.config.depth}-${entry.config.width} at batch ${entry.config.batch})`;
}
