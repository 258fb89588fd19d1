// The engine IN THE BROWSER: headless Chromium with WebGPU (SwiftShader), driven from Node. The lab
// page (src/web/main.ts, bundled to dist/web/main.js) runs each view at a small size: the same kernel
// checks as `wrn check`, the kernel and step benchmarks, a few training steps; the tests assert on
// what it published and on its DOM, download its result files (read back by `wrn bench compare`'s
// functions, and `wrn train --resume`), drop a bad file, and write a screenshot of each view under
// runs/browser-test/.
// A missing Chromium fails the test (unless WRN_TESTS_CPU_ONLY=1, which skips it and says so).
import { beforeAll, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describeGpu } from './helpers/optest.js';
import { runInBrowser, chromiumPath, ROOT, WEB_DIST, type BrowserCheckResult, type BrowserResult } from '../src/web/runner.js';
import { readResult } from '../src/bench/output.js';
import { compareResults, type KernelBenchResult, type StepBenchResult } from '../src/bench/report.js';
import { kernelChartParts, stepChartParts } from '../src/bench/charts.js';
import { loadCheckpoint } from '../src/train/checkpoint.js';
import { fashionMnistInstalled } from '../src/data/load.js';

/** Where the browser tests write their screenshots and downloads. */
const OUT = join(ROOT, 'runs', 'browser-test');
const NO_FASHION_MNIST = process.env.WRN_TESTS_NO_FASHION_MNIST === '1';
if (NO_FASHION_MNIST) console.warn('[wrn-webgpu tests] WRN_TESTS_NO_FASHION_MNIST=1: SKIPPING the two Fashion-MNIST browser tests (the served default run, the dropped-files resume)');

const BUNDLE = join(WEB_DIST, 'main.js');

/** Newest mtime under a directory (the bundle is rebuilt when any source is newer). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function ensureBundle(): void {
  const sources = Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'shaders')));
  if (existsSync(BUNDLE) && statSync(BUNDLE).mtimeMs >= sources) return;
  const t0 = Date.now();
  execFileSync(process.execPath, ['tools/build.mjs'], { cwd: ROOT, stdio: 'pipe' });
  console.log(`[browser test] built dist/web/main.js in ${Date.now() - t0} ms`);
}

function requireChromium(): void {
  const exe = chromiumPath();
  if (!existsSync(exe)) {
    throw new Error(
      `Chromium not found at ${exe}: the browser tests need it. Install it with\n  sudo apt-get install -y chromium\n` +
        '(or set CHROMIUM_PATH, or WRN_TESTS_CPU_ONLY=1 to skip every GPU test).',
    );
  }
}

// Families that must have checks registered, run in the browser and pass.
const REQUIRED: { family: string; match: RegExp }[] = [
  { family: 'conv2d', match: /conv2d/i },
  { family: 'batchnorm', match: /batch_?norm|(^|[^a-z])bn([^a-z]|$)/i },
  { family: 'skipadd (SkipInit add)', match: /skip_?add/i },
];

/** A full-page screenshot of the page as it stands, under OUT. */
async function shoot(page: Page, name: string): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Click a download button and save what it downloads under OUT; returns the path. */
async function saveDownload(page: Page, selector: string, name: string): Promise<string> {
  mkdirSync(OUT, { recursive: true });
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click(selector)]);
  const path = join(OUT, name);
  await dl.saveAs(path);
  return path;
}

/** Each chart canvas in a view: its size and how many pixels are not background (white). */
function chartInk(page: Page, view: string) {
  return page.evaluate((v) => {
    return Array.from(document.querySelectorAll(`#view-${v} canvas.chart`)).map((c) => {
      const cv = c as HTMLCanvasElement;
      const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
      let ink = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
      return { id: cv.id, width: cv.width, height: cv.height, ink, points: cv.dataset.points ?? null };
    });
  }, view);
}

/**
 * Each ChartView chart in a view (src/web/chart.ts) as laid out: canvas pixels against CSS pixels,
 * its aria-label, and the tooltip shown with the mouse at the centre of its plot area.
 */
