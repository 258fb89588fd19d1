// `wrn tune` and the tuning cache: a deliberately wrong candidate is refused and never chosen, the
// cache is keyed so a changed kernel set makes it stale, the runtime overlays its choices, and a
// run records its choices so that a resume under another cache reproduces it bit for bit.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpu, initWebGPU } from '../src/index.js';
import { pickChoice, runTune, tuneRows } from '../src/bench/tune.js';
import { spreadOf } from '../src/bench/step_report.js';
import { tuneCommand } from '../src/cli/tune.js';
import { CONV_IMPLEMENTATIONS, CONV_IMPLEMENTATIONS_CHECKSUM, type ConvBuffers, type ConvGeometry, type ConvImplementation } from '../src/gpu/programs/conv2d.js';
import { fnv1a } from '../src/gpu/hash.js';
import { ENGINE_VERSION, findEntry, tuningKey, unknownImplementations, validateCache, withChosen, withEntry, TUNING_KIND, type TuningEntry } from '../src/gpu/tuning.js';
import { applyTuningCache, readTuningCache, writeTuningEntry } from '../src/cli/tuning_cache.js';
import { train, DEFAULT_TRAIN, type TrainConfig } from '../src/train/trainer.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { makeSynthetic } from '../src/data/synthetic.js';
import { CONV_IMPLEMENTATION_NAMES, type ConvImplementationName } from '../src/gpu/profile.js';
import { describeGpu, requireGpu } from './helpers/optest.js';

const dir = mkdtempSync(join(tmpdir(), 'wrn-tune-test-'));

const adapter = { vendor: 'v', architecture: 'a', device: 'd', description: 'driver 1', isFallbackAdapter: false, runtime: 'node-dawn', features: [] };
const entry = (over: Partial<TuningEntry['key']> = {}, chosen: Record<string, ConvImplementationName> = {}): TuningEntry => ({
  key: { ...tuningKey(adapter, 'gpu', 'abc12345'), ...over },
  date: '2026-12-02T00:00:00.000Z',
  command: 'wrn tune',
  config: { depth: 10, width: 1, batch: 1 },
  chosen,
  table: [],
});

