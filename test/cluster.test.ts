// `wrn sweep` over several processes: shards writing one directory at once (one of them killed
// with -9 and rerun) give the table of one process; --collect reports what is done and which shard
// failed; and on a real single-node Slurm cluster (tools/slurm/start.sh), the job array and the
// collect job that `wrn sweep slurm --submit` writes produce that same table. The runs use the
// reference backend (--device cpu): the sweep's logic is the same on both devices, and a tiny CPU
// run takes a second where a WebGPU process spends ~10 s compiling shaders.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arraySpec, arrayScript, shellQuote } from '../src/sweep/slurm.js';
import { parseShard, readSweepRecords, shardFromEnv, shardPoints, type RunRecord } from '../src/sweep/sweep.js';

const ROOT = resolve(__dirname, '..');
const WRN = join(ROOT, 'bin', 'wrn.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'wrn-cluster-'));
// 2 arms x 2 rates x 2 seeds = 8 points, 2 steps each at depth 10 on 8x8 images.
const GRID = ['--device', 'cpu', '--data', 'synthetic', '--depths', '10', '--variants', 'bn,skipinit', '--lr-min', '0.05', '--lr-max', '0.1', '--lr-points', '2', '--seeds', '2', '--best-k', '2', '--batch-sizes', '8', '--train-count', '16', '--test-count', '8', '--epochs', '1'];

function wrn(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [WRN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A run's record without what differs between two processes (wall time). */
const comparable = (rs: RunRecord[]) => rs.map(({ seconds: _, ...r }) => r).sort((a, b) => a.key.localeCompare(b.key));

beforeAll(() => {
  const b = spawnSync(process.execPath, [join(ROOT, 'tools', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
}, 120_000);

let reference: { records: ReturnType<typeof comparable>; table: string };
function oneProcess(grid: string[]) {
  const out = tmp();
  const r = wrn(['sweep', ...grid, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { records: comparable(readSweepRecords(out).records), table: readFileSync(join(out, 'table.md'), 'utf8') };
}

describe('shards', () => {
  it('parses I/N, reads Slurm and Grid Engine task arrays, and splits the grid by index mod N', () => {
    expect(parseShard('1/3')).toEqual({ index: 1, count: 3 });
    for (const bad of ['3/3', '1', '-1/2', 'a/b', '0/0']) expect(() => parseShard(bad)).toThrow(/--shard must be I\/N with 0 <= I < N/);
    expect(shardFromEnv({ SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '5', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 2, count: 4 });
    expect(shardFromEnv({ SGE_TASK_ID: '5', SGE_TASK_FIRST: '1', SGE_TASK_LAST: '9', SGE_TASK_STEPSIZE: '2' })).toEqual({ index: 2, count: 5 });
    expect(shardFromEnv({})).toBeNull();
    const grid = { depths: [10], variants: ['bn', 'skipinit'], lrs: [0.1, 0.2, 0.3], batchSizes: [8], seeds: 1, bestK: 1 };
    const parts = [0, 1, 2, 3].map((index) => shardPoints(grid, { index, count: 4 }).map((p) => p.key));
    expect(parts.flat().sort()).toEqual(shardPoints(grid, null).map((p) => p.key).sort());
    expect(parts.map((p) => p.length)).toEqual([2, 2, 1, 1]);
  });

  it('two shards at once in one directory, one killed with -9 and rerun: the table of one process; --collect says what is done', async () => {
    reference = oneProcess(GRID);
    const out = tmp();
    const start = (i: number) => spawn(process.execPath, [WRN, 'sweep', ...GRID, '--out', out, '--shard', `${i}/2`], { cwd: ROOT, stdio: 'ignore' });
    const done = (c: ReturnType<typeof spawn>) => new Promise<number | null>((res) => c.on('exit', (code) => res(code)));
    const a = start(0);
    const b = start(1);
    // Kill shard 1 once it has recorded its first run (mid-sweep: it has four).
    const own = join(out, 'runs.1-of-2.jsonl');
    for (let t = 0; t < 600 && !(existsSync(own) && readFileSync(own, 'utf8').trim()); t++) await new Promise((r) => setTimeout(r, 50));
    b.kill('SIGKILL');
    await done(b);
    expect(await done(a)).toBe(0);
    const partial = wrn(['sweep', ...GRID, '--out', out, '--collect']);
    const recorded = readSweepRecords(out).records.length;
    expect(recorded).toBeLessThan(8);
    expect(partial.stdout).toContain(`${recorded} of 8 grid points done (runs.0-of-2.jsonl, runs.1-of-2.jsonl in ${out}); 0 failed`);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toMatch(new RegExp(`^PARTIAL: ${recorded} of 8 grid points done`));
    // The rerun of shard 1 does only what it had left.
    const again = wrn(['sweep', ...GRID, '--out', out, '--shard', '1/2']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`shard 1 of 2: 4 of the grid's 8 runs, ${recorded - 4} already done, ${8 - recorded} to run`));
    const full = wrn(['sweep', ...GRID, '--out', out, '--collect']);
    expect(full.stdout).toContain('8 of 8 grid points done');
    expect(comparable(readSweepRecords(out).records)).toEqual(reference.records);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toBe(reference.table);
  }, 300_000);

  it('a shard with other settings is refused; a failed shard is reported by --collect with its error until it finishes', () => {
    const out = tmp();
    expect(wrn(['sweep', ...GRID, '--out', out, '--shard', '0/2']).code).toBe(0);
    const other = wrn(['sweep', ...GRID, '--epochs', '2', '--out', out, '--shard', '1/2']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/holds runs made with other settings \(epochs: 1 there, 2 now\)/);
    // A run directory that cannot be written fails the run (not a divergence): the shard records why.
    const blocked = join(out, 'runs', 'bn_d10_b8_lr0.1_s1'); // shard 1's second point
    writeFileSync(blocked, 'a file where the run directory goes');
    const failed = wrn(['sweep', ...GRID, '--out', out, '--shard', '1/2']);
    expect(failed.code).not.toBe(0);
    const c = wrn(['sweep', ...GRID, '--out', out, '--collect']);
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/5 of 8 grid points done .*; 1 failed:\n {2}shard 1-of-2, run bn_d10_b8_lr0\.1_s1 \(.*\): .*runs\/bn_d10_b8_lr0\.1_s1/);
  }, 300_000);
});

describe('wrn sweep slurm: the scripts', () => {
  it('an array of the shards with work left, each task its shard of the fixed N; a collect job; quoted words', () => {
    expect(arraySpec([0, 1, 2, 5, 7, 8])).toBe('0-2,5,7-8');
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    const script = arrayScript({ shards: 4, indices: [1, 3], cpusPerTask: 2, gpus: 1, time: '1:00:00', partition: 'gpu', out: '/data/sw', wrn: ['/usr/bin/node', '/opt/wrn/bin/wrn.js'], sweepArgs: ['--depths', '16,28'], checkFirst: true, workdir: '/home/u' });
    expect(script).toContain('#SBATCH --array=1,3\n');
    expect(script).toContain('#SBATCH --gres=gpu:1\n#SBATCH --time=1:00:00\n#SBATCH --partition=gpu\n');
    expect(script).toContain('/usr/bin/node /opt/wrn/bin/wrn.js check > /data/sw/slurm/check-"$SLURM_ARRAY_TASK_ID".txt\n');
    expect(script).toContain('/usr/bin/node /opt/wrn/bin/wrn.js sweep --depths 16,28 --out /data/sw --shard "$SLURM_ARRAY_TASK_ID/4"\n');
  });

  it('without --submit: the scripts and the sbatch commands; after some shards finished, only the others', () => {
    const out = tmp();
    const r = wrn(['sweep', 'slurm', ...GRID, '--shards', '4', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('8 grid points, 0 already done; 4 of 4 shards have work left (array 0-3)');
    expect(r.stdout).toMatch(/jid=\$\(sbatch --parsable .*sweep\.sbatch\)\n {2}sbatch --dependency=afterany:\$jid .*collect\.sbatch/);
    expect(readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8')).toContain(`sweep ${GRID.join(' ')} --out ${out} --shard "$SLURM_ARRAY_TASK_ID/4"`);
    expect(wrn(['sweep', ...GRID, '--out', out, '--shard', '2/4']).code).toBe(0);
    const rerun = wrn(['sweep', 'slurm', ...GRID, '--shards', '4', '--out', out]);
    expect(rerun.stdout).toContain('8 grid points, 2 already done; 3 of 4 shards have work left (array 0-1,3)');
  }, 120_000);
});

// A real cluster: the Debian packages slurmctld slurmd slurm-client munge (npm run setup installs
// them). Missing, the test fails saying how to install them; WRN_TESTS_NO_SLURM=1 skips it, loudly.
const HAVE_SLURM = ['sbatch', 'scontrol'].every((b) => spawnSync('which', [b]).status === 0) && ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged'].every(existsSync);
const NO_SLURM = process.env.WRN_TESTS_NO_SLURM === '1';
if (NO_SLURM) console.warn('[wrn-webgpu tests] WRN_TESTS_NO_SLURM=1: SKIPPING the real Slurm test');

describe.skipIf(NO_SLURM)('on a real single-node Slurm cluster', () => {
  const dir = tmp();
  let env: Record<string, string> = {};
  beforeAll(() => {
    if (!HAVE_SLURM) throw new Error('Slurm is not installed: apt-get install slurmctld slurmd slurm-client munge (npm run setup does), or WRN_TESTS_NO_SLURM=1 to skip this test');
    const s = spawnSync('bash', [join(ROOT, 'tools', 'slurm', 'start.sh'), join(dir, 'cluster')], { encoding: 'utf8', timeout: 60_000 });
    if (s.status !== 0) throw new Error(`tools/slurm/start.sh failed: ${s.stderr}`);
    env = { SLURM_CONF: join(dir, 'cluster', 'slurm.conf') };
  }, 90_000);
  afterAll(() => {
    spawnSync('bash', [join(ROOT, 'tools', 'slurm', 'stop.sh'), join(dir, 'cluster')], { timeout: 60_000 });
  }, 90_000);

  it('wrn sweep slurm --submit: a 2-task array and the collect job give the table of one process', async () => {
    // Fashion-MNIST where installed (the "a few images at 8x8"), the synthetic set elsewhere.
    const grid = GRID.map((a) => (a === 'synthetic' ? 'auto' : a));
    const ref = oneProcess(grid);
    const out = join(dir, 'sweep');
    const t0 = performance.now();
    const sub = wrn(['sweep', 'slurm', ...grid, '--shards', '2', '--cpus-per-task', '1', '--check-first=false', '--submit', '--out', out], env);
    expect(sub.code, sub.stderr).toBe(0);
    const ids = JSON.parse(sub.stdout.trim().split('\n').pop()!) as { array: string; collect: string };
    let state = '';
    for (let t = 0; t < 1200; t++) {
      state = /JobState=(\w+)/.exec(spawnSync('scontrol', ['show', 'job', ids.collect], { env: { ...process.env, ...env }, encoding: 'utf8' }).stdout)?.[1] ?? '';
      if (['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT'].includes(state)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`[slurm] array ${ids.array} and collect ${ids.collect} finished in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${state}`);
    expect(state).toBe('COMPLETED');
    expect(readSweepRecords(out).files).toEqual(['runs.0-of-2.jsonl', 'runs.1-of-2.jsonl']);
    expect(comparable(readSweepRecords(out).records)).toEqual(ref.records);
    expect(readFileSync(join(out, 'table.md'), 'utf8')).toBe(ref.table);
  }, 300_000);
});
