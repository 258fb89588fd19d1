// One table of training settings (src/train/settings.ts, issue 20's structure): every TrainConfig
// field is in it, the CLI's flags and their defaults come from it, and every setting a flag sets
// is either resumable or checked by a resume (none silently dropped, as one missing from the old
// FLAG_OF was).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagsGiven, parseFlags } from '../src/cli/args.js';
import { TRAIN_FLAGS, givenSettings, trainConfigFromFlags } from '../src/cli/train.js';
import { DEFAULT_JOB } from '../src/train/config.js';
import { DEFAULT_TRAIN, RESUME_MAY_CHANGE, checkpointConfig, loadTrainCheckpoint, resumeConfig, train, type TrainConfig } from '../src/train/trainer.js';
import { openModel, openSettings } from '../src/train/open.js';
import { checkpointEntries } from '../src/train/evaluate.js';
import { makeSynthetic } from '../src/data/synthetic.js';
import { dataHash, resizeDataset, takeFirst } from '../src/data/dataset.js';
import { SETTINGS, TRAIN_SETTINGS, flagOfField, settingValue, type SettingPath } from '../src/train/settings.js';

const cfg = (argv: string[]) => trainConfigFromFlags(parseFlags('train', argv, TRAIN_FLAGS));

describe('the table of training settings', () => {
  it('holds every TrainConfig field (the data spec field by field), and nothing else', () => {
    const fields = Object.keys(DEFAULT_TRAIN).flatMap((k) => (k === 'data' ? Object.keys(DEFAULT_TRAIN.data).map((d) => `data.${d}`) : [k]));
    expect(Object.keys(TRAIN_SETTINGS).sort()).toEqual(fields.sort());
  });
  it("gives the CLI its flags, in the table's order, with the main job's defaults", () => {
    const flagged = SETTINGS.filter(([, s]) => s.flag);
    expect(Object.keys(TRAIN_FLAGS).filter((k) => !['resume', 'force', 'verbose', 'help'].includes(k))).toEqual(flagged.map(([, s]) => s.flag));
    for (const [path, s] of flagged) expect(TRAIN_FLAGS[s.flag as keyof typeof TRAIN_FLAGS].default, path).toEqual(settingValue(DEFAULT_JOB, path));
    expect(flagOfField('batchSize')).toBe('--batch-size');
    expect(flagOfField('data')).toBe('--data/--train-count/--test-count/--image-size');
    expect(flagOfField('progressSeconds')).toBe('progressSeconds');
    expect([...RESUME_MAY_CHANGE].sort()).toEqual(['checkpointEvery', 'device', 'epochs', 'evalBatchSize', 'maxSteps', 'out', 'progressSeconds']);
  });
  // A value other than the default for every flag of a top-level setting; the list must cover them all.
  const OTHER: Record<string, string[]> = {
    depth: ['--depth', '16'], widen: ['--width', '2'], variant: ['--variant', 'skipinit'], fuseBn: ['--fuse-bn'], alphaInit: ['--variant', 'skipinit', '--alpha-init', '0.5'],
    epochs: ['--epochs', '5'], batchSize: ['--batch-size', '16'], lr: ['--lr', '0.05'], momentum: ['--momentum', '0.5'], weightDecay: ['--weight-decay', '0'],
    lrConstantFraction: ['--lr-constant-fraction', '0.3'], lrDecayEvery: ['--lr-decay-every', '2'], lrDecayFactor: ['--lr-decay-factor', '0.1'], seed: ['--seed', '5'],
    device: ['--device', 'cpu'], out: ['--out', 'elsewhere'], checkpointEvery: ['--checkpoint-every', '3'], maxSteps: ['--max-steps', '7'], evalBatchSize: ['--eval-batch-size', '50'], augment: ['--augment'],
  };
  it('a resume takes every resumable flag and refuses every other one that contradicts the checkpoint, naming the flag', () => {
    const topLevel = SETTINGS.filter(([p, s]) => s.flag && !p.startsWith('data.')).map(([p]) => p);
    expect(Object.keys(OTHER).sort()).toEqual([...topLevel].sort());
    const saved = cfg([]);
    for (const path of topLevel as Exclude<SettingPath, `data.${string}`>[]) {
      const argv = OTHER[path];
      const want = cfg(argv);
      expect(settingValue(want, path), path).not.toEqual(settingValue(saved, path));
      const given = givenSettings(want, flagsGiven(argv));
      // The arm's alpha needs its variant: drop the variant so only --alpha-init is in question.
      if (path === 'alphaInit') delete given.variant;
      if ((TRAIN_SETTINGS[path] as { resumable: boolean }).resumable) expect(resumeConfig(saved, given, flagOfField)[path], path).toEqual(want[path]);
      else expect(() => resumeConfig(saved, given, flagOfField), path).toThrow(`${flagOfField(path)} ${String(want[path])} (the checkpoint has ${String(saved[path])})`);
    }
  });
});

