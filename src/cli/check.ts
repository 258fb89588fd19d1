// `wrn check`: the adapter and its limits, then every kernel against its CPU reference.
import { runChecks, selectChecks } from '../check.js';
import { parseFlags, usage, UsageError } from './args.js';
import { openTunedRuntime } from './tuning_cache.js';

const FLAGS = {
  filter: { type: 'string', default: '', help: 'run only the checks whose name contains this' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

export async function checkCommand(argv: string[]): Promise<number> {
  const f = parseFlags('check', argv, FLAGS);
  if (f.help) {
    console.log(usage('check', 'Print the WebGPU adapter and its limits, then run every WGSL kernel on small random inputs against its CPU reference.', FLAGS));
    return 0;
  }
  // The filter is checked before the adapter is opened (that takes seconds on a CPU adapter).
  let count: number;
  try {
    count = selectChecks(f.filter).length;
  } catch (e) {
    throw new UsageError(`wrn check: --filter: ${(e as Error).message}`);
  }
  const rt = await openTunedRuntime();
  const l = rt.limits;
  console.log(
    `limits: maxStorageBufferBindingSize=${l.maxStorageBufferBindingSize} maxBufferSize=${l.maxBufferSize} ` +
      `maxComputeWorkgroupStorageSize=${l.maxComputeWorkgroupStorageSize} maxComputeInvocationsPerWorkgroup=${l.maxComputeInvocationsPerWorkgroup} ` +
      `maxComputeWorkgroupsPerDimension=${l.maxComputeWorkgroupsPerDimension} maxStorageBuffersPerShaderStage=${l.maxStorageBuffersPerShaderStage}`,
  );
  console.log(`timestamp-query: ${rt.ctx.adapter.features.includes('timestamp-query') ? 'available' : 'not available'}`);
  console.log(`checking ${count} kernels against their CPU references:`);
  const lines = await runChecks(f.filter, (r) => {
    const err = `max abs err ${r.maxAbsErr.toExponential(2)}, max rel err ${r.maxRelErr.toExponential(2)}`;
    console.log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(44)} ${err}  (${r.ms.toFixed(0)} ms)${r.ok ? '' : `\n        ${r.message}`}`);
  });
  const failed = lines.filter((x) => !x.ok).length;
  console.log(`${lines.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}
