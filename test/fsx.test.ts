// The file-system seam (src/util/fsx.ts): one function names the operation and the path of every
// file-system error the CLI prints (issue 20, defect 6), whole-line appends on a full disk
// (defect 5), and the smaller input checks of defect 13 that need no child process.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeFsError, listDir, notAFile, PathError, printableError, readFileChecked, statPath } from '../src/util/fsx.js';
import { parseFlags } from '../src/cli/args.js';
import { TRAIN_FLAGS, trainConfigFromFlags } from '../src/cli/train.js';
import { checkImageSize } from '../src/data/dataset.js';
import { readFashionMnist } from '../src/data/idx.js';
import { directoryFiles } from '../src/data/node_files.js';
import { loadDataset } from '../src/data/load.js';
import { DEFAULT_TRAIN, train } from '../src/train/trainer.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wrn-fsx-'));
const sysErr = (code: string, syscall: string, path?: string) => {
  const e = new Error(`${code}: some system text, ${syscall}${path ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  e.code = code;
  e.syscall = syscall;
  if (path) e.path = path;
  return e;
};
const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('did not throw');
};

describe('describeFsError: the operation, the path and what is wrong (issue 20, defect 6)', () => {
  it('maps the codes the CLI meets to words, keeping the code', () => {
    const cases: [string, RegExp][] = [
      ['EACCES', /^reading \/d\/f: permission denied \(EACCES\)$/],
      ['ELOOP', /^reading \/d\/f: too many levels of symbolic links \(a symlink loop\) \(ELOOP\)$/],
      ['EISDIR', /^reading \/d\/f: is a directory, expected a file \(EISDIR\)$/],
      ['ENOSPC', /^reading \/d\/f: no space left on the device \(ENOSPC\)$/],
      ['EROFS', /^reading \/d\/f: read-only file system \(EROFS\)$/],
      ['ENXIO', /^reading \/d\/f: no such device or address .*\(ENXIO\)$/],
    ];
    for (const [code, want] of cases) {
      const e = describeFsError(sysErr(code, 'open', '/d/f'), '/d/f', 'reading');
      expect(e).toBeInstanceOf(PathError);
      expect(e.message).toMatch(want);
      expect(e.code).toBe(code);
    }
    // A code the table does not know keeps the system's words, without Node's call and path.
    expect(describeFsError(sysErr('EWEIRD', 'open', '/d/f'), '/d/f', 'reading').message).toBe('reading /d/f: some system text (EWEIRD)');
    // Already described: unchanged.
    const done = new PathError('writing /x: no space left on the device (ENOSPC)', 'ENOSPC');
    expect(describeFsError(done, '/y', 'reading')).toBe(done);
  });
  it('printableError: a raw system error that reached the top is described with its call and path; other errors pass', () => {
    const dir = tmp();
    const raw = thrown(() => openSync(join(dir, 'nope', 'f'), 'r'));
    expect((printableError(raw) as Error).message).toBe(`opening ${join(dir, 'nope', 'f')}: no such file or directory (ENOENT)`);
    mkdirSync(join(dir, 'sub'));
    const rm = thrown(() => rmSync(join(dir, 'sub'), { force: true })); // Node's ERR_FS_EISDIR
    expect((printableError(rm) as Error).message).toBe(`removing ${join(dir, 'sub')}: is a directory, expected a file (EISDIR)`);
    const loop = join(dir, 'loop');
    symlinkSync(loop, loop);
    expect((printableError(thrown(() => readFileSync(loop))) as Error).message).toBe(`opening ${loop}: too many levels of symbolic links (a symlink loop) (ELOOP)`);
    const plain = new Error('not a file-system error');
    expect(printableError(plain)).toBe(plain);
  });
  it('statPath: null only when nothing is there; a symlink loop is an error naming the path, not "missing"', () => {
    const dir = tmp();
    expect(statPath(join(dir, 'none'))).toBeNull();
    writeFileSync(join(dir, 'file'), 'x');
    expect(statPath(join(dir, 'file', 'below'))).toBeNull(); // ENOTDIR: nothing there either
    symlinkSync(join(dir, 'b'), join(dir, 'a'));
    symlinkSync(join(dir, 'a'), join(dir, 'b'));
    expect(() => statPath(join(dir, 'a'), '--data')).toThrow(`--data ${join(dir, 'a')}: too many levels of symbolic links (a symlink loop) (ELOOP)`);
  });
  it('readFileChecked refuses a directory and a FIFO (reading one would wait forever) by name; listDir names the directory', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'settings.json'));
    expect(() => readFileChecked(join(dir, 'settings.json'), 'sweep settings')).toThrow(`sweep settings ${join(dir, 'settings.json')}: is a directory, expected a regular file`);
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() => readFileChecked(join(dir, 'fifo'), 'checkpoint')).toThrow(`checkpoint ${join(dir, 'fifo')}: is a FIFO (named pipe), expected a regular file`);
    expect(notAFile(join(dir, 'fifo'))).toBe('a FIFO (named pipe)');
    symlinkSync(join(dir, 'gone'), join(dir, 'dangling'));
    expect(notAFile(join(dir, 'dangling'))).toMatch(/symbolic link to nothing/);
    expect(() => listDir(join(dir, 'absent'), 'listing the data directory')).toThrow(`listing the data directory ${join(dir, 'absent')}: no such file or directory (ENOENT)`);
  });
});

describe('appendWhole on a full disk: the file ends where it did, no torn line (issue 20, defect 5)', () => {
  afterEach(() => {
    delete process.env.WRN_FAULT;
    vi.resetModules();
  });
  it('the failing append is undone and the error names the path', async () => {
    process.env.WRN_FAULT = 'enospc:log.jsonl@2'; // the second write of log.jsonl fails after half its bytes
    vi.resetModules();
    const { appendWhole } = await import('../src/util/fsx.js');
    const log = join(tmp(), 'log.jsonl');
    appendWhole(log, '{"step":1}\n');
    expect(() => appendWhole(log, '{"step":2,"loss":1.2345}\n')).toThrow(`writing ${log}: no space left on the device (ENOSPC)`);
    expect(readFileSync(log, 'utf8')).toBe('{"step":1}\n');
    appendWhole(log, '{"step":2}\n'); // the fault fires once
    expect(readFileSync(log, 'utf8')).toBe('{"step":1}\n{"step":2}\n');
  });
});

describe('smaller input checks (issue 20, defect 13)', () => {
  const cfg = (argv: string[]) => trainConfigFromFlags(parseFlags('train', argv, TRAIN_FLAGS));
  it('numbers are decimal (--lr 0x10 is refused) and integers exact (a seed above 2^53 is refused)', () => {
    expect(() => cfg(['--lr', '0x10'])).toThrow("wrn train: --lr must be a decimal number (0.1, -2, 1e-3), got '0x10'");
    expect(() => cfg(['--lr', '0b1'])).toThrow(/--lr must be a decimal number/);
    expect(() => cfg(['--seed', '9007199254740993'])).toThrow("wrn train: --seed must be an integer of magnitude at most 2^53 - 1 (9007199254740991), got '9007199254740993'");
    expect(cfg(['--lr', '1e-3', '--seed', '9007199254740991']).lr).toBe(1e-3);
    expect(cfg(['--lr', '.5']).lr).toBe(0.5);
  });
  it('native images under 4x4 are refused as --image-size 1..3 is, naming the data and the flag', async () => {
    expect(() => checkImageSize({ height: 3, width: 3, name: 'x-train' }, '--data /d')).toThrow(
      '--data /d: the images of x-train are 3x3, smaller than the 4x4 the network needs (its two stride-2 stages halve them twice); resize them with --image-size 4 or more',
    );
    expect(() => checkImageSize({ height: 4, width: 4, name: 'x-train' }, '--data /d')).not.toThrow();
    // The trainer refuses them before it touches the run directory.
    const dir = tinyIdx(3);
    const out = join(tmp(), 'run');
    const cfg = { ...DEFAULT_TRAIN, device: 'cpu' as const, batchSize: 4, evalBatchSize: 4, out, data: { source: dir, trainCount: 0, testCount: 0, imageSize: 0 } };
    await expect(train(cfg, loadDataset(cfg.data, 0), { log: () => {} })).rejects.toThrow(`--data ${dir}: the images of fashion-mnist-train are 3x3, smaller than the 4x4`);
    expect(existsSync(out)).toBe(false);
    expect(loadDataset({ ...cfg.data, imageSize: 4 }, 0).train.height).toBe(4);
  });
  it('--train-count and --test-count beyond the data are said, not clamped silently', () => {
    const d = loadDataset({ source: tinyIdx(6), trainCount: 100, testCount: 3, imageSize: 0 }, 0);
    expect(d.train.count).toBe(20);
    expect(d.note).toMatch(/--train-count 100 is more than the 20 training images there: all 20 are used/);
    expect(d.note).not.toMatch(/--test-count/);
  });
  it('a data file that is a FIFO (or a dangling link) is said as such, not as missing', () => {
    const dir = tinyIdx(6);
    rmSync(join(dir, 'train-labels-idx1-ubyte'));
    execFileSync('mkfifo', [join(dir, 'train-labels-idx1-ubyte')]);
    expect(() => readFashionMnist(directoryFiles(dir))).toThrow(`(${join(dir, 'train-labels-idx1-ubyte')} is a FIFO (named pipe), not a regular file)`);
  });
});

/** A directory of the four IDX files, 20 train and 5 test images of size x size. */
function tinyIdx(size: number): string {
  const dir = tmp();
  const u32 = (...v: number[]) => Buffer.concat(v.map((x) => Buffer.from([x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255])));
  const images = (n: number) => Buffer.concat([u32(0x803, n, size, size), Buffer.alloc(n * size * size, 7)]);
  const labels = (n: number) => Buffer.concat([u32(0x801, n), Buffer.from(Array.from({ length: n }, (_, i) => i % 10))]);
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(20));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(20));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(5));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(5));
  return dir;
}
