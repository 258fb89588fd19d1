// Run the engine in headless Chromium (WebGPU on SwiftShader, or the machine's GPU) and bring the
// page's result back to Node. Builds nothing: dist/web/main.js must exist (npm run build). Node
// only (the CLI and the tests, through src/web/runner.ts); never imported by the page (main.ts).
//
//   const r = await runInBrowser({ task: 'check', query: { filter: 'conv2d' } });
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startServer, WEB_DIST } from './serve.js';
import type { PageResult, CheckTaskResult } from './tasks.js';

export interface RunInBrowserOptions {
  /** The page's task (default 'check'). */
  task?: string;
  /** More query parameters for the page, e.g. { filter: 'conv2d' }. */
  query?: Record<string, string | number | boolean>;
  /** 'swiftshader' (default): WebGPU on the CPU, works anywhere; 'default': the machine's GPU. */
  gpu?: 'swiftshader' | 'default';
  /** How long to wait for the page's result (default 300 s). */
  timeoutMs?: number;
  /** Print the page's console to this process's console. */
  verbose?: boolean;
  headless?: boolean;
  /** Default: $CHROMIUM_PATH, else /usr/bin/chromium. */
  chromiumPath?: string;
  extraArgs?: string[];
  onConsole?: (line: string) => void;
  /** Called once the page has loaded, while it runs its task (e.g. to drop files into it). */
  onLoad?: (page: Page) => Promise<void>;
  /** Called after the page published its result, before Chromium closes (screenshots, downloads). */
  onResult?: (page: Page, result: PageResult) => Promise<void>;
  /** The browser window's size (default 1280 x 900). */
  viewport?: { width: number; height: number };
}

export type BrowserResult = PageResult & {
  browserVersion: string;
  launchArgs: string[];
  /** Launch to close, ms. */
  wallMs: number;
};

export type BrowserCheckResult = BrowserResult & Partial<CheckTaskResult>;

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_HELP =
  'Chromium is needed to run the engine in a browser. Install it with\n' +
  '  sudo apt-get install -y chromium\n' +
  '(Debian/Ubuntu; it also provides SwiftShader, WebGPU without a GPU), or point CHROMIUM_PATH at a Chrome/Chromium binary.';

/** Flags for WebGPU on SwiftShader (Vulkan on the CPU): works on any Linux machine without a GPU. */
export const SWIFTSHADER_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--enable-features=Vulkan',
];

/** Flags for WebGPU on the machine's GPU (Linux Chrome still gates WebGPU behind these). */
export const GPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--ignore-gpu-blocklist'];

