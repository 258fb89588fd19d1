// `wrn sweep slurm`: the sweep as a Slurm job array (one task per shard, each `wrn sweep --shard
// I/N` into the shared directory) and a collect job that makes the table once the array is over,
// whether its tasks succeeded or not (afterany). Slurm schedules; wrn only writes the scripts.

export interface SlurmOptions {
  /** Array size N: task I runs shard I of N. */
  shards: number;
  /** Only these shards (a rerun: the ones with work left); all when absent. */
  indices?: number[];
  cpusPerTask: number;
  /** GPUs per task (--gres=gpu:G); 0 for none. */
  gpus: number;
  /** Time limit per task, in Slurm's form (e.g. 2:00:00); empty: the partition's default. */
  time: string;
  partition: string;
  /** The sweep directory, absolute (tasks run on other machines, from the submit directory). */
  out: string;
  /** How a task starts wrn: node and bin/wrn.js, absolute. */
  wrn: string[];
  /** The grid's flags, as given (without --out, --shard and the slurm flags). */
  sweepArgs: string[];
  /** Run `wrn check` first in each task, so a node without a working adapter fails at once with its reason. */
  checkFirst: boolean;
  /** The directory tasks start in. */
  workdir: string;
}

/** A word for bash: bare when it is safe, else in single quotes. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const line = (words: string[]) => words.map(shellQuote).join(' ');

/** "0-3" or "1,3": Slurm's --array list for these indices. */
export function arraySpec(indices: number[]): string {
  const sorted = [...indices].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function header(o: SlurmOptions, name: string, log: string, extra: string[]): string[] {
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${name}`,
    ...extra,
    `#SBATCH --cpus-per-task=${o.cpusPerTask}`,
    ...(o.gpus > 0 ? [`#SBATCH --gres=gpu:${o.gpus}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    `#SBATCH --output=${log}`,
    `#SBATCH --chdir=${o.workdir}`,
    'set -euo pipefail',
  ];
}

/** The array job's script: task I runs shard I of N (the fixed N, so a partial resubmission keeps every point's shard). */
export function arrayScript(o: SlurmOptions): string {
  const indices = o.indices ?? Array.from({ length: o.shards }, (_, i) => i);
  return [
    ...header(o, 'wrn-sweep', `${o.out}/slurm/task-%A_%a.out`, [`#SBATCH --array=${arraySpec(indices)}`]),
    `# ${o.shards} shards of the grid; written by wrn sweep slurm`,
    ...(o.checkFirst ? [`${line([...o.wrn, 'check'])} > ${shellQuote(`${o.out}/slurm/check-`)}"$SLURM_ARRAY_TASK_ID".txt`] : []),
    `${line([...o.wrn, 'sweep', ...o.sweepArgs, '--out', o.out])} --shard "$SLURM_ARRAY_TASK_ID/${o.shards}"`,
    '',
  ].join('\n');
}

/** The collect job's script: the merged table, claims and plot from whatever the shards finished. */
export function collectScript(o: SlurmOptions): string {
  return [...header({ ...o, cpusPerTask: 1, gpus: 0 }, 'wrn-sweep-collect', `${o.out}/slurm/collect-%j.out`, []), line([...o.wrn, 'sweep', ...o.sweepArgs, '--out', o.out, '--collect']), ''].join('\n');
}
