// `wrn train` as a user runs it, in a child process: killed (-9) between steps, mid-write of a
// checkpoint and before its rename, interrupted with SIGINT / SIGTERM, on a full disk, diverging,
// resumed with contradicting flags, two at once, and with output paths that cannot work. Each
// interrupted run, resumed, must leave the log, the summary and the curves of the uninterrupted run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { describeGpu } from './helpers/optest.js';

const ROOT = resolve(__dirname, '..');
const WRN = join(ROOT, 'bin', 'wrn.js');
// 4 steps of 8 per epoch, 3 epochs: a kill at step 6 is mid-epoch 2. On the reference backend
// (--device cpu): the trainer's logic is the same on both devices, and a CPU run of this size takes
// ~1 s where a WebGPU one spends ~25 s compiling shaders (the GPU trainer is tested in train.test.ts).
const T = ['--data', 'synthetic', '--image-size', '8', '--train-count', '32', '--test-count', '16', '--batch-size', '8', '--epochs', '3', '--seed', '3', '--eval-batch-size', '16', '--device', 'cpu'];
// Long enough (48 steps, ~4 s) that a signal sent after step 5 always lands mid-run.
const T_LONG = [...T, '--train-count', '64', '--epochs', '6'];
const tmp = () => mkdtempSync(join(tmpdir(), 'wrn-faults-'));

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function wrn(args: string[], env: Record<string, string> = {}, cwd = ROOT, timeoutMs = 120_000): Ran {
  const r = spawnSync(process.execPath, [WRN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** The run's record without what differs between any two runs: wall times, speeds, and the directory name. */
function record(dir: string): { log: unknown[]; summary: unknown; curves: Buffer } {
  const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const r = JSON.parse(l);
    delete r.seconds;
    if (r.type === 'config') delete r.out;
    return r;
  });
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8'));
  for (const k of ['seconds', 'imagesPerSecond', 'checkpoint']) delete s[k];
  delete s.config.out;
  for (const h of s.history) delete h.seconds;
  return { log, summary: s, curves: readFileSync(join(dir, 'curves.png')) };
}

function stepsLogged(dir: string): number {
  if (!existsSync(join(dir, 'log.jsonl'))) return 0;
  return readFileSync(join(dir, 'log.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"type":"step"')).length;
}

const noTemps = (dir: string) => expect(readdirSync(dir).filter((f) => /\.tmp/.test(f))).toEqual([]);

// The child processes run dist/: build it from these sources first.
beforeAll(() => {
  const b = spawnSync(process.execPath, [join(ROOT, 'tools', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`build failed: ${b.stderr}`);
}, 120_000);

describe('output paths that cannot work: one line naming the path, never a hang', () => {
  // These fail before any WebGPU work, so they run without an adapter too.
  const file = join(tmp(), 'a-file');
  writeFileSync(file, 'x');
  const cases: [string, string[], RegExp][] = [
    ['--out under /proc', ['--out', '/proc/wrn-test/run'], /--out \/proc\/wrn-test\/run: .*(kernel file system|no such file|not permitted)/],
    ['--out under /sys', ['--out', '/sys/wrn-test'], /--out \/sys\/wrn-test: /],
    ['--out is a file', ['--out', file], /--out .*a-file: .*is a file, not a directory/],
    ['--out is empty', ['--out', ''], /--out: the path is empty/],
    ['--out below a file', ['--out', join(file, 'run')], /--out .*a-file\/run: .*a-file is a file, not a directory/],
  ];
  for (const [name, args, want] of cases) {
    it(name, () => {
      const r = wrn(['train', ...T, ...args], {}, ROOT, 30_000);
      expect(r.signal).toBeNull(); // not killed by the timeout: no hang
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(want);
    });
  }
  it('signal, sweep and bench name a bad --out before working', () => {
    for (const cmd of [['signal', '--device', 'cpu', '--depth', '4'], ['sweep', '--device', 'cpu', '--data', 'synthetic'], ['bench', 'kernels', '--quick']]) {
      const r = wrn([...cmd, '--out', '/proc/wrn-test'], {}, ROOT, 60_000);
      expect(r.signal, cmd.join(' ')).toBeNull();
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr, cmd.join(' ')).toMatch(/--out \/proc\/wrn-test: /);
    }
  });
  it('--resume of a directory without a checkpoint, and of a missing file', () => {
    const dir = tmp();
    let r = wrn(['train', '--resume', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--resume .* is a directory without a checkpoint\.wrnckpt/);
    r = wrn(['train', '--resume', join(dir, 'nope.wrnckpt')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checkpoint .*nope\.wrnckpt: no such file/);
  });
  it('--alpha-init that is not a float32 is a usage error naming the flag', () => {
    const r = wrn(['train', ...T, '--variant', 'skipinit', '--alpha-init', '1e300']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--alpha-init must be a finite float32/);
  });
});

describe('wrn train under faults (child processes, reference backend)', () => {
  let reference: ReturnType<typeof record>;
  let referenceLong: ReturnType<typeof record>;
  beforeAll(() => {
    for (const [args, set] of [[T, (r: ReturnType<typeof record>) => (reference = r)], [T_LONG, (r: ReturnType<typeof record>) => (referenceLong = r)]] as const) {
      const dir = tmp();
      const r = wrn(['train', ...args, '--out', dir]);
      if (r.code !== 0) throw new Error(`reference run failed: ${r.stderr}`);
      set(record(dir));
    }
  }, 300_000);

  const killedThenResumed = (fault: string, expectTemp: boolean) => async () => {
    const dir = tmp();
    const first = wrn(['train', ...T, '--out', dir], { WRN_FAULT: fault });
    expect(first.signal).toBe('SIGKILL');
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    expect(() => loadCheckpoint(ckpt)).not.toThrow(); // the last complete checkpoint survived
    if (expectTemp) expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(true);
    const again = wrn(['train', '--resume', ckpt]);
    expect(again.code, again.stderr).toBe(0);
    expect(record(dir)).toEqual(reference);
    noTemps(dir);
  };
  it('kill -9 between steps mid-epoch, then resume: the same log, summary and curves', killedThenResumed('step@6', false), 300_000);
  it('kill -9 mid-write of a checkpoint, then resume', killedThenResumed('mid-write:checkpoint.wrnckpt@2', true), 300_000);
  it('kill -9 after the temporary is written, before its rename, then resume', killedThenResumed('before-rename:checkpoint.wrnckpt@2', true), 300_000);

  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${sig} checkpoints the current step, says how to resume, exits ${code}; the resume is the same run`, async () => {
      const dir = tmp();
      const child: ChildProcess = spawn(process.execPath, [WRN, 'train', ...T_LONG, '--out', dir], { cwd: ROOT });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      while (stepsLogged(dir) < 5) await new Promise((r) => setTimeout(r, 50));
      child.kill(sig);
      expect(await exited).toBe(code);
      expect(stderr).toMatch(new RegExp(`interrupted by ${sig} after \\d+ steps; resume with: wrn train --resume .*checkpoint\\.wrnckpt`));
      const h = loadCheckpoint<{ step: number }>(join(dir, 'checkpoint.wrnckpt')).header;
      expect(h.step).toBeGreaterThanOrEqual(5);
      const again = wrn(['train', '--resume', join(dir, 'checkpoint.wrnckpt')]);
      expect(again.code, again.stderr).toBe(0);
      expect(record(dir)).toEqual(referenceLong);
    }, 300_000);
  }

  it('--max-steps mid-epoch writes the checkpoint the summary names; resuming it finishes the same run', () => {
    const dir = tmp();
    const r = wrn(['train', ...T, '--out', dir, '--max-steps', '6']);
    expect(r.code, r.stderr).toBe(0);
    const named = /checkpoint (\S+\.wrnckpt)/.exec(r.stdout)?.[1];
    expect(named && existsSync(named)).toBe(true);
    expect(loadCheckpoint<{ step: number }>(named!).header.step).toBe(6);
    const again = wrn(['train', '--resume', named!, '--max-steps', '0']);
    expect(again.code, again.stderr).toBe(0);
    expect(record(dir)).toEqual(reference);
  }, 300_000);

  // A full disk (issue 20, defect 5): one line naming the path and what is kept; the last good
  // checkpoint kept, log.jsonl of whole lines, run.lock released, and the kept run resumes.
  const wholeLines = (dir: string) => {
    const text = readFileSync(join(dir, 'log.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    return text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number });
  };
  /** The lock released, the checkpoint of step 4 kept, and its resume the uninterrupted run. */
  const keptAndResumes = (dir: string, ckpt: string) => {
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    expect(loadCheckpoint<{ step: number }>(ckpt).header.step).toBe(4);
    const again = wrn(['train', '--resume', ckpt]);
    expect(again.code, again.stderr).toBe(0);
    expect(record(dir)).toEqual(reference);
  };
  it('a full disk while checkpointing: one line naming the file and the checkpoint kept; no temporary, no lock left; the resume is the same run', () => {
    const dir = tmp();
    const r = wrn(['train', ...T, '--out', dir], { WRN_FAULT: 'enospc:checkpoint.wrnckpt@2' }); // the second epoch's checkpoint
    expect(r.code).toBe(1);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    expect(r.stderr.trim()).toBe(
      `wrn: writing ${ckpt}: no space left on the device (ENOSPC); kept: the checkpoint of step 4 (${ckpt}; resume with wrn train --resume ${ckpt} once there is room), and ${join(dir, 'log.jsonl')} through step 8, every line whole`,
    );
    noTemps(dir);
    expect(wholeLines(dir).filter((l) => l.type === 'step')).toHaveLength(8);
    keptAndResumes(dir, ckpt);
  }, 300_000);
  it('a disk that fills up mid-line of the log: the torn line is undone, the last checkpoint kept, the lock released; the resume is the same run', () => {
    const dir = tmp();
    // Writes of log.jsonl: 1 the config line (atomic), 2-5 steps 1-4, 6 epoch 1, 7 step 5 (fails after half its bytes).
    const r = wrn(['train', ...T, '--out', dir], { WRN_FAULT: 'enospc:log.jsonl@7' });
    expect(r.code).toBe(1);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^wrn: writing ${join(dir, 'log.jsonl')}: no space left on the device \\(ENOSPC\\); kept: the checkpoint of step 4 \\(${ckpt}; resume with wrn train --resume ${ckpt} once there is room\\), and .*log\\.jsonl through step 4, every line whole`));
    const lines = wholeLines(dir);
    expect(lines.filter((l) => l.type === 'step').map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(lines[lines.length - 1].type).toBe('epoch');
    keptAndResumes(dir, ckpt);
  }, 300_000);
  it('a full disk when taking the lock: one line naming run.lock, no empty lock left behind; a fresh run that fails at its first step leaves nothing', () => {
    const dir = tmp();
    const r = wrn(['train', ...T, '--out', dir], { WRN_FAULT: 'enospc:run.lock' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`wrn: writing the lock ${join(dir, 'run.lock')}: no space left on the device (ENOSPC); the run did not start, and nothing of it was written`);
    expect(readdirSync(dir)).toEqual([]);
    const first = wrn(['train', ...T, '--out', dir], { WRN_FAULT: 'enospc:log.jsonl@2' }); // step 1's line
    expect(first.code).toBe(1);
    expect(first.stderr.trim()).toBe(`wrn: writing ${join(dir, 'log.jsonl')}: no space left on the device (ENOSPC); nothing is kept: the run had not finished a step (what it wrote is removed; run it again once there is room)`);
    expect(readdirSync(dir)).toEqual([]);
  }, 300_000);

  it('a diverging run exits 3 and never leaves a checkpoint with a NaN or an Inf', () => {
    for (const extra of [['--lr', '1e6'], ['--variant', 'fixup', '--lr', '1e6', '--checkpoint-every', '1', '--max-steps', '4']]) {
      const dir = tmp();
      const r = wrn(['train', ...T, '--out', dir, ...extra]);
      expect(r.code, `${extra.join(' ')}: ${r.stdout}\n${r.stderr}`).toBe(3);
      expect(r.stderr).toMatch(/training diverged (at|by) step \d+/);
      const ckpt = join(dir, 'checkpoint.wrnckpt');
      if (existsSync(ckpt)) expect(() => loadCheckpoint(ckpt)).not.toThrow(); // loading verifies finiteness
      const log = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const last = log[log.length - 1];
      expect(last.type).toBe('diverged');
      // The diverged step is the one after the last logged step.
      const steps = log.filter((l) => l.type === 'step');
      expect(last.step).toBe((steps.length ? steps[steps.length - 1].step : 0) + 1);
    }
  }, 300_000);

  it('a resume is the same run: contradicting flags are refused naming both values; data and directory come from the checkpoint', () => {
    const dir = tmp();
    expect(wrn(['train', ...T, '--out', dir, '--max-steps', '2']).code).toBe(0);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    let r = wrn(['train', '--resume', ckpt, '--depth', '16', '--variant', 'skipinit']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--depth 16 \(the checkpoint has 10\); --variant skipinit \(the checkpoint has bn\)/);
    r = wrn(['train', '--resume', ckpt, '--train-count', '64']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--data\/--train-count\/--test-count\/--image-size .*"trainCount":64.*the checkpoint has .*"trainCount":32/);
    // From another directory, without --out: it continues in the checkpoint's directory, on its data.
    const elsewhere = tmp();
    r = wrn(['train', '--resume', ckpt, '--max-steps', '4'], {}, elsewhere);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(elsewhere, 'runs'))).toBe(false);
    expect(stepsLogged(dir)).toBe(4);
    expect(r.stdout).toMatch(/synthetic: 32 train \/ 16 test images of 3x8x8/);
    expect(r.stdout).toMatch(/device cpu/); // the checkpoint's device, not the default
    expect(r.stdout).toMatch(/summary: WRN-10-1 bn on synthetic 8x8, 4 steps/);
  }, 300_000);

  it('two trainers on one directory: the second is refused naming the first; a fresh run over an old one needs --force', async () => {
    const dir = tmp();
    const holder = spawn('sleep', ['60']);
    const gone = new Promise((res) => holder.on('exit', res));
    try {
      writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: holder.pid, host: hostname(), started: 'now' }));
      const r = wrn(['train', ...T, '--out', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`run directory .* is in use by process ${holder.pid}`));
    } finally {
      holder.kill();
      await gone; // reaped, so its pid is really free
    }
    // The holder is gone: its lock is stale and is taken over.
    const ok = wrn(['train', ...T, '--out', dir, '--max-steps', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    const again = wrn(['train', ...T, '--out', dir, '--max-steps', '1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a run \(log\.jsonl, checkpoint\.wrnckpt, summary\.json\); resume it with --resume .* pass --force/);
    const forced = wrn(['train', ...T, '--out', dir, '--max-steps', '1', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(stepsLogged(dir)).toBe(1);
    expect(existsSync(join(dir, 'run.lock'))).toBe(false); // released on exit
    // A resume into a directory that holds another run is refused the same way (issue 20, defect 3).
    const other = tmp();
    const first = wrn(['train', ...T, '--out', other, '--max-steps', '1']);
    expect(first.code, first.stderr).toBe(0);
    const into = wrn(['train', '--resume', other, '--out', dir, '--max-steps', '2']);
    expect(into.code).toBe(1);
    expect(into.stderr).toMatch(/already holds another run \(log\.jsonl, checkpoint\.wrnckpt, summary\.json\); resuming .* into it would overwrite it: pass --force/);
    expect(stepsLogged(dir)).toBe(1); // untouched
    const intoForced = wrn(['train', '--resume', other, '--out', dir, '--max-steps', '2', '--force']);
    expect(intoForced.code, intoForced.stderr).toBe(0);
  }, 300_000);
});

describe('the adapter: SwiftShader when the system\'s Vulkan drivers give none; the user\'s ICD wins (issue 20, defect 1)', () => {
  // A driver manifest whose library does not exist: the Vulkan loader refuses it, as Dawn refuses
  // lavapipe or a desktop's drivers for hardware that is not there.
  const fakeIcdDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'wrn-icd-'));
    writeFileSync(join(dir, 'broken_icd.x86_64.json'), JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: '/nonexistent/libvulkan_broken.so', api_version: '1.3.0' } }));
    return dir;
  };
  const swiftshader = existsSync('/usr/lib/chromium/vk_swiftshader_icd.json');
  it.skipIf(!swiftshader)('a system driver that gives no adapter: SwiftShader is tried next, and said', () => {
    const r = wrn(['check', '--filter', 'addStats'], { VK_ICD_FILENAMES: '', VK_DRIVER_FILES: '', WRN_SYSTEM_ICD_DIRS: fakeIcdDir() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the system's Vulkan drivers \(.*broken_icd\.x86_64\.json\) gave no WebGPU adapter \(Dawn refused them\); using SwiftShader/);
    expect(r.stdout).toMatch(/1 passed, 0 failed/);
  }, 120_000);
  it('VK_ICD_FILENAMES set by the user wins: no fallback, and the error says what was tried', () => {
    const r = wrn(['check', '--filter', 'addStats'], { VK_ICD_FILENAMES: join(fakeIcdDir(), 'broken_icd.x86_64.json'), WRN_SYSTEM_ICD_DIRS: '' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No WebGPU adapter found/);
    expect(r.stderr).toMatch(/Tried: VK_ICD_FILENAMES\/VK_DRIVER_FILES=.*broken_icd\.x86_64\.json: none gave an adapter\./);
    expect(r.stderr).not.toMatch(/using SwiftShader/);
  }, 120_000);
});

describe('a run that cannot start leaves nothing behind (issue 20, defect 11)', () => {
  it('--image-size 1024: the activations that cannot be allocated are refused naming the flags, before the run directory is touched', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wrn-size-'));
    const r = wrn(['train', '--data', 'synthetic', '--image-size', '1024', '--device', 'cpu', '--out', join(dir, 'run')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stage 1's activations \[--batch-size, 16 x --width, --image-size, --image-size\] = \[\d+, 16, 1024, 1024\] would hold .* lower --batch-size, --width or --image-size/);
    expect(existsSync(join(dir, 'run', 'log.jsonl'))).toBe(false);
  });
});

describe('every file-system error names the operation and the path (issue 20, defect 6)', () => {
  const oneLine = (r: Ran, want: string | RegExp, code = 1) => {
    expect(r.signal).toBeNull(); // no hang
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    if (typeof want === 'string') expect(r.stderr.trim()).toBe(want);
    else expect(r.stderr.trim()).toMatch(want);
  };
  it('symlink loops: --data, --out and --resume say ELOOP with the path (not "no such directory")', () => {
    const dir = tmp();
    const loop = join(dir, 'loop');
    symlinkSync(join(dir, 'loop2'), loop);
    symlinkSync(loop, join(dir, 'loop2'));
    const why = 'too many levels of symbolic links (a symlink loop) (ELOOP)';
    oneLine(wrn(['train', ...T, '--data', loop, '--out', join(dir, 'run')], {}, ROOT, 30_000), `wrn: --data ${loop}: ${why}`);
    oneLine(wrn(['train', ...T, '--out', loop], {}, ROOT, 30_000), `wrn: --out ${loop}: ${why}`);
    oneLine(wrn(['train', '--resume', loop], {}, ROOT, 30_000), `wrn: --resume ${loop}: ${why}`);
  });
  it('a FIFO given as the checkpoint is refused by name, not read (which would wait forever)', () => {
    const fifo = join(tmp(), 'ck.wrnckpt');
    spawnSync('mkfifo', [fifo]);
    oneLine(wrn(['train', '--resume', fifo], {}, ROOT, 30_000), `wrn: checkpoint ${fifo}: is a FIFO (named pipe), expected a regular file`);
  });
  it('sweep: settings.json or runs.jsonl a directory, settings.json holding { or null: one line naming the file and the expected form', () => {
    const sweep = ['sweep', '--device', 'cpu', '--data', 'synthetic', '--depths', '10', '--variants', 'bn', '--lr-points', '1', '--batch-sizes', '8', '--epochs', '1', '--train-count', '16', '--test-count', '8'];
    const dirWith = (name: string, content: string | null) => {
      const d = tmp();
      if (content === null) mkdirSync(join(d, name));
      else writeFileSync(join(d, name), content);
      return d;
    };
    let d = dirWith('settings.json', null);
    oneLine(wrn([...sweep, '--out', d], {}, ROOT, 60_000), `wrn: sweep settings ${join(d, 'settings.json')}: is a directory, expected a regular file`);
    d = dirWith('runs.jsonl', null);
    oneLine(wrn([...sweep, '--out', d], {}, ROOT, 60_000), `wrn: sweep records ${join(d, 'runs.jsonl')}: is a directory, expected a regular file`);
    const expected = 'expected the JSON object of the settings every run of the sweep shares, as the sweep wrote it';
    d = dirWith('settings.json', '{');
    oneLine(wrn([...sweep, '--out', d], {}, ROOT, 60_000), new RegExp(`^wrn: sweep settings ${join(d, 'settings.json')}: not valid JSON \\(.*\\); ${expected} \\(\\{"epochs": 1, "width": 1, \\.\\.\\.\\}\\); delete it`));
    d = dirWith('settings.json', 'null');
    oneLine(wrn([...sweep, '--out', d], {}, ROOT, 60_000), new RegExp(`^wrn: sweep settings ${join(d, 'settings.json')}: holds null; ${expected}`));
  }, 120_000);
  it('run.lock or a file of the run a directory: named, with the operation', () => {
    const d = tmp();
    mkdirSync(join(d, 'run.lock'));
    oneLine(wrn(['train', ...T, '--out', d], {}, ROOT, 30_000), `wrn: lock file ${join(d, 'run.lock')}: is a directory, expected a regular file; the run did not start, and nothing of it was written`);
    const e = tmp();
    mkdirSync(join(e, 'log.jsonl'));
    oneLine(wrn(['train', ...T, '--out', e, '--force'], {}, ROOT, 30_000), `wrn: removing the earlier run's ${join(e, 'log.jsonl')}: is a directory, expected a file (EISDIR); the run did not start`);
  });

  // Permission denied: root reads everything, so as root the commands run as nobody (uid 65534).
  const asUser = (args: string[]) => {
    const root = process.getuid?.() === 0;
    const r = spawnSync(process.execPath, [WRN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, ...(root ? { uid: 65534, gid: 65534 } : {}) });
    return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  };
  const openDir = () => {
    const d = tmp();
    chmodSync(d, 0o777); // mkdtemp makes it 0700: the other user must reach it
    return d;
  };
  it('EACCES: an unreadable data file, an unreadable data directory, a read-only --out: one line each with the operation and the path', () => {
    const d = openDir();
    const data = join(d, 'data');
    mkdirSync(data);
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      const n = f.includes('images') ? 10 : 0;
      const head = f.includes('images') ? [0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 8, 0, 0, 0, 8] : [0, 0, 8, 1, 0, 0, 0, 10];
      writeFileSync(join(data, f), Buffer.concat([Buffer.from(head), Buffer.alloc(n ? 10 * 64 : 10, 1)]));
    }
    chmodSync(data, 0o755);
    chmodSync(join(data, 't10k-images-idx3-ubyte'), 0o000);
    const run = ['train', '--data', data, '--device', 'cpu', '--batch-size', '2', '--image-size', '0', '--train-count', '0', '--test-count', '0', '--max-steps', '1'];
    oneLine(asUser([...run, '--out', join(d, 'a')]), `wrn: reading data file ${join(data, 't10k-images-idx3-ubyte')}: permission denied (EACCES)`);
    chmodSync(data, 0o000);
    oneLine(asUser([...run, '--out', join(d, 'b')]), `wrn: listing the data directory ${data}: permission denied (EACCES)`);
    const ro = join(d, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    oneLine(asUser(['train', ...T, '--out', ro]), `wrn: --out ${ro}: permission denied (EACCES)`);
    oneLine(asUser(['train', ...T, '--out', join(ro, 'run')]), `wrn: --out ${join(ro, 'run')}: permission denied (EACCES)`);
  });
});

describe('smaller defects (issue 20, defect 13)', () => {
  it('a run lock from another host is not taken over silently: refused, saying how to clear it', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: 1, host: 'another-host.example', started: '2025-01-01T00:00:00Z' }));
    const r = wrn(['train', ...T, '--out', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `wrn: run directory ${dir} is locked by process 1 on host another-host.example (started 2025-01-01T00:00:00Z); this is ${hostname()}, which cannot tell whether that run is alive: if it is gone, delete ${join(dir, 'run.lock')}; otherwise wait for it or use another --out`,
    );
    expect(stepsLogged(dir)).toBe(0);
  });
  it('--resume of a finished run with a smaller --epochs is refused naming both; with its own --epochs it says there is nothing to train', () => {
    const dir = tmp();
    expect(wrn(['train', ...T, '--out', dir]).code).toBe(0);
    const ckpt = join(dir, 'checkpoint.wrnckpt');
    const r = wrn(['train', '--resume', dir, '--epochs', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`wrn: --epochs 1: checkpoint ${ckpt} has finished 3 epochs (step 12), past the 1 asked for; a resume can only continue a run: give --epochs 3 or more (or leave it out: the checkpoint's 3)`);
    const same = wrn(['train', '--resume', dir]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/the checkpoint has finished all 3 epochs \(step 12\): nothing to train/);
    expect(same.stdout).not.toMatch(/resumed at epoch/);
  }, 120_000);
});