async function chartViews(page: Page, view: string) {
  const ids = await page.evaluate((v) => Array.from(document.querySelectorAll(`#view-${v} canvas.chart`)).map((c) => c.id), view);
  const out: { id: string; width: number; cssWidth: number; dpr: number; role: string | null; label: string; tip: string; dataRows: number }[] = [];
  for (const id of ids) {
    await page.locator(`#${id}`).scrollIntoViewIfNeeded();
    const at = await page.evaluate((i) => {
      const c = document.getElementById(i) as HTMLCanvasElement;
      const r = c.getBoundingClientRect();
      const box = c.parentElement!.getBoundingClientRect(); // a chart wider than its box scrolls in it
      const [L, T, R, B] = (c.dataset.plot ?? '0,0,0,0').split(',').map(Number);
      const x = (Math.max(r.left + L, box.left) + Math.min(r.left + R, box.right)) / 2;
      return { width: c.width, cssWidth: r.width, dpr: devicePixelRatio, role: c.getAttribute('role'), label: c.getAttribute('aria-label') ?? '', x, y: r.top + (T + B) / 2 };
    }, id);
    await page.mouse.move(at.x, at.y);
    const tip = await page.evaluate((i) => {
      const t = document.querySelector<HTMLElement>(`#${i}-figure .chart-tip`);
      return t && !t.hidden ? (t.textContent ?? '') : '';
    }, id);
    await page.click(`#${id}-figure details.chart-data > summary`);
    await page.waitForSelector(`#${id}-data`, { timeout: 5_000 });
    const dataRows = await page.evaluate((i) => document.querySelectorAll(`#${i}-data tr`).length, id);
    out.push({ id, width: at.width, cssWidth: at.cssWidth, dpr: at.dpr, role: at.role, label: at.label, tip, dataRows });
  }
  return out;
}

/** The cells of a table's body rows. */
function tableRows(page: Page, id: string): Promise<string[][]> {
  return page.evaluate((t) => Array.from(document.querySelectorAll(`#${t} tr`)).slice(1).map((tr) => Array.from(tr.children).map((c) => c.textContent ?? '')), id);
}

function newestResult(prefix: string): string {
  const dir = join(ROOT, 'bench', 'results');
  const f = readdirSync(dir).filter((n) => n.startsWith(prefix) && n.endsWith('.json')).sort().pop();
  if (!f) throw new Error(`no ${prefix}*.json in bench/results to compare with`);
  return join(dir, f);
}

type Dom = { adapterRows: string[][]; checkRows: string[][]; progress: string };
let checkDom: Dom;