describe('one way to open a run (src/train/open.ts: the trainer and the page)', () => {
  const data = makeSynthetic({ trainCount: 32, testCount: 16, seed: 1 });
  const small = { train: resizeDataset(data.train, 8), test: resizeDataset(data.test, 8) };
  const base = (out: string): TrainConfig => ({ ...DEFAULT_TRAIN, device: 'cpu', epochs: 2, batchSize: 8, evalBatchSize: 16, out, progressSeconds: 1e9, data: { source: 'synthetic', trainCount: 32, testCount: 16, imageSize: 8 } });
  it('a fresh run: the rules against its data, the schedule laid out for its epochs', () => {
    const c = base('unused');
    expect(openSettings(c, small, null)).toEqual({ cfg: { ...c, scheduleEpochs: 2 }, batchesPerEpoch: 4 });
    expect(() => openSettings({ ...c, batchSize: 64 }, small, null)).toThrow('train: --batch-size 64 is larger than the 32 training images (--train-count)');
    const tiny = { train: resizeDataset(data.train, 3), test: resizeDataset(data.test, 3) };
    expect(() => openSettings({ ...c, data: { ...c.data, imageSize: 0 } }, tiny, null)).toThrow(/--data synthetic: the images of synthetic-train are 3x3, smaller than the 4x4/);
    expect(() => openSettings({ ...c, data: { ...c.data, imageSize: 2 } }, small, null)).toThrow('train: --image-size must be 0 (native) or at least 4 (two stride-2 stages), got 2');
  });
  it('a resume: the checkpoint its place and its schedule, --epochs only forward; the model and velocities restored', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wrn-open-'));
    await train(base(out), small, { log: () => {} });
    const name = join(out, 'checkpoint.wrnckpt');
    const ckpt = loadTrainCheckpoint(name);
    const saved = checkpointConfig(ckpt);
    // As the page merges it (the form's epochs, on WebGPU) and as the CLI does (--epochs): one function.
    const longer = resumeConfig(saved, { epochs: 5 });
    const opened = openSettings(longer, small, { ckpt, name });
    expect(opened.cfg.epochs).toBe(5);
    expect(opened.cfg.scheduleEpochs).toBe(2); // the run's decay points
    expect(() => openSettings(resumeConfig(saved, { epochs: 1 }), small, { ckpt, name })).toThrow(`--epochs 1: checkpoint ${name} has finished 2 epochs (step 8), past the 1 asked for`);
    const fewer = { train: takeFirst(small.train, 24), test: small.test };
    expect(() => openSettings(longer, fewer, { ckpt, name })).toThrow(/stands at epoch 3, batch 0, step 8, which is not a place in this run of 3 steps per epoch/);
    expect(() => openSettings({ ...longer, lr: 0.3 }, small, { ckpt, name })).toThrow(/--lr 0.3 \(the checkpoint has 0.1\)/);
    const { model, velocities, progress } = openModel(opened.cfg, small, { ckpt, name });
    try {
      expect(progress.step).toBe(8);
      const first = ckpt.tensors.find((t) => t.name === checkpointEntries(model, velocities)[0].name)!;
      expect(Array.from(await checkpointEntries(model, velocities)[0].tensor.toArray())).toEqual(Array.from(first.data));
    } finally {
      model.release();
      velocities.forEach((v) => v.release());
    }
  }, 120_000);

  it('a resume on other images or labels is refused by content, whatever the files are called; a dropped-files checkpoint resumes on a directory with the same content (issue 21)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wrn-open-hash-'));
    await train(base(out), small, { log: () => {} });
    const name = join(out, 'checkpoint.wrnckpt');
    const ckpt = loadTrainCheckpoint(name);
    expect(ckpt.header.dataHash).toBe(dataHash(small));
    const saved = resumeConfig(checkpointConfig(ckpt), { epochs: 3 });
    expect(() => openSettings(saved, small, { ckpt, name })).not.toThrow();
    // One label changed: the same counts and sizes, other content.
    const labels = small.train.labels.slice();
    labels[5] = (labels[5] + 1) % 10;
    const other = { train: { ...small.train, labels }, test: small.test };
    expect(() => openSettings(saved, other, { ckpt, name })).toThrow(/--data synthetic holds other images or labels than the run trained on .*content hash [0-9a-f]{8}, the checkpoint's [0-9a-f]{8}\); give --data the data the run was trained on/);
    // As a page checkpoint trained on dropped files: any directory with the same content resumes it.
    const page = { ...ckpt, header: { ...ckpt.header, config: { ...ckpt.header.config, data: { ...ckpt.header.config.data, source: 'browser-files: IDX (a.gz, b.gz)' } } } };
    const here = { ...saved, data: { ...saved.data, source: '/somewhere/else' } };
    expect(() => openSettings(here, small, { ckpt: page, name })).not.toThrow();
    expect(() => openSettings(here, other, { ckpt: page, name })).toThrow(/give --data the directory holding the same files that were dropped in the page \(IDX \(a\.gz, b\.gz\)\)/);
  }, 120_000);
});
