// Node side of the benchmarks: result files (JSON, written atomically), their charts (PNG), the git
// commit, and reading files back for `wrn bench compare`. Never imported by the page.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { savePng } from '../plot/png.js';
import { kernelChart, stepChart } from './charts.js';
import { readFileChecked, writeFileAtomic } from '../util/fsx.js';
import { BenchFileError, resultBaseName, validateResult, type BenchResult } from './report.js';

export { kernelChart, stepChart } from './charts.js';
export { slug, resultBaseName } from './report.js';

export const DEFAULT_RESULTS_DIR = 'bench/results';

/** The commit the code came from: $WRN_COMMIT (the GPU bundle sets it), else git, else null. */
export function gitCommit(): string | null {
  if (process.env.WRN_COMMIT) return process.env.WRN_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** Write `<dir>/<base>.json` (atomically) and its chart `<dir>/<base>.png`; returns both paths. */
export function writeResult(r: BenchResult, dir: string): { json: string; png: string } {
  const base = join(dir, resultBaseName(r));
  const json = `${base}.json`;
  writeFileAtomic(json, [new TextEncoder().encode(JSON.stringify(r, null, 2) + '\n')]);
  const png = `${base}.png`;
  savePng(r.kind === 'wrn-bench-kernels' ? kernelChart(r) : stepChart(r), png);
  return { json, png };
}

/** Read and validate a result file; errors name the file. */
export function readResult(file: string): BenchResult {
  let text: string;
  try {
    text = readFileChecked(file, 'bench result').toString('utf8');
  } catch (e) {
    throw new BenchFileError((e as Error).message);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new BenchFileError(`${file}: not valid JSON (${(e as Error).message}); expected a JSON file written by 'wrn bench kernels' or 'wrn bench step'`);
  }
  return validateResult(value, file);
}
