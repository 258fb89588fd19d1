// Bad flags and sizes fail at start, naming the flag, before anything is written or allocated.
// CPU only and fast: WebGPU, the browser and training are mocked to fail loudly if reached, so a
// check that comes too late fails the test instead of starting a GPU or a long run.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

vi.mock('../src/index.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/index.js')>()),
  initWebGPU: () => {
    throw new Error('test: initWebGPU must not be reached');
  },
}));
vi.mock('../src/web/runner.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/web/runner.js')>()),
  runInBrowser: () => {
    throw new Error('test: the browser must not be launched');
  },
}));
vi.mock('../src/train/trainer.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/train/trainer.js')>()),
  train: () => {
    throw new Error('test: training must not start');
  },
}));

import { UsageError, parseFlags } from '../src/cli/args.js';
import { sweepCommand } from '../src/cli/sweep.js';
import { checkCommand } from '../src/cli/check.js';
import { benchCommand } from '../src/cli/bench.js';
import { SIGNAL_FLAGS, signalConfigFromFlags } from '../src/cli/signal.js';
import { parseBrowserFlags } from '../src/cli/browser.js';
import { readRuns, runKey, SweepRecordError } from '../src/sweep/sweep.js';
import { checkCases, selectChecks } from '../src/check.js';
import { makeSynthetic, SYNTHETIC_MAX_COUNT } from '../src/data/synthetic.js';
import { loadDataset } from '../src/data/load.js';
import { DataFormatError } from '../src/data/dataset.js';
import { WideResNet, wrnParameterCount, MAX_WRN_PARAMETERS, VARIANTS } from '../src/model/wrn.js';
import { WRN16_4_PARAMS } from '../src/bench/kernels.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'wrn-validation-'));

/** The error `f` throws (or rejects with), or fails the test. */
async function errorOf(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, got none');
}

describe('wrn sweep validates every flag before writing anything', () => {
  // Small enough that a check which comes too late fails on the mocked train(), not after a run.
  const small = ['--device', 'cpu', '--data', 'synthetic', '--train-count', '32', '--test-count', '8', '--depths', '10', '--variants', 'bn', '--lr-points', '1', '--batch-sizes', '8'];
  const cases: [string[], RegExp, (new (m: string) => Error)?][] = [
    [['--width', '0'], /--width must be in \[1, ∞\], got 0/],
    [['--epochs', '0'], /--epochs must be in \[1, ∞\], got 0/],
    [['--lr-decay-every', '0'], /--lr-decay-every must be in \[1, ∞\], got 0/],
    [['--seeds', '0'], /--seeds must be in \[1, ∞\], got 0/],
    [['--seeds', '2', '--best-k', '3'], /--best-k must be in \[1, 2\], got 3/],
    [['--lr-points', '0'], /--lr-points must be in \[1, ∞\], got 0/],
    [['--lr-min', '0'], /--lr-min must be > 0, got 0/],
    [['--lr-min', '0.1', '--lr-max', '0.01'], /--lr-max must be at least --lr-min \(0\.1\), got 0\.01/],
    [['--train-count', '-1'], /--train-count must be in \[0, 10000000\], got -1/],
    [['--test-count', '-5'], /--test-count must be in \[0, 10000000\], got -5/],
    [['--image-size', '2'], /--image-size must be 0 \(native\) or at least 4 .*got 2/],
    [['--image-size', '5000'], /--image-size must be in \[0, 1024\], got 5000/],
    [['--depths', ''], /--depths is empty/],
    [['--variants', ''], /--variants is empty/],
    [['--batch-sizes', ''], /--batch-sizes is empty/],
    [['--depths', '12'], /--depths must be 6N \+ 4 with N >= 1 \(10, 16, 22, 28, 40, \.\.\.\), got 12/],
    [['--variants', 'bn,foo'], /--variants: 'foo' is not VARIANT/],
    [['--batch-sizes', '0'], /--batch-sizes: 0 is not a positive integer/],
    [['--train-count', '16', '--batch-sizes', '8,32'], /--batch-sizes 32 is larger than the 16 training images \(--train-count\)/],
    // 0: all, which for the synthetic set is its default 768: the check runs after loading, still before writing.
    [['--train-count', '0', '--batch-sizes', '1000'], /--batch-sizes 1000 is larger than the 768 training images \(--train-count\)/],
    [['--width', '10000'], /--depths 10 --width 10000: WRN-10-10000 would have [\d,]+ parameters \([\d,.]+ GiB\); lower --width or --depth/],
    [['--depths', '10,1000', '--width', '10'], /--depths 1000 --width 10: WRN-1000-10 would have/],
    // The data's own errors name the flag too (wrn: ..., exit 1), before anything is written.
    [['--train-count', '2000000'], /^--data synthetic --train-count 2000000: the synthetic set is capped at 200000 images per split; lower --train-count$/, DataFormatError],
  ];
  for (const [argv, msg, kind = UsageError] of cases) {
    it(argv.join(' ') || '(empty)', async () => {
      const out = tmp();
      const err = await errorOf(() => sweepCommand([...small, ...argv, '--out', out]));
      expect(err.message).toMatch(msg);
      expect(err, err.message).toBeInstanceOf(kind);
      if (kind === UsageError) expect(err.message).toMatch(/^wrn sweep: /);
      expect(existsSync(join(out, 'settings.json'))).toBe(false);
    });
  }

  it('a valid grid, --train-count 0 included, gets past validation (to the mocked train)', async () => {
    const out = tmp();
    const log = console.log;
    console.log = () => {};
    try {
      await expect(sweepCommand([...small, '--train-count', '0', '--out', out])).rejects.toThrow(/training must not start/);
    } finally {
      console.log = log;
    }
    expect(existsSync(join(out, 'settings.json'))).toBe(true);
  });
});

