// Node's side of the tuning cache (src/gpu/tuning.ts): where it lives, reading and writing it
// (atomically), and overlaying this adapter's entry on the runtime's profile. The file is
// $WRN_TUNING_CACHE, else $XDG_CACHE_HOME/wrn-webgpu/tuning.json (~/.cache/...); WRN_TUNING_CACHE=off
// turns it off (the tests do, so a developer's cache cannot change what they compute).
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { GpuRuntime } from '../gpu/runtime.js';
import { isCpuAdapter } from '../gpu/profile.js';
import { applyCache, validateCache, withEntry, type TuningCache, type TuningEntry } from '../gpu/tuning.js';
import type { OpenDeviceOptions } from '../gpu/device.js';
import { initWebGPU } from '../index.js';
import { readFileChecked, statPath, writeFileAtomic } from '../util/fsx.js';

/** The cache file, or null when WRN_TUNING_CACHE=off. */
export function tuningCachePath(): string | null {
  const env = process.env.WRN_TUNING_CACHE;
  if (env === 'off') return null;
  if (env) return env;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'wrn-webgpu', 'tuning.json');
}

export function readTuningCache(file: string): TuningCache | null {
  if (!statPath(file, 'tuning cache')) return null;
  const text = readFileChecked(file, 'tuning cache').toString('utf8'); // a directory or a FIFO: named, not parsed
  let value: unknown;
  try {
    value = JSON.parse(text);
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
  const r = cache ? applyCache(rt, cache, `from ${file}`) : { applied: false, line: `none at ${file}` };
  const line = `tuning cache: ${r.applied || !cache ? r.line : `${file}: ${r.line}`}`;
  // The hint where a GPU runs its static profile, which was measured on SwiftShader only.
  return r.applied || isCpuAdapter(rt.ctx.adapter) ? line : `${line}; \`wrn tune\` would pick kernels for this GPU`;
}

/** Open the runtime for a command and print the adapter, its tuning profile and what the tuning cache overlays. */
export async function openTunedRuntime(opts: OpenDeviceOptions = {}): Promise<GpuRuntime> {
  const rt = await initWebGPU(opts);
  console.log(`adapter: ${rt.adapterName}`);
  console.log(`tuning profile: ${rt.profile.name}`);
  console.log(applyTuningCache(rt));
  return rt;
}
