// The browser page's 'bench' task: the quick kernel benchmark in the page, returning the same
// result object as `wrn bench kernels` under `result` (runtime = the browser's user agent).
// ?task=bench&batch=2&reps=3&warmup=1&only=bn.&wallClock=1&commit=<sha>; for tiny runs (tests) also
// layers=8x8x8,4x4x16 (HxWxC, H = W), sgdParams, copyMiB, sgemmN, minTotalMs. No node:* imports.
import { registerTask } from './tasks.js';
import { kernelDefaults, runKernelBench, type KernelBenchOptions, type LayerShape } from '../bench/kernels.js';
import { formatKernels } from '../bench/report.js';

/** A page parameter (a form field, or the query in task mode) that is not of its expected form: the page names the view and the field. */
export class ParamError extends Error {
  constructor(
    readonly param: string,
    readonly problem: string,
  ) {
    super(`query parameter ${param} ${problem}`);
  }
}

export function intParam(params: URLSearchParams, name: string, fallback: number, min: number): number {
  const s = params.get(name);
  if (s === null || s === '') return fallback;
  const v = Number(s);
  if (!Number.isInteger(v) || v < min) throw new ParamError(name, `must be an integer >= ${min}, got '${s}'`);
  return v;
}

export function numParam(params: URLSearchParams, name: string, fallback: number): number {
  const s = params.get(name);
  if (s === null || s === '') return fallback;
  const v = Number(s);
  if (!(v > 0 && Number.isFinite(v))) throw new ParamError(name, `must be a positive number, got '${s}'`);
  return v;
}

function layersParam(params: URLSearchParams): LayerShape[] | undefined {
  const s = params.get('layers');
  if (!s) return undefined;
  return s.split(',').map((l) => {
    const m = /^(\d+)x(\d+)x(\d+)$/.exec(l.trim());
    if (!m || m[1] !== m[2] || Number(m[1]) < 1 || Number(m[3]) < 1) throw new Error(`bench: layers must be HxWxC with H = W (e.g. 32x32x64), got '${l}'`);
    return { h: Number(m[1]), c: Number(m[3]) };
  });
}

/** The kernel benchmark's options from a page query (quick: the --quick defaults, else the full ones). */
export function kernelOptionsFromParams(p: URLSearchParams, quick: boolean, log: (line: string) => void): KernelBenchOptions {
  const d = kernelDefaults(quick);
  return {
    ...d,
    quick,
    batch: intParam(p, 'batch', d.batch, 1),
    reps: intParam(p, 'reps', d.reps, 1),
    warmup: intParam(p, 'warmup', d.warmup, 0),
    only: p.get('only') ?? '',
    layers: layersParam(p),
    sgdParams: intParam(p, 'sgdParams', d.sgdParams!, 1),
    copyMiB: numParam(p, 'copyMiB', d.copyMiB!),
    sgemmN: intParam(p, 'sgemmN', d.sgemmN!, 64),
    minTotalMs: intParam(p, 'minTotalMs', d.minTotalMs!, 0),
    wallClock: p.get('wallClock') === '1',
    runtime: `browser: ${navigator.userAgent}`,
    commit: p.get('commit') || null,
    log,
  };
}

registerTask(
  'bench',
  async (ctx) => {
    const result = await runKernelBench(
      ctx.rt,
      kernelOptionsFromParams(ctx.params, true, (line) => {
        ctx.log(`  ${line}`);
        ctx.progress(line);
      }),
    );
    const pre = document.createElement('pre');
    pre.textContent = formatKernels(result);
    ctx.output?.appendChild(pre);
    return { result };
  },
  { timestamps: true },
);