describe('readRuns', () => {
  const rec = (over: Record<string, unknown> = {}) => JSON.stringify({ key: runKey('bn', 10, 32, 0.1, 0), variant: 'bn', depth: 10, batchSize: 32, lr: 0.1, seed: 0, diverged: false, testAccuracy: 0.5, trainLoss: 1, steps: 2, seconds: 1, message: '', ...over });
  const file = (text: string) => {
    const path = join(tmp(), 'runs.jsonl');
    writeFileSync(path, text);
    return path;
  };
  const bad: [string, string, RegExp][] = [
    ['a null line', 'null', /:2: not a run record: expected a JSON object, got null/],
    ['an empty object', '{}', /:2: not a run record: missing or mistyped fields: key \(string\), variant \(string\)/],
    ['a wrong key', rec({ key: 'bn_d10_b32_lr0.2_s0' }), /:2: not a run record: key 'bn_d10_b32_lr0.2_s0' does not match its fields/],
    ['invalid JSON in the middle', '{"key": "cut', /:2: not valid JSON/],
    // Issue 20, defect 10: values out of range, and the same run twice.
    ['an accuracy of 5', rec({ key: runKey('bn', 10, 32, 0.2, 0), lr: 0.2, testAccuracy: 5 }), /:2: not a run record: testAccuracy 5 is not a fraction in \[0, 1\]/],
    ['a finished run without a loss', rec({ key: runKey('bn', 10, 32, 0.2, 0), lr: 0.2, trainLoss: null }), /:2: not a run record: trainLoss null is not a finite number >= 0/],
    ['a negative loss in inference mode', rec({ key: runKey('bn', 10, 32, 0.2, 0), lr: 0.2, trainLossInference: -1 }), /:2: not a run record: trainLossInference -1 is not a finite number >= 0, null or absent/],
    ['a duplicate', rec(), /:2: run bn_d10_b32_lr0\.1_s0 is recorded again \(first on line 1\)/],
  ];
  for (const [what, line, msg] of bad) {
    it(`${what} is an error naming the file and the line`, () => {
      const path = file(`${rec()}\n${line}\n${rec({ seed: 1, key: runKey('bn', 10, 32, 0.1, 1) })}\n`);
      const err = (() => {
        try {
          readRuns(path);
        } catch (e) {
          return e as Error;
        }
        throw new Error('readRuns accepted a bad line');
      })();
      expect(err).toBeInstanceOf(SweepRecordError);
      expect(err.message).toContain(`${path}:2:`);
      expect(err.message).toMatch(msg);
    });
  }

  it('a diverged run has null accuracy and loss', () => {
    expect(readRuns(file(`${rec({ diverged: true, testAccuracy: null, trainLoss: null })}\n`))).toHaveLength(1);
  });

  it('a torn last line (no newline) is ignored; line numbers count blank lines', () => {
    expect(readRuns(file(`${rec()}\n{"key": "bn_d10`))).toHaveLength(1);
    expect(readRuns(file(`${rec()}\n`))).toHaveLength(1);
    expect(() => readRuns(file(`${rec()}\n\n{"key": "bn_d10\n`))).toThrow(/runs\.jsonl:3: not valid JSON/);
  });
});