describeGpu('the engine in headless Chromium (WebGPU on SwiftShader)', () => {
  let r: BrowserCheckResult;

  beforeAll(async () => {
    requireChromium();
    ensureBundle();
    r = (await runInBrowser({
      task: 'check',
      timeoutMs: 240_000,
      onResult: async (page) => {
        checkDom = await page.evaluate(() => ({
          adapterRows: Array.from(document.querySelectorAll('#adapter-table tr')).map((tr) => Array.from(tr.children).map((c) => c.textContent ?? '')),
          checkRows: Array.from(document.querySelectorAll('#check-table tr')).slice(1).map((tr) => Array.from(tr.children).map((c) => c.textContent ?? '')),
          progress: document.querySelector('#view-check .progress span')?.textContent ?? '',
        }));
        await shoot(page, 'check');
        await page.click('#tab-adapter');
        await shoot(page, 'adapter');
      },
    })) as BrowserCheckResult;
    console.log(`[browser test] user agent: ${r.userAgent}`);
    console.log(`[browser test] adapter: ${r.adapterName ?? '(none)'}; ${r.browserVersion}; ${(r.wallMs / 1000).toFixed(1)} s`);
    if (r.error) throw new Error(`the page reported an error: ${r.error}`);
  }, 300_000);

  it('reports the browser and its WebGPU adapter', () => {
    expect(r.userAgent).toMatch(/Chrome\//);
    expect(r.adapter, 'the page published no adapter').toBeDefined();
    expect(r.adapter!.runtime).toBe('browser');
    // The SwiftShader flags must have given us SwiftShader, not some other adapter.
    expect(`${r.adapter!.vendor} ${r.adapter!.architecture} ${r.adapter!.device} ${r.adapter!.description}`.toLowerCase()).toContain('swiftshader');
  });

  it('every registered kernel check passes against its CPU reference, in the browser', () => {
    expect(r.lines!.length).toBeGreaterThan(0);
    const failed = r.lines!.filter((l) => !l.ok);
    expect(failed.map((l) => `${l.name}: ${l.message}`)).toEqual([]);
    expect(r.failed).toBe(0);
    expect(r.passed).toBe(r.lines!.length);
    expect(r.uncapturedErrors ?? []).toEqual([]);
    expect(r.deviceLost ?? null).toBeNull();
  });

  for (const { family, match } of REQUIRED) {
    it(`${family} checks exist and pass in the browser`, () => {
      const mine = r.lines!.filter((l) => match.test(l.name));
      expect(mine.length, `no check named like ${match} ran in the browser (registered: ${r.lines!.map((l) => l.name).join(', ')})`).toBeGreaterThan(0);
      for (const l of mine) expect(l.ok, `${l.name}: ${l.message}`).toBe(true);
    });
  }

  it('the page shows the adapter panel and a PASS row for every kernel check', () => {
    const kv = Object.fromEntries(checkDom.adapterRows.map(([k, v]) => [k, v]));
    expect(kv.vendor?.length).toBeGreaterThan(0);
    expect(kv['user agent']).toMatch(/Chrome\//);
    for (const k of ['feature timestamp-query', 'feature subgroups', 'feature shader-f16', 'fallback adapter', 'maxStorageBufferBindingSize', 'tuning profile']) expect(kv[k], k).toBeDefined();
    expect(checkDom.checkRows.map((c) => c[1])).toEqual(r.lines!.map((l) => l.name));
    expect(checkDom.checkRows.every((c) => c[0] === 'PASS')).toBe(true);
    expect(checkDom.progress).toBe(`done: ${r.lines!.length} of ${r.lines!.length} cases`);
    expect(checkDom.checkRows.every((c) => c.length === 5)).toBe(true); // no message column while no row has a message
    expect(existsSync(join(OUT, 'check.png')) && existsSync(join(OUT, 'adapter.png'))).toBe(true);
  });

  it('the kernel benchmark view runs, shows finite numbers and a chart, and its JSON is read by wrn bench compare', async () => {
    let rows: string[][] = [];
    let ink: Awaited<ReturnType<typeof chartInk>> = [];
    let charts: Awaited<ReturnType<typeof chartViews>> = [];
    let file = '';
    const k = await runInBrowser({
      task: 'kernels',
      query: { batch: 1, reps: 1, warmup: 0, layers: '8x8x8', sgdParams: 4096, copyMiB: 1, sgemmN: 64, minTotalMs: 0 },
      timeoutMs: 180_000,
      onResult: async (page) => {
        rows = await tableRows(page, 'kernels-table');
        ink = await chartInk(page, 'kernels');
        charts = await chartViews(page, 'kernels');
        file = await saveDownload(page, '#kernels-download', 'kernels-browser.json');
        await shoot(page, 'kernels');
      },
    });
    expect(k.error).toBeUndefined();
    const res = k.result as KernelBenchResult;
    expect(rows.length).toBe(res.kernels.length);
    for (const row of rows) for (const c of [row[1], row[3], row[5]]) expect(Number.isFinite(Number(c)), `${row[0]}: '${c}'`).toBe(true);
    // One chart per panel (memory-bound kernels, convolutions), each drawn at its CSS width times
    // devicePixelRatio, labelled for screen readers, with a tooltip and a data table.
    const parts = kernelChartParts(res);
    expect(ink.map((c) => c.id)).toEqual(parts.map((p) => `kernels-chart-${p.key}`));
    for (const c of ink) expect(c.ink, c.id).toBeGreaterThan(1000);
    expect(charts.map((c) => c.id)).toEqual(ink.map((c) => c.id));
    charts.forEach((c, i) => {
      expect(Math.abs(c.width - c.cssWidth * c.dpr), `${c.id}: ${c.width} canvas px for ${c.cssWidth} CSS px at dpr ${c.dpr}`).toBeLessThanOrEqual(1);
      expect(c.role).toBe('img');
      expect(c.label).toContain(`Bar chart: ${parts[i].options.title}.`);
      expect(c.tip, c.id).toMatch(/: \d[\d.e+-]*$/m);
      expect(c.dataRows).toBe(parts[i].options.groups.length + 1);
    });
    const browser = readResult(file);
    expect(browser.runtime).toMatch(/^browser: .*Chrome/);
    const table = compareResults(readResult(newestResult('kernels-node-')), browser, 'node', 'browser');
    expect(table).toMatch(/copy GB\/s: A [\d.]+, B [\d.]+/);
    expect(table).toContain(res.kernels[0].name);
  }, 240_000);

  it('the step benchmark view shows GPU time by category, BN share, SkipInit saving and img/s; its JSON compares with a Node file', async () => {
    let rows: string[][] = [];
    let summary = '';
    let headline = '';
    let projection: string[][] = [];
    let roofline: string[][] = [];
    let ink: Awaited<ReturnType<typeof chartInk>> = [];
    let charts: Awaited<ReturnType<typeof chartViews>> = [];
    let file = '';
    const st = await runInBrowser({
      task: 'step',
      query: { depth: 10, width: 1, batch: 2, steps: 1, warmup: 1, rounds: 2 },
      timeoutMs: 240_000,
      onResult: async (page) => {
        rows = await tableRows(page, 'step-table');
        summary = await page.evaluate(() => document.getElementById('step-summary')?.textContent ?? '');
        headline = await page.evaluate(() => document.getElementById('step-headline')?.textContent ?? '');
        projection = await tableRows(page, 'step-projection');
        roofline = await tableRows(page, 'step-roofline');
        ink = await chartInk(page, 'step');
        charts = await chartViews(page, 'step');
        file = await saveDownload(page, '#step-download', 'step-browser.json');
        await shoot(page, 'step');
      },
    });
    expect(st.error).toBeUndefined();
    const res = st.result as StepBenchResult;
    expect(res.variants.map((v) => v.name)).toEqual(['bn', 'bn-tiled', 'bn-fused', 'skipinit', 'unnormalized']);
    expect(rows.map((r) => r[0])).toEqual(['bn', 'bn-tiled', 'bn-fused', 'skipinit', 'unnormalized']);
    for (const row of rows) for (const c of [...row.slice(1, 3), row[4]]) expect(Number.isFinite(Number(c)), `${row[0]}: '${c}'`).toBe(true);
    for (const row of rows) expect(row[3], `${row[0]} wall ms/step`).toMatch(/^[\d.]+ \[[\d.]+, [\d.]+\]( \u26a0)?$/); // median [min, max] over the 2 rounds (marked when noisy)
    expect(res.rounds).toHaveLength(2);
    // The page leads with the sentence, then BN's cost both ways, from the same code as the CLI.
    expect(headline).toBe(res.bnCost.headline);
    expect(summary).toMatch(/\(a\) wall time bn - skipinit, over the bn step: /);
    if (res.method === 'timestamp-query') expect(summary).toMatch(/\(b\) the BN kernels' share of the bn step's GPU time: /);
    expect(projection.map((r) => r[0])).toEqual(['NVIDIA H200', 'NVIDIA A100', 'NVIDIA RTX 4090', 'Apple M2', 'laptop iGPU']);
    expect(roofline.some((r) => r[0] === 'bn' && r[1] === 'bn')).toBe(true);
    // Wall time, and with GPU timestamps the time and share by category: one chart each.
    const parts = stepChartParts(res);
    expect(ink.map((c) => c.id)).toEqual(parts.map((p) => `step-chart-${p.key}`));
    for (const c of ink) expect(c.ink, c.id).toBeGreaterThan(1000);
    charts.forEach((c, i) => {
      expect(Math.abs(c.width - c.cssWidth * c.dpr), `${c.id}: ${c.width} canvas px for ${c.cssWidth} CSS px at dpr ${c.dpr}`).toBeLessThanOrEqual(1);
      expect(c.role).toBe('img');
      expect(c.label).toContain(`Bar chart: ${parts[i].options.title}.`);
      expect(c.tip, c.id).toMatch(/^(bn|bn-tiled|bn-fused|skipinit|unnormalized)\n/);
      expect(c.tip, c.id).toMatch(/: \d[\d.e+-]*( ms)?( \([\d.]+%\))?$/m);
      expect(c.dataRows).toBe(res.variants.length + 1);
    });
    expect(charts).toHaveLength(parts.length);
    const table = compareResults(readResult(newestResult('step-node-')), readResult(file), 'node', 'browser');
    expect(table).toMatch(/bn +wall ms\/step/);
  }, 300_000);

  it('the Tune view checks and times every convolution, stores the choices in the browser and uses them', async () => {
    let rows: string[][] = [];
    let stored: { kind: string; entries: { chosen: Record<string, string> }[] } | null = null;
    let panel = '';
    const tu = await runInBrowser({
      task: 'tune',
      query: { depth: 10, width: 1, batch: 1, rounds: 1 },
      timeoutMs: 240_000,
      onResult: async (page) => {
        rows = await tableRows(page, 'tune-table');
        stored = await page.evaluate(() => JSON.parse(localStorage.getItem('wrn-tuning-cache') ?? 'null'));
        panel = await page.evaluate(() => document.getElementById('adapter-table')?.textContent ?? '');
        await shoot(page, 'tune');
      },
    });
    expect(tu.error).toBeUndefined();
    const entry = tu.result as { chosen: Record<string, string>; table: { bucket: string; winner: string }[] };
    expect(rows.length).toBe(entry.table.length);
    expect(rows.length).toBeGreaterThan(10);
    for (const r of rows) expect(r[2], r[0]).toMatch(/^(tile-blocked|tile-strided|direct|direct-subgroup|tile-64|winograd-f2|direct-s2|pointwise)$/);
    expect(stored!.kind).toBe('wrn-tuning-cache');
    expect(stored!.entries[0].chosen).toEqual(entry.chosen);
    expect(panel).toMatch(new RegExp(`tuning cache${Object.keys(entry.chosen).length} convolution choices stored in this browser`));
  }, 300_000);

  it('a few training steps show live curves, and the downloaded checkpoint resumes with wrn train --resume', async () => {
    let ink: Awaited<ReturnType<typeof chartInk>> = [];
    let stats = '';
    let ckpt = '';
    const tr = await runInBrowser({
      task: 'train',
      query: { data: 'synthetic', trainCount: 32, testCount: 16, imageSize: 8, batch: 8, epochs: 1, depth: 10, width: 1 },
      timeoutMs: 240_000,
      onResult: async (page) => {
        ink = await chartInk(page, 'train');
        stats = await page.evaluate(() => document.getElementById('train-stats')?.textContent ?? '');
        ckpt = await saveDownload(page, '#train-download-checkpoint', 'browser.wrnckpt');
        await shoot(page, 'train');
      },
    });
    expect(tr.error).toBeUndefined();
    const losses = tr.losses as number[];
    expect(losses.length).toBe(4);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect((tr.history as unknown[]).length).toBe(1);
    // The live curves (loss, test accuracy), then the run list's four overlay charts.
    expect(ink.map((c) => c.id)).toEqual(['train-chart-loss', 'train-chart-accuracy', 'train-runs-loss', 'train-runs-accuracy', 'train-runs-test-loss', 'train-runs-lr']);
    expect(Number(ink[0].points)).toBeGreaterThanOrEqual(4);
    for (const c of ink) expect(c.ink, c.id).toBeGreaterThan(1000);
    expect(stats).toMatch(/step 4\/4 .* img\/s .*ETA .*test accuracy/);
    // The checkpoint is the CLI's format, and a resume of it trains on.
    const c = loadCheckpoint<{ kind: string; config: { data: { source: string } }; step: number }>(ckpt);
    expect(c.header.kind).toBe('wrn-train');
    expect(c.header.config.data.source).toBe('synthetic');
    expect(c.header.step).toBe(4);
    rmSync(join(OUT, 'resumed'), { recursive: true, force: true }); // an earlier test run's: a resume into a run directory is refused
    const resumed = spawnSync(process.execPath, ['bin/wrn.js', 'train', '--resume', ckpt, '--epochs', '2', '--out', join(OUT, 'resumed')], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toMatch(/resumed at epoch 2 step 4/);
  }, 420_000);

  // Issue 20: a checkpoint loaded into the page and resumed with a larger --epochs is the same run.
  // One page: the task stops at step 6 of 8 (maxSteps), its checkpoint is downloaded; Run with the
  // same form makes the uninterrupted 8-step run; the checkpoint is loaded back, epochs set to 3,
  // and Run continues it: its first 8 steps must be the uninterrupted run's, bit for bit (same
  // adapter, same kernels, no atomics), and the added epoch runs at the schedule's last rate.
  it('a checkpoint loaded into the page and resumed with more epochs reproduces the uninterrupted run step for step', async () => {
    const query = { data: 'synthetic', trainCount: 32, testCount: 16, imageSize: 8, batch: 8, epochs: 2, depth: 10, width: 1, lr: 0.1 };
    type Run = { losses: number[]; lrs: number[]; steps: number; config: { epochs: number }; stop: string };
    const runAgain = async (page: Page, name: string): Promise<Run> => {
      await page.click('#train-run');
      await page.waitForFunction(() => /Training: (done|stopped|\d+ failed)/.test(document.getElementById('status')?.textContent ?? '') || document.querySelector('#view-train .error'), null, { timeout: 200_000, polling: 200 });
      return JSON.parse(readFileSync(await saveDownload(page, '#train-download', name), 'utf8')) as Run;
    };
    let whole: Run | null = null;
    let resumed: Run | null = null;
    let note = '';
    const cut = await runInBrowser({
      task: 'train',
      query: { ...query, maxSteps: 6 },
      timeoutMs: 400_000,
      onResult: async (page) => {
        const ckpt = await saveDownload(page, '#train-download-checkpoint', 'cut.wrnckpt');
        whole = await runAgain(page, 'whole.json'); // the form has no maxSteps: the uninterrupted run
        await page.setInputFiles('#train-load-checkpoint', ckpt);
        await page.waitForFunction(() => (document.getElementById('train-load-note')?.textContent ?? '') !== '', null, { timeout: 30_000 });
        note = await page.evaluate(() => document.getElementById('train-load-note')!.textContent!);
        await page.fill('#train-epochs', '3');
        resumed = await runAgain(page, 'resumed.json');
      },
    });
    expect(cut.error).toBeUndefined();
    expect(cut.steps).toBe(6);
    expect(note).toMatch(/step 6/);
    const w = whole as unknown as Run;
    const r = resumed as unknown as Run;
    expect(w.steps).toBe(8);
    expect(w.lrs).toEqual([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]);
    expect(r.config.epochs).toBe(3);
    expect(r.steps).toBe(12);
    expect(r.losses.slice(0, 6)).toEqual(cut.losses);
    expect(r.losses.slice(0, 8)).toEqual(w.losses);
    expect(r.lrs.slice(0, 8)).toEqual(w.lrs);
    expect(r.lrs.slice(8)).toEqual([0.05, 0.05, 0.05, 0.05]); // the extension continues at the last rate
  }, 600_000);

  // The served Fashion-MNIST (wrn browser --serve serves the machine's files): the page's default
  // run is the CLI's main job. 100 steps (epoch 1 of 75 steps, evaluated, then 25 of epoch 2) keep
  // the test near two minutes here; the CLI then resumes the page's checkpoint with no data flag.
  // Missing Fashion-MNIST fails it (npm run setup installs it); WRN_TESTS_NO_FASHION_MNIST=1 skips it, loudly.
  it.skipIf(NO_FASHION_MNIST)('the default training run uses the served Fashion-MNIST, passes 60% after its first epoch, and wrn train --resume continues it with no data flag', async () => {
    if (!fashionMnistInstalled()) throw new Error('Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (npm run setup does), or WRN_TESTS_NO_FASHION_MNIST=1 to skip this test');
    let ckpt = '';
    const tr = await runInBrowser({
      task: 'train',
      query: { maxSteps: 100 },
      timeoutMs: 400_000,
      onResult: async (page) => {
        ckpt = await saveDownload(page, '#train-download-checkpoint', 'browser-fmnist.wrnckpt');
      },
    });
    expect(tr.error).toBeUndefined();
    const history = tr.history as { testAccuracy: number }[];
    expect(history.length).toBe(1);
    expect(history[0].testAccuracy).toBeGreaterThan(0.6);
    const c = loadCheckpoint<{ config: { data: { source: string; trainCount: number; imageSize: number }; batchSize: number; lr: number }; step: number }>(ckpt);
    expect(c.header.config.data).toEqual({ source: 'fashion-mnist', trainCount: 4800, testCount: 2000, imageSize: 12 });
    expect([c.header.config.batchSize, c.header.config.lr, c.header.step]).toEqual([64, 0.2, 100]);
    const out = join(OUT, 'resumed-fmnist');
    rmSync(out, { recursive: true, force: true });
    // --max-steps is a resumable setting the checkpoint keeps (the page's 100): lifted here; no data flag.
    const resumed = spawnSync(process.execPath, ['bin/wrn.js', 'train', '--resume', ckpt, '--max-steps', '0', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toMatch(/resumed at epoch 2 step 100/);
    expect(resumed.stdout).toMatch(/epoch 3\/3 done: .*test accuracy/);
  }, 720_000);

  // Issue 21: a checkpoint trained on dropped files resumes with --data DIR holding the same files
  // (the run's data is checked by content hash, not by name).
  it.skipIf(NO_FASHION_MNIST)('a checkpoint trained on dropped Fashion-MNIST files resumes with wrn train --resume --data DIR', async () => {
    if (!fashionMnistInstalled()) throw new Error('Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (npm run setup does), or WRN_TESTS_NO_FASHION_MNIST=1 to skip this test');
    const dir = '/usr/share/datasets/fashion-mnist';
    let ckpt = '';
    const tr = await runInBrowser({
      task: 'train',
      query: { data: 'files', trainCount: 64, testCount: 32, imageSize: 8, batch: 16, epochs: 1, depth: 10, width: 1 },
      timeoutMs: 240_000,
      onLoad: async (page) => {
        await page.waitForSelector('#train-files', { state: 'attached' });
        await page.setInputFiles('#train-files', readdirSync(dir).filter((f) => f.endsWith('.gz')).map((f) => join(dir, f)));
      },
      onResult: async (page) => {
        ckpt = await saveDownload(page, '#train-download-checkpoint', 'dropped-files.wrnckpt');
      },
    });
    expect(tr.error).toBeUndefined();
    expect(loadCheckpoint<{ config: { data: { source: string } } }>(ckpt).header.config.data.source).toMatch(/^browser-files: /);
    const out = join(OUT, 'resumed-dropped');
    rmSync(out, { recursive: true, force: true });
    const resumed = spawnSync(process.execPath, ['bin/wrn.js', 'train', '--resume', ckpt, '--data', dir, '--epochs', '2', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    expect(resumed.status, `${resumed.stdout}\n${resumed.stderr}`).toBe(0);
    expect(resumed.stdout).toMatch(/resumed at epoch 2 step 4/);
  }, 420_000);

  it('a dropped bad file gives the readable error of the Node reader', async () => {
    let shown = '';
    const bad = await runInBrowser({
      task: 'train',
      query: { data: 'files' },
      timeoutMs: 60_000,
      onLoad: async (page) => {
        await page.waitForSelector('#train-files', { state: 'attached' });
        await page.setInputFiles('#train-files', [
          { name: 'data_batch_1.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(5000, 1) },
          { name: 'test_batch.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3073, 1) },
        ]);
      },
      onResult: async (page) => {
        shown = await page.evaluate(() => document.querySelector('#view-train pre.error')?.textContent ?? '');
        await shoot(page, 'train-bad-file');
      },
    });
    const want = /CIFAR-10 file data_batch_1\.bin \(dropped files\) is truncated or not CIFAR-10: its size, 5000 bytes, is not a multiple of the 3073-byte record/;
    expect(bad.error).toMatch(want);
    expect(shown).toMatch(want);
  }, 120_000);

  // Issue 21: the lab as a researcher uses it. One page: a tiny training run (the task), then the
  // tabs by keyboard, a bad field, a second run, the two overlaid and exported, and the width of
  // every view at 400, 800 and 1280 px.
  it('lab: tabs by arrow keys, a bad field named without a page error, two runs overlaid and exported, no view wider than the window', async () => {
    const query = { data: 'synthetic', trainCount: 32, testCount: 16, imageSize: 8, batch: 8, epochs: 1, depth: 10, width: 1, lr: 0.1 };
    const consoleLines: string[] = [];
    let tabs: string[] = [];
    let order: string[] = [];
    let fieldError = '';
    let invalid: string | null = null;
    let errorsAfterBadField: string[] = [];
    let runRows: string[][] = [];
    let lossLabel = '';
    let csv = '';
    const got: { json?: { kind: string; adapter: string; commit: string; date: string; config: { lr: number }; losses: number[] } } = {};
    const overflow: string[] = [];
    const r = await runInBrowser({
      task: 'train',
      query,
      timeoutMs: 300_000,
      onConsole: (l) => consoleLines.push(l),
      onResult: async (page) => {
        const selected = () => page.evaluate(() => document.querySelector('[role="tab"][aria-selected="true"]')?.id ?? '');
        order = await page.evaluate(() => Array.from(document.querySelectorAll('[role="tablist"] [role="tab"]')).map((t) => t.id));
        await page.focus('#tab-train');
        for (const key of ['Home', 'ArrowRight', 'ArrowLeft', 'ArrowLeft', 'End']) {
          await page.keyboard.press(key);
          tabs.push(`${key}:${await selected()}:${await page.evaluate(() => document.activeElement?.id ?? '')}`);
        }
        await page.click('#tab-train');
        const before = consoleLines.length;
        await page.fill('#train-lr', 'abc');
        await page.click('#train-run');
        await page.waitForSelector('#view-train pre.error', { timeout: 30_000 });
        fieldError = await page.evaluate(() => document.querySelector('#view-train pre.error')!.textContent!);
        invalid = await page.getAttribute('#train-lr', 'aria-invalid');
        await page.waitForTimeout(500);
        errorsAfterBadField = consoleLines.slice(before).filter((l) => /page error|Uncaught/i.test(l));
        await page.fill('#train-lr', '0.05');
        await page.click('#train-run');
        await page.waitForFunction(() => /Training: (done|stopped)/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 200_000, polling: 200 });
        runRows = await page.evaluate(() => Array.from(document.querySelectorAll('#train-runs-table tr')).slice(1).map((tr) => Array.from(tr.children).map((c) => c.textContent ?? '')));
        lossLabel = await page.evaluate(() => document.getElementById('train-runs-loss')?.getAttribute('aria-label') ?? '');
        csv = readFileSync(await saveDownload(page, '#train-run-2-csv', 'run-2.csv'), 'utf8');
        got.json = JSON.parse(readFileSync(await saveDownload(page, '#train-run-1-json', 'run-1.json'), 'utf8'));
        for (const width of [400, 800, 1280]) {
          await page.setViewportSize({ width, height: 900 });
          for (const v of ['adapter', 'check', 'kernels', 'step', 'tune', 'train']) {
            if (!(await page.$(`#tab-${v}`))) continue;
            await page.click(`#tab-${v}`);
            const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
            if (sw > iw) overflow.push(`${v} at ${width} px: ${sw} px wide`);
          }
          await shoot(page, `lab-train-${width}`);
        }
      },
    });
    expect(r.error).toBeUndefined();
    // Home: the first tab; right: the second; left: the first again; left: wraps to the last; End: the last.
    const ids = tabs.map((t) => t.split(':')[1]);
    expect(order.length).toBeGreaterThanOrEqual(5);
    expect(ids).toEqual([order[0], order[1], order[0], order[order.length - 1], order[order.length - 1]]);
    expect(tabs.every((t) => t.split(':')[1] === t.split(':')[2])).toBe(true); // focus follows the selection
    expect(fieldError).toMatch(/^Training: learning rate \(lr\) must be a positive number, got 'abc'/);
    expect(invalid).toBe('true');
    expect(errorsAfterBadField).toEqual([]);
    expect(runRows).toHaveLength(2);
    expect(runRows[0][1]).toMatch(/^1: WRN-10-1 bn, lr 0\.1, batch 8/);
    expect(runRows[1][1]).toMatch(/^2: WRN-10-1 bn, lr 0\.05, batch 8/);
    expect(lossLabel).toContain('1: WRN-10-1 bn, lr 0.1');
    expect(lossLabel).toContain('2: WRN-10-1 bn, lr 0.05');
    const lines = csv.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('# '))).toEqual(expect.arrayContaining([expect.stringMatching(/^# adapter: /), expect.stringMatching(/^# commit: [0-9a-f]{12}|^# commit: unknown/), expect.stringMatching(/^# settings: \{/)]));
    const rows = lines.filter((l) => !l.startsWith('#'));
    expect(rows[0]).toBe('step,epoch,train_loss,lr,test_loss,test_accuracy');
    expect(rows).toHaveLength(1 + 4);
    expect(rows[4]).toMatch(/^4,1,[\d.e-]+,0\.05,[\d.e-]+,[\d.]+$/); // the evaluation ends step 4
    const j = got.json!;
    expect(j.kind).toBe('wrn-browser-train');
    expect(j.config.lr).toBe(0.1);
    expect(j.losses).toHaveLength(4);
    expect(j.adapter).toMatch(/swiftshader/i);
    expect(overflow).toEqual([]);
  }, 420_000);

  it('a filter runs only the matching checks', async () => {
    const f = (await runInBrowser({ task: 'check', query: { filter: 'relu' }, timeoutMs: 60_000 })) as BrowserCheckResult;
    expect(f.error).toBeUndefined();
    expect(f.lines!.length).toBeGreaterThan(0);
    expect(f.lines!.every((l) => l.name.includes('relu') && l.ok)).toBe(true);
  }, 120_000);

  it('an unknown task is reported as an error, not a hang', async () => {
    const e = await runInBrowser({ task: 'no-such-task', timeoutMs: 30_000 });
    expect(e.error).toMatch(/unknown task 'no-such-task' \(known: .*check/);
  }, 60_000);
});

// Issue 21: Stop in the step benchmark takes effect within one step (it used to wait for the end of
// the variant's round), and what finished is shown, marked partial and downloadable. Its own block:
// it does not need the kernel checks the block above runs first.
describeGpu('the lab stops a step benchmark within one step (headless Chromium)', () => {
  it('Stop during round 2 ends the run within one step; round 1 is shown, marked partial, and downloads', async () => {
    requireChromium();
    ensureBundle();
    // Three variants at batch 16, 3 wall-timed steps each per round, no warm-up beyond the costed step:
    // the stop is clicked while round 2's second variant runs its first step. The old stop point,
    // after the first variant's profiled step, was 7 to 8 steps later.
    const query = { depth: 10, width: 1, batch: 16, steps: 3, warmup: 0, rounds: 2, variants: 'bn,skipinit,unnormalized' };
    let atClick = '';
    let elapsed = 0;
    let rows: string[][] = [];
    let note = '';
    let status = '';
    let saveDisabled = true;
    let file = '';
    const st = await runInBrowser({
      task: 'step',
      query,
      timeoutMs: 300_000,
      onLoad: async (page) => {
        await page.waitForFunction(() => /^round 2 of 2, variant 2 of 3 \(\S+\), step 1 of /.test(document.querySelector('#step-progress span')?.textContent ?? ''), null, { timeout: 280_000, polling: 50 });
        atClick = await page.evaluate(() => document.querySelector('#step-progress span')?.textContent ?? '');
        const t0 = Date.now();
        await page.click('#step-stop');
        await page.waitForFunction(() => window.__wrnResult !== undefined, null, { timeout: 120_000, polling: 50 });
        elapsed = Date.now() - t0;
      },
      onResult: async (page) => {
        rows = await tableRows(page, 'step-table');
        note = await page.evaluate(() => document.getElementById('step-partial')?.textContent ?? '');
        status = await page.evaluate(() => document.getElementById('status')?.textContent ?? '');
        saveDisabled = await page.isDisabled('#step-download');
        if (!saveDisabled) file = await saveDownload(page, '#step-download', 'step-stopped.json');
        await shoot(page, 'step-stopped');
      },
    });
    expect(st.error).toBeUndefined();
    const res = st.result as StepBenchResult;
    // The slowest wall-timed step of round 1: what a stop may have to wait for (the one in flight).
    const step = Math.max(...res.rounds.flatMap((r) => Object.values(r.variants).flatMap((v) => v.wallSamples)));
    console.log(`[browser test] stop: clicked at '${atClick}', result ${elapsed} ms later; slowest step of round 1 ${step.toFixed(0)} ms; stopped before '${res.stoppedAt}'`);
    expect(atClick).toMatch(/^round 2 of 2, variant 2 of 3 \(\S+\), step 1 of \d$/);
    expect(st.partial).toBe(true);
    expect(st.stop).toBe('stopped');
    expect(res.partial).toBe(true);
    // Stopped before the next wall-timed step (variant 3's, or variant 1's second if the poll came late).
    expect(res.stoppedAt).toMatch(/^round 2 of 2, variant (3 of 3 \(\S+\), step 1|1 of 3 \(\S+\), step 2) of \d$/);
    expect(res.rounds).toHaveLength(1);
    expect(res.variants.map((v) => v.name)).toEqual(['bn', 'skipinit', 'unnormalized']);
    expect(rows.map((r) => r[0])).toEqual(['bn', 'skipinit', 'unnormalized']);
    expect(note).toMatch(/^partial: stopped before round 2 of 2, .*: 1 of 2 rounds finished; the tables and chart show that round only$/);
    expect(status).toMatch(/^Step benchmark: stopped, partial result in [\d.]+ s$/);
    expect(saveDisabled).toBe(false);
    const saved = readResult(file) as StepBenchResult;
    expect([saved.partial, saved.stoppedAt, saved.rounds.length]).toEqual([true, res.stoppedAt, 1]);
    // At most the step in flight (1.5x round 1's slowest, for a loaded 2-core host), plus 2.5 s to
    // summarize, draw the tables and the three-panel chart, publish, and for this test's 50 ms polling.
    expect(elapsed).toBeLessThan(1.5 * step + 2500);
  }, 360_000);
});