// Two SIGINTs 50 ms apart after the first epoch's checkpoint: the first asks for a checkpoint
// at the end of the step, the second lands while that step runs. process.exit there ran the
// exit handlers (Dawn's destructors) with a GPU step in flight: exit 139 once in 7 tries. The
// second signal now ends the process by the signal's default action, in the kernel.
// On the reference backend a step and the checkpoint can end within those 50 ms (seen once on a
// clean clone: exit 130 by the first signal alone), so each step there waits 500 ms after it is
// logged (WRN_FAULT=slow:step:500): both signals arrive within that wait, every time.
const twice = async (device: string) => {
  const dir = tmp();
  const env = device === 'cpu' ? { ...process.env, WRN_FAULT: 'slow:step:500' } : process.env;
  const child = spawn(process.execPath, [WRN, 'train', ...T_LONG, '--device', device, '--out', dir], { cwd: ROOT, env });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let ended = false;
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) =>
    child.on('exit', (c, s) => {
      ended = true;
      res([c, s]);
    }),
  );
  while (!ended && stepsLogged(dir) < 10) await new Promise((r) => setTimeout(r, 20)); // epoch 1 (8 steps) is checkpointed
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const [code, signal] = await exited;
  return { dir, code, signal, stderr };
};
const check = ({ dir, code, signal, stderr }: Awaited<ReturnType<typeof twice>>) => {
  expect([code, signal], stderr).toEqual([null, 'SIGINT']); // not 130 from process.exit, never SIGSEGV
  const ckpt = join(dir, 'checkpoint.wrnckpt');
  expect(stderr).toMatch(`wrn train: SIGINT again: quitting at once, without finishing the step in flight; the last checkpoint written is kept: resume with wrn train --resume ${ckpt}`);
  expect(loadCheckpoint<{ step: number }>(ckpt).header.step).toBeGreaterThanOrEqual(8); // valid (CRC, finite), whole
  const log = readFileSync(join(dir, 'log.jsonl'), 'utf8');
  expect(log.endsWith('\n')).toBe(true);
  log.trim().split('\n').forEach((l) => JSON.parse(l));
  return ckpt;
};

