// Numbers, plain-text tables and the conditions header of the benchmark reports (terminal and page
// alike). Pure code.
import type { RunInfo } from './report.js';

export function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  return v.toPrecision(digits);
}

export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(1)}%`;
}

/** A plain text table: first row is the header; numeric-looking cells are right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = /^[-+]?[\d.]+(e[-+]?\d+)?(%|x)?$|^-$/;
  const line = (r: string[]) => r.map((cell, c) => (c > 0 && numeric.test(cell) ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Where a result was measured, in lines. */
export function header(r: RunInfo): string[] {
  return [
    `adapter: ${r.adapterName}`,
    `runtime: ${r.runtime}`,
    `timing:  ${r.method === 'timestamp-query' ? 'GPU timestamp queries (each kernel in its own compute pass)' : 'wall clock (several dispatches per submit; no timestamp-query on this adapter)'}`,
    ...r.notes.map((n) => `note:    ${n}`),
    // Only a stopped run (the page's Stop) has it, so a complete run's report is unchanged.
    ...(r.partial ? [`PARTIAL: stopped before ${r.stoppedAt ?? '?'}; only what finished before it is reported`] : []),
  ];
}