/** Quiet, offline, fresh-profile flags (playwright already gives a fresh --user-data-dir and --no-sandbox). */
export const COMMON_ARGS = ['--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The Chromium binary: opts.chromiumPath, $CHROMIUM_PATH, or /usr/bin/chromium. */
export function chromiumPath(explicit?: string): string {
  return explicit || process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
}

/** Launch arguments for the given adapter choice. */
export function launchArgs(gpu: 'swiftshader' | 'default' = 'swiftshader', extraArgs: string[] = []): string[] {
  if (gpu !== 'swiftshader' && gpu !== 'default') throw new Error(`runInBrowser: gpu must be 'swiftshader' or 'default', got '${gpu}'`);
  return [...(gpu === 'swiftshader' ? SWIFTSHADER_ARGS : GPU_ARGS), ...COMMON_ARGS, ...extraArgs];
}

/**
 * Open the page in headless Chromium, run `task` there, and return what it published on
 * window.__wrnResult ({ task, userAgent, adapter, ..., error? }) plus { browserVersion, launchArgs, wallMs }.
 * A page that reports an error is returned, not thrown (look at `result.error`); what throws is
 * everything that kept the page from reporting: no bundle, no Chromium, a crash, the timeout.
 */
export async function runInBrowser(opts: RunInBrowserOptions = {}): Promise<BrowserResult> {
  const task = opts.task ?? 'check';
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const gpu = opts.gpu ?? 'swiftshader';
  const args = launchArgs(gpu, opts.extraArgs);
  const bundle = join(WEB_DIST, 'main.js');
  if (!existsSync(bundle)) throw new Error(`the browser bundle ${bundle} is missing: run npm run build`);
  const exe = chromiumPath(opts.chromiumPath);
  if (!existsSync(exe)) throw new Error(`Chromium not found at ${exe}.\n${CHROMIUM_HELP}`);
  let chromium: typeof import('playwright-core').chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm install; it is a devDependency): ${(e as Error).message}`);
  }

  const consoleLines: string[] = [];
  const note = (line: string) => {
    consoleLines.push(line);
    if (consoleLines.length > 400) consoleLines.splice(0, consoleLines.length - 400);
    opts.onConsole?.(line);
    if (opts.verbose) console.log(`[browser] ${line}`);
  };

  const t0 = performance.now();
  const server = await startServer();
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: exe, headless: opts.headless ?? true, args, timeout: 60_000 });
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('console', (m) => note(`${m.type() === 'log' ? '' : `${m.type()}: `}${m.text()}`));
    page.on('pageerror', (e) => note(`page error: ${e.message}`));

    // Whatever ends the page before it reports (a crash, a bundle that did not load, the timeout)
    // rejects this, with the page's console attached.
    let abort: (why: string) => void = () => {};
    const aborted = new Promise<never>((_, reject) => {
      abort = (why: string) => reject(new Error(`${why}\n${describeConsole(consoleLines)}`));
    });
    aborted.catch(() => {});
    page.on('crash', () => abort('the page crashed (renderer or GPU process died)'));
    browser.on('disconnected', () => abort('Chromium exited before the page reported'));
    page.on('response', (r) => {
      if (r.status() >= 400 && new URL(r.url()).pathname.endsWith('.js')) abort(`${r.url()} answered HTTP ${r.status()} (run npm run build)`);
    });
    page.on('pageerror', (e) => {
      // A module that fails to parse or import never runs its own error handler.
      if (/SyntaxError|Failed to fetch dynamically imported module|does not provide an export/.test(e.message)) abort(`the bundle did not load: ${e.message}`);
    });

    const q = new URLSearchParams({ task });
    for (const [k, v] of Object.entries(opts.query ?? {})) q.set(k, String(v));
    const url = `${server.url}?${q}`;
    note(`opening ${url} (${gpu === 'swiftshader' ? 'WebGPU on SwiftShader' : 'WebGPU on the default adapter'}, Chromium ${browser.version()})`);
    await Promise.race([page.goto(url, { waitUntil: 'load', timeout: 60_000 }), aborted]);

    if (opts.onLoad) await Promise.race([opts.onLoad(page), aborted]);
    const done = page
      .waitForFunction(() => window.__wrnResult !== undefined, null, { timeout: timeoutMs, polling: 200 })
      .then(() => page.evaluate(() => window.__wrnResult));
    done.catch(() => {});
    let result: PageResult | undefined;
    try {
      result = await Promise.race([done, aborted]);
    } catch (e) {
      const err = e as Error | undefined;
      if (err?.name !== 'TimeoutError' && !/Timeout .*exceeded/i.test(err?.message ?? '')) throw e;
      const progress: unknown[] = await page.evaluate(() => window.__wrnProgress ?? []).catch(() => []);
      const last = progress.length ? `\nthe page's last progress: ${JSON.stringify(progress[progress.length - 1])} (${progress.length} steps done)` : '\nthe page reported no progress';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for the page's result (task=${task}, ${url})${last}\n${describeConsole(consoleLines)}`);
    }
    if (opts.onResult) await opts.onResult(page, result as PageResult);
    return { ...(result as PageResult), browserVersion: browser.version(), launchArgs: args, wallMs: performance.now() - t0 };
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
  }
}

function describeConsole(lines: string[]): string {
  if (!lines.length) return "the page's console was empty";
  const tail = lines.slice(-60);
  return `the page's console${lines.length > tail.length ? ` (last ${tail.length} of ${lines.length} lines)` : ''}:\n  ${tail.join('\n  ')}`;
}

/** A readable report of a check result (the same shape `wrn check` prints). */
export function formatCheckResult(r: BrowserCheckResult): string {
  const out = [`user agent: ${r.userAgent}`];
  if (r.adapterName) out.push(`adapter: ${r.adapterName}`);
  if (r.error) {
    out.push(`error: ${r.error}`);
    return out.join('\n');
  }
  const fmt = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x.toExponential(2) : String(x));
  for (const l of r.lines ?? []) {
    out.push(`  ${l.ok ? 'PASS' : 'FAIL'}  ${l.name.padEnd(44)} max abs err ${fmt(l.maxAbsErr)}, max rel err ${fmt(l.maxRelErr)}  (${l.ms.toFixed(0)} ms)${l.ok ? '' : `\n        ${l.message}`}`);
  }
  if (r.lines) out.push(`${r.passed} passed, ${r.failed} failed (in the browser)`);
  if (r.uncapturedErrors?.length) out.push(`uncaptured WebGPU errors:\n  ${r.uncapturedErrors.join('\n  ')}`);
  if (r.deviceLost) out.push(r.deviceLost);
  return out.join('\n');
}