describe('wrn check --filter', () => {
  it('a filter that matches no check is an error listing some names, before WebGPU is opened', async () => {
    const err = await errorOf(() => checkCommand(['--filter', 'nomatch']));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^wrn check: --filter: no kernel check matches 'nomatch' \(\d+ checks; e\.g\. .+\)/);
    expect(err.message).toContain(checkCases()[0].name);
  });

  it('selectChecks picks by substring and refuses an empty selection', () => {
    const all = checkCases();
    expect(all.length).toBeGreaterThan(5);
    expect(selectChecks('')).toHaveLength(all.length);
    const name = all[0].name;
    expect(selectChecks(name).map((c) => c.name)).toContain(name);
    expect(() => selectChecks('nomatch')).toThrow(/no kernel check matches 'nomatch'/);
    // A near miss (case) is listed first.
    expect(() => selectChecks(name.toUpperCase())).toThrow(new RegExp(`e\\.g\\. ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('wrn browser flags', () => {
  it('--timeout must be positive (0 would mean no timeout) and --port a port', async () => {
    expect(parseBrowserFlags(['--timeout', '30']).timeout).toBe(30);
    const cases: [string[], RegExp][] = [
      [['--timeout', '0'], /^wrn browser: --timeout must be in \[1, 2147483\], got 0/],
      [['--timeout', '-5'], /--timeout must be in \[1, 2147483\], got -5/],
      [['--timeout', '3000000'], /--timeout must be in \[1, 2147483\], got 3000000/],
      [['--port', '70000'], /--port must be in \[0, 65535\], got 70000/],
      [['--port', '-1'], /--port must be in \[0, 65535\], got -1/],
    ];
    for (const [argv, msg] of cases) {
      const err = await errorOf(() => parseBrowserFlags(argv));
      expect(err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(msg);
    }
  });
});

describe('sizes are refused before anything is allocated', () => {
  it('makeSynthetic refuses more than SYNTHETIC_MAX_COUNT images, naming the count and the cap', () => {
    expect(SYNTHETIC_MAX_COUNT).toBe(200_000);
    const err = (() => {
      try {
        makeSynthetic({ trainCount: 2_000_000, testCount: 1 });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(RangeError);
    expect(err!.message).toMatch(/synthetic-train: 2000000 images is more than the cap of 200000 \(614 MB\)/);
    expect(() => makeSynthetic({ trainCount: 1, testCount: SYNTHETIC_MAX_COUNT + 1 })).toThrow(/synthetic-test: 200001 images is more than the cap of 200000/);
    expect(() => loadDataset({ source: 'synthetic', trainCount: 10, testCount: 300_000, imageSize: 0 }, 0)).toThrow(/--test-count 300000: the synthetic set is capped at 200000 images/);
  });

  it('wrnParameterCount is exactly the parameter count of the model, for every variant', () => {
    expect(wrnParameterCount({ depth: 16, widen: 4, variant: 'bn' })).toBe(WRN16_4_PARAMS);
    for (const variant of VARIANTS) {
      for (const [depth, widen, inChannels] of [[10, 1, 3], [16, 2, 1]]) {
        const cfg = { depth, widen, variant, inChannels, numClasses: 7 };
        const m = new WideResNet(cfg, 'cpu');
        try {
          expect(wrnParameterCount(cfg), `${variant} WRN-${depth}-${widen}`).toBe(m.parameterCount);
        } finally {
          m.release();
        }
      }
    }
  });

  it('a WRN over 2^28 parameters is refused before any allocation', () => {
    expect(MAX_WRN_PARAMETERS).toBe(2 ** 28);
    const t0 = performance.now();
    expect(() => new WideResNet({ depth: 16, widen: 10000, variant: 'bn' }, 'cpu')).toThrow(/^WRN-16-10000 would have [\d,]+ parameters \([\d,.]+ GiB\); lower --width or --depth$/);
    expect(() => new WideResNet({ depth: 1000, widen: 10, variant: 'skipinit' }, 'cpu')).toThrow(/^WRN-1000-10 would have/);
    expect(performance.now() - t0).toBeLessThan(200); // nothing was drawn
    expect(wrnParameterCount({ depth: 1000, widen: 2, variant: 'bn' })).toBeLessThan(MAX_WRN_PARAMETERS); // the sweep's full-scale example still fits
  });

  it('a huge valid depth is refused at once (the count is in closed form, not a loop per block): issue 20, defect 7', () => {
    const depth = 6755399441055748; // 6N + 4 with N ~ 1.1e15
    expect(() => new WideResNet({ depth, widen: 1, variant: 'bn' }, 'cpu')).toThrow(/^WRN-6755399441055748-1 would have [\d,]+ parameters/);
    for (const variant of VARIANTS) expect(wrnParameterCount({ depth, widen: 1, variant })).toBeGreaterThan(1e16);
  });
});

describe('wrn signal and wrn bench: sizes and timeouts name the flag', () => {
  const signal = (argv: string[]) => signalConfigFromFlags(parseFlags('signal', argv, SIGNAL_FLAGS));
  it('wrn signal', async () => {
    const cases: [string[], RegExp][] = [
      [['--nets', 'fc-bn', '--width', '100000'], /^wrn signal: the fc weights \[100000, 100000\] would hold 10,000,000,000 values .*; lower --width$/],
      [['--nets', 'fc-bn', '--width', '10000', '--batch', '100000'], /the fc activations \[--batch, --width\] = \[100000, 10000\] would hold .*; lower --batch or --width$/],
      [['--nets', 'conv-bn', '--conv-channels', '20000'], /the conv-bn weights \[20000, 20000, 3, 3\] would hold .*; lower --conv-channels$/],
      [['--nets', 'conv-bn', '--conv-size', '100000'], /the conv-bn activations .* would hold .*; lower --conv-batch, --conv-channels or --conv-size$/],
      [['--nets', 'wrn-bn', '--wrn-width', '10000'], /^wrn signal: --wrn-depth 16 --wrn-width 10000: WRN-16-10000 would have [\d,]+ parameters .*; lower --wrn-width or --wrn-depth$/],
      [['--nets', 'wrn-bn', '--wrn-batch', '100000'], /the WRN activations .* would hold .*; lower --wrn-batch or --wrn-width$/],
    ];
    for (const [argv, msg] of cases) {
      const err = await errorOf(() => signal(argv));
      expect(err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(msg);
    }
    // A size a net not asked for would have is not checked.
    expect(signal(['--nets', 'wrn-bn', '--width', '100000']).cfg.width).toBe(100000);
  });

  it('wrn bench', async () => {
    const cases: [string[], RegExp][] = [
      [['kernels', '--browser', '--timeout', '0'], /^wrn bench kernels: --timeout must be in \[1, 2147483\], got 0/],
      [['kernels', '--batch', '100000'], /^wrn bench kernels: --batch must be in \[1, 4096\] .*got 100000/],
      [['step', '--width', '10000'], /^wrn bench step: --depth 16 --width 10000: WRN-16-10000 would have [\d,]+ parameters .*; lower --width or --depth$/],
      [['step', '--batch', '100000'], /^wrn bench step: the activations \[--batch, 16 x --width, 32, 32\] = \[100000, 64, 32, 32\] would hold .*; lower --batch or --width$/],
    ];
    for (const [argv, msg] of cases) {
      const err = await errorOf(() => benchCommand([...argv, '--out', tmp()])); // never bench/results
      expect(err, argv.join(' ')).toBeInstanceOf(UsageError);
      expect(err.message).toMatch(msg);
    }
  });
});

describe('wrn train: every bad value names its flag; an out-of-memory error names what to lower', () => {
  it('schedule and size flags', async () => {
    const { parseFlags } = await import('../src/cli/args.js');
    const { TRAIN_FLAGS, trainConfigFromFlags } = await import('../src/cli/train.js');
    const cfg = (argv: string[]) => trainConfigFromFlags(parseFlags('train', argv, TRAIN_FLAGS));
    expect(() => cfg(['--lr-decay-factor', '0'])).toThrow(/--lr-decay-factor must be in \(0, 1\], got 0/);
    expect(() => cfg(['--lr-decay-factor', '1.5'])).toThrow(/--lr-decay-factor must be in \(0, 1\], got 1.5/);
    expect(() => cfg(['--lr-constant-fraction', '2'])).toThrow(/--lr-constant-fraction must be in \[0, 1\], got 2/);
    expect(() => cfg(['--lr-decay-every', '0'])).toThrow(/--lr-decay-every must be a positive integer of epochs, got 0/);
    expect(() => cfg(['--eval-batch-size', '0'])).toThrow(/--eval-batch-size must be a positive integer, got 0/);
    expect(() => cfg(['--width', '10000'])).toThrow(/WRN-10-10000 would have [\d,]+ parameters .*lower --width or --depth/);
    expect(() => cfg(['--image-size', '2'])).toThrow(/--image-size must be 0 \(native\) or at least 4/);
  });
  it('withOomHint adds the flags to lower to an out-of-memory GPU error only', async () => {
    const { withOomHint } = await import('../src/cli/train.js');
    const { GPUKernelError } = await import('../src/gpu/device.js');
    const oom = withOomHint(new GPUKernelError('conv2d [64, 640, 32, 32]: out of memory allocating 1073741824 bytes')) as Error;
    expect(oom).toBeInstanceOf(GPUKernelError);
    expect(oom.message).toMatch(/1073741824 bytes\nThe GPU ran out of memory: lower --batch-size, --width or --depth/);
    const other = new GPUKernelError('validation error in relu');
    expect(withOomHint(other)).toBe(other);
  });
});
