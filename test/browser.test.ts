// The engine IN THE BROWSER: headless Chromium with WebGPU (SwiftShader), driven from Node. The page
// (src/web/main.ts, bundled to dist/web/main.js) runs the same kernel checks as `wrn check`, each
// WGSL kernel against its CPU reference, and this test asserts on what it published.
// A missing Chromium fails the test (unless WRN_TESTS_CPU_ONLY=1, which skips it and says so).
import { beforeAll, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeGpu } from './helpers/optest.js';
import { runInBrowser, chromiumPath, ROOT, WEB_DIST, type BrowserCheckResult } from '../src/web/runner.js';

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

describeGpu('the engine in headless Chromium (WebGPU on SwiftShader)', () => {
  let r: BrowserCheckResult;

  beforeAll(async () => {
    requireChromium();
    ensureBundle();
    r = (await runInBrowser({ task: 'check', timeoutMs: 240_000 })) as BrowserCheckResult;
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