describe('two signals during wrn train: the second quits at once, never through process.exit mid-step (issue 20, defect 8)', () => {
  it('reference backend, three times: killed by SIGINT, the checkpoint valid, the log whole; the resume is the uninterrupted run', async () => {
    const reference = tmp();
    expect(wrn(['train', ...T_LONG, '--out', reference]).code).toBe(0);
    for (let i = 0; i < 3; i++) {
      const ckpt = check(await twice('cpu'));
      if (i === 0) {
        const again = wrn(['train', '--resume', ckpt]);
        expect(again.code, again.stderr).toBe(0);
        expect(record(dirname(ckpt))).toEqual(record(reference));
      }
    }
  }, 300_000);
});

describeGpu('two signals during wrn train on WebGPU (issue 20, defect 8)', () => {
  it('the second SIGINT while a Dawn step is in flight: killed by SIGINT, never a crash; the checkpoint valid', async () => {
    const r = await twice('webgpu');
    // A fast adapter can finish the step and the checkpoint the first signal asked for within the
    // 50 ms before the second one: then the run ends as one SIGINT ends it (exit 130, "interrupted"),
    // which is no crash either (seen once on a clean clone here). The reference backend's test above
    // exercises the second signal's path every time.
    if (r.code === 130 && r.signal === null) {
      expect(r.stderr).toMatch(/wrn train: interrupted by SIGINT after \d+ steps; resume with: wrn train --resume /);
      expect(loadCheckpoint<{ step: number }>(join(r.dir, 'checkpoint.wrnckpt')).header.step).toBeGreaterThanOrEqual(8);
    } else check(r);
  }, 300_000);
  it('wrn signal: SIGINT says that nothing is written before it ends (issue 20, defect 13)', async () => {
    const out = tmp();
    const child = spawn(process.execPath, [WRN, 'signal', '--nets', 'fc-bn', '--depth', '3000', '--out', out], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    let ended = false;
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) =>
      child.on('exit', (c, s) => {
        ended = true;
        res([c, s]);
      }),
    );
    while (!ended && !/fc-bn: block \d+\/3000/.test(stdout)) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited, stderr).toEqual([null, 'SIGINT']);
    expect(stderr).toContain(`wrn signal: SIGINT: stopped before every net was measured; nothing is written (signal.csv, signal.json and signal.png in ${out} are written at the end)`);
    expect(readdirSync(out)).toEqual([]);
  }, 300_000);
});
