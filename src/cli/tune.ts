// `wrn tune`: pick, for this adapter, the fastest correct implementation of every convolution a
// WRN of the given size dispatches (src/bench/tune.ts), and store the choices in the tuning cache
// (src/cli/tuning_cache.ts) that `wrn check` and `wrn bench` then use.
import { initWebGPU } from '../index.js';
import { runTune, tuneRows, tuneSummary } from '../bench/tune.js';
import { table } from '../bench/format.js';
import { parseFlags, requireWrnDepth, usage, UsageError } from './args.js';
import { tuningCachePath, writeTuningEntry } from './tuning_cache.js';

const FLAGS = {
  depth: { type: 'int', default: 16, help: 'WRN depth whose convolutions are tuned' },
  width: { type: 'int', default: 1, help: 'WRN width factor' },
  batch: { type: 'int', default: 32, help: 'batch size (the geometries include it)' },
  rounds: { type: 'int', default: 3, help: 'interleaved timing rounds per convolution; each candidate\'s time is the median' },
  cache: { type: 'string', default: '', help: 'the tuning cache file (default: $WRN_TUNING_CACHE, else ~/.cache/wrn-webgpu/tuning.json)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

export async function tuneCommand(argv: string[]): Promise<number> {
  const f = parseFlags('tune', argv, FLAGS);
  if (f.help) {
    console.log(usage('tune', "For this adapter, time every implementation of every convolution a WRN's training step dispatches, after checking each against the CPU reference (a wrong one is refused, never chosen), and store the fastest per convolution in the tuning cache that wrn check and wrn bench use.", FLAGS));
    return 0;
  }
  requireWrnDepth('tune', 'depth', f.depth);
  for (const k of ['width', 'batch', 'rounds'] as const) if (!Number.isInteger(f[k]) || f[k] < 1) throw new UsageError(`wrn tune: --${k} must be an integer >= 1, got ${f[k]}`);
  const file = f.cache || tuningCachePath();
  if (!file) throw new UsageError('wrn tune: WRN_TUNING_CACHE=off and no --cache FILE: there is nowhere to store the choices');
  const rt = await initWebGPU({ timestamps: true });
  console.log(`adapter: ${rt.adapterName}`);
  console.log(`tuning profile: ${rt.profile.name} (the choices overlay it)`);
  const entry = await runTune(rt, { depth: f.depth, width: f.width, batch: f.batch, rounds: f.rounds, command: ['wrn', 'tune', ...argv].join(' '), log: (l) => console.log(`  ${l}`) });
  console.log('');
  console.log(table(tuneRows(entry)));
  console.log(`\n${tuneSummary(entry)}`);
  writeTuningEntry(file, entry);
  console.log(`wrote ${file}`);
  return 0;
}