describe('the tuning cache', () => {
  it('is keyed by adapter, engine, implementation checksum and profile; a changed key says why it is stale', () => {
    const cache = withEntry(null, entry({}, { 'forward x': 'direct' }));
    expect(findEntry(cache, entry().key).entry?.chosen).toEqual({ 'forward x': 'direct' });
    expect(findEntry(cache, { ...entry().key, checksum: 'ffffffff' })).toEqual({ entry: null, reason: 'the entry for this adapter is stale (the kernels changed since it was tuned): run wrn tune again' });
    expect(findEntry(cache, { ...entry().key, engine: '9.9.9' }).reason).toMatch(/tuned by engine 0\.1\.0/);
    expect(findEntry(cache, { ...entry().key, profile: 'cpu-adapter' }).reason).toMatch(/tuned against the 'gpu' profile/);
    expect(findEntry(cache, { ...entry().key, device: 'other' }).reason).toBe('no entry for this adapter');
    // the same key is merged (the new choice wins where both tuned a convolution), another key kept
    const two = withEntry(withEntry(cache, entry({ device: 'other' })), entry({}, { 'forward y': 'tile-strided', 'forward x': 'tile-blocked' }));
    expect(two.entries.map((e) => [e.key.device, e.chosen])).toEqual([['other', {}], ['d', { 'forward x': 'tile-blocked', 'forward y': 'tile-strided' }]]);
  });

  it('refuses a malformed file, naming it and the field', () => {
    expect(() => validateCache([], 'c.json')).toThrow(/c\.json: not a JSON object; expected a tuning cache written by 'wrn tune'/);
    expect(() => validateCache({ kind: 'x' }, 'c.json')).toThrow(/'kind' is "x", not 'wrn-tuning-cache'/);
    expect(() => validateCache({ kind: TUNING_KIND, schema: 1, entries: [{ key: { checksum: 'a' }, chosen: { 'forward x': 'winograd' } }] }, 'c.json')).toThrow(/entries\[0\] chooses 'winograd' for forward x, which is not an implementation/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ nope');
    expect(() => readTuningCache(bad)).toThrow(new RegExp(`${bad.replace(/[.]/g, '\\.')}: not valid JSON`));
    expect(readTuningCache(join(dir, 'absent.json'))).toBeNull();
  });

  it("choices recorded before winograd-f2 (a checkpoint's kernels, a cache entry) still name implementations of this build", () => {
    const before = ['tile-blocked', 'tile-strided', 'direct', 'direct-subgroup', 'tile-64', 'winograd-f2'];
    expect(CONV_IMPLEMENTATION_NAMES.slice(0, before.length)).toEqual(before); // appended, nothing renamed
    expect(unknownImplementations(Object.fromEntries(before.map((n, i) => [`forward x${i}`, n])))).toEqual([]);
    expect(unknownImplementations({ 'forward x': 'winograd-f2', 'backward_input x': 'winograd-f2' })).toEqual([]);
    expect(() => validateCache(withEntry(null, entry({}, { 'forward x': 'winograd-f2', 'backward_input y': 'direct' })), 'c.json')).not.toThrow();
  });

  it('the engine version is the package version; the checksum is a stable 32-bit hash', () => {
    expect(ENGINE_VERSION).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(fnv1a('')).toBe('811c9dc5');
    expect(fnv1a('a')).toBe('e40c292c');
    expect(CONV_IMPLEMENTATIONS_CHECKSUM).toMatch(/^[0-9a-f]{8}$/);
  });
});

describe('which implementation the tuner runs', () => {
  const t = (name: string, xs: number[]) => ({ name, ...spreadOf(xs) });
  const isStatic = (x: { name: string }) => x.name === 'static';
  it('another than the static choice only where it is faster beyond the spread, over at least 2 rounds', () => {
    expect(pickChoice([t('fast', [10, 11, 12]), t('static', [13, 14, 15])], isStatic)).toMatchObject({ fastest: { name: 'fast' }, winner: { name: 'fast' }, resolved: true });
    expect(pickChoice([t('fast', [10, 11, 14]), t('static', [13, 14, 15])], isStatic)).toMatchObject({ fastest: { name: 'fast' }, winner: { name: 'static' }, resolved: false }); // ranges overlap
    expect(pickChoice([t('fast', [10]), t('static', [20])], isStatic)).toMatchObject({ winner: { name: 'static' }, resolved: false }); // one round: no spread
    expect(pickChoice([t('static', [10, 11]), t('slow', [20, 21])], isStatic)).toMatchObject({ winner: { name: 'static' }, resolved: false });
    expect(pickChoice([t('fast', [10, 11]), t('other', [20, 21])], isStatic)).toMatchObject({ winner: { name: 'fast' }, resolved: false }); // the static choice was not a candidate
  });
});

describe('wrn tune flags', () => {
  it('refuse bad values before the adapter is opened, naming the flag', async () => {
    await expect(tuneCommand(['--depth', '12'])).rejects.toThrow(/wrn tune: --depth must be 6N \+ 4/);
    await expect(tuneCommand(['--batch', '0'])).rejects.toThrow(/wrn tune: --batch must be an integer >= 1, got 0/);
    await expect(tuneCommand(['--rounds', 'x'])).rejects.toThrow(/--rounds must be an integer, got 'x'/);
    const prev = process.env.WRN_TUNING_CACHE;
    process.env.WRN_TUNING_CACHE = 'off';
    try {
      await expect(tuneCommand([])).rejects.toThrow(/WRN_TUNING_CACHE=off and no --cache FILE/);
    } finally {
      process.env.WRN_TUNING_CACHE = prev;
    }
  });
});

describeGpu('wrn tune on the CPU adapter', () => {
  let tuned: TuningEntry;
  const prevEnv = process.env.WRN_TUNING_CACHE;
  beforeAll(async () => {
    await initWebGPU({ timestamps: true });
    await requireGpu();
  });
  afterAll(() => {
    process.env.WRN_TUNING_CACHE = prevEnv;
  });

  it('validates every candidate first: a deliberately wrong one is refused and never chosen; the winner is as fast as the static choice', async () => {
    const tile = CONV_IMPLEMENTATIONS.forward[0];
    // Reads x where the weights should be: fast enough, and wrong.
    const wrong = { ...tile, name: 'broken', summary: 'the input read as the weights', run: (g: ConvGeometry, b: ConvBuffers['forward']) => tile.run(g, { ...b, weight: b.x }) } as unknown as ConvImplementation<'forward'>;
    const lines: string[] = [];
    tuned = await runTune(gpu(), { depth: 10, width: 1, batch: 1, rounds: 1, extraCandidates: { forward: [wrong] }, log: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/^WRN-10-1 at batch 1: \d+ convolutions \(kernel x geometry\) to tune/);
    expect(lines.at(-1)).toMatch(/^\[\d+\/\d+\] /);
    expect(lines.some((l) => /ETA \d/.test(l))).toBe(true);
    const forwards = tuned.table.filter((r) => r.bucket.startsWith('forward '));
    expect(forwards.length).toBeGreaterThan(3);
    for (const r of forwards) {
      const b = r.candidates.find((c) => c.name === 'broken')!;
      expect(b, r.bucket).toMatchObject({ ok: false, ms: null });
      expect(b.message).toMatch(/mismatch at index/);
      expect(r.winner).not.toBe('broken');
    }
    expect(Object.values(tuned.chosen)).not.toContain('broken');
    // winograd-f2 is a candidate exactly where it applies (3x3 stride 1: the forward and the input
    // gradient, not the filter gradient) and passes its check there with its own bound.
    for (const r of tuned.table) {
      const w = r.candidates.find((c) => c.name === 'winograd-f2');
      expect(!!w, r.bucket).toBe(/^(forward|backward_input) x\[[\d,]+\] w\[\d+,\d+,3,3\] s1 p[012]$/.test(r.bucket));
      if (w) expect(w.ok, `${r.bucket}: ${w.message}`).toBe(true);
    }
    expect(tuned.table.filter((r) => r.candidates.some((c) => c.name === 'winograd-f2')).length).toBeGreaterThan(3);
    expect(tuned.table.some((r) => /s2 p1$/.test(r.bucket))).toBe(true); // and buckets where it does not apply were tuned
    // Likewise direct-s2 (the 3x3 stride-2 forward) and pointwise (every 1x1 kernel: the projection shortcuts).
    for (const r of tuned.table) {
      const s2 = r.candidates.find((c) => c.name === 'direct-s2');
      const pw = r.candidates.find((c) => c.name === 'pointwise');
      expect(!!s2, r.bucket).toBe(/^forward x\[[\d,]+\] w\[\d+,\d+,3,3\] s2 p\d+$/.test(r.bucket));
      expect(!!pw, r.bucket).toBe(/ w\[\d+,\d+,1,1\] /.test(r.bucket));
      for (const c of [s2, pw]) if (c) expect(c.ok, `${r.bucket} ${c.name}: ${c.message}`).toBe(true);
    }
    expect(tuned.table.filter((r) => r.candidates.some((c) => c.name === 'direct-s2')).length).toBeGreaterThan(0);
    expect(tuned.table.filter((r) => r.candidates.some((c) => c.name === 'pointwise')).length).toBe(3 * 2); // WRN-10-1's two projections, three kernels each
    for (const r of tuned.table) {
      expect(tuned.chosen[r.bucket]).toBe(r.winner);
      expect(r.candidates.filter((c) => c.name !== 'broken').every((c) => c.ok), r.bucket).toBe(true);
      const fastest = r.candidates.find((c) => c.name === r.fastest)!.ms!;
      for (const c of r.candidates) if (c.ok) expect(c.ms!).toBeGreaterThanOrEqual(fastest);
      expect(r.staticOverWinner!).toBeGreaterThanOrEqual(1); // measured in the same run, the static choice is one of the candidates
      // One round has no spread: nothing is resolved, so every convolution keeps the static choice.
      expect(r.resolved).toBe(false);
      expect(r.winner).toBe(r.staticChoice);
    }
    expect(tuned.key).toEqual(tuningKey(gpu().ctx.adapter, gpu().profile.name, CONV_IMPLEMENTATIONS_CHECKSUM));
    const rows = tuneRows(tuned);
    expect(rows[0][0]).toBe('convolution');
    expect(rows.slice(1).some((r) => r[1].includes('broken REFUSED'))).toBe(true);
  }, 300_000);

  it('the runtime overlays the cache written for this adapter, and only that', () => {
    const file = join(dir, 'tuning.json');
    writeTuningEntry(file, tuned);
    writeTuningEntry(file, { ...tuned, key: { ...tuned.key, device: 'another GPU' }, chosen: {} });
    expect(readTuningCache(file)!.entries).toHaveLength(2);
    const rt = gpu();
    const before = rt.profile;
    try {
      process.env.WRN_TUNING_CACHE = file;
      expect(applyTuningCache(rt)).toMatch(new RegExp(`^tuning cache: ${Object.keys(tuned.chosen).length} convolution choices from .*tuning\\.json \\(tuned \\d{4}-\\d\\d-\\d\\d for WRN-10-1 at batch 1\\)$`));
      expect(rt.profile.conv2d.chosen).toEqual(tuned.chosen);
      rt.setProfile(before);
      writeFileSync(file, JSON.stringify(withEntry(null, { ...tuned, key: { ...tuned.key, checksum: '00000000' } })));
      expect(applyTuningCache(rt)).toMatch(/stale \(the kernels changed since it was tuned\)/);
      expect(rt.profile).toBe(before);
      process.env.WRN_TUNING_CACHE = 'off';
      expect(applyTuningCache(rt)).toMatch(/^tuning cache: off/);
    } finally {
      rt.setProfile(before);
    }
  });

  it('a run records its convolution choices; a resume under another cache makes the checkpoint\'s and reproduces the run bit for bit', async () => {
    const rt = gpu();
    const before = rt.profile;
    const data = makeSynthetic({ trainCount: 32, testCount: 16, seed: 1 });
    const tiny = (out: string, over: Partial<TrainConfig> = {}): TrainConfig => ({ ...DEFAULT_TRAIN, depth: 10, widen: 1, epochs: 2, batchSize: 16, evalBatchSize: 16, out, progressSeconds: 1e9, ...over });
    const quiet = { log: () => {} };
    // Cache A: every convolution of this net on the strided tile (not what the static profile runs).
    const a = Object.fromEntries(Object.keys(tuned.chosen).map((b) => [b.replace(/x\[1,/, 'x[16,'), 'tile-strided' as const]));
    try {
      rt.setProfile(withChosen(before, a));
      const full = await train(tiny(mkdtempSync(join(dir, 'full-'))), data, quiet);
      const run = mkdtempSync(join(dir, 'run-'));
      const first = await train(tiny(run, { maxSteps: 3, checkpointEvery: 1 }), data, quiet);
      const header = loadCheckpoint<{ kernels?: { chosen: Record<string, string>; checksum: string } }>(join(run, 'checkpoint.wrnckpt')).header;
      expect(header.kernels).toEqual({ chosen: a, checksum: CONV_IMPLEMENTATIONS_CHECKSUM });
      expect(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).kernels.chosen).toEqual(a);
      // Cache B: none (the static profile). The resume must still run A's choices.
      rt.setProfile(before);
      const rest = await train(tiny(run), data, { ...quiet, resume: join(run, 'checkpoint.wrnckpt') });
      expect(rt.profile).toBe(before); // the run's choices were put back
      expect(first.losses).toEqual(full.losses.slice(0, 3));
      expect(rest.losses).toEqual(full.losses);
      // And without the recorded choices the same resume would differ (so the test can fail).
      const staticRun = await train(tiny(mkdtempSync(join(dir, 'static-'))), data, quiet);
      expect(staticRun.losses).not.toEqual(full.losses);
    } finally {
      rt.setProfile(before);
    }
  }, 600_000);
});
