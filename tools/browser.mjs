// Run the engine in headless Chromium (WebGPU on SwiftShader, or the machine's GPU) and bring the
// page's result back to Node. Builds nothing: dist/web/main.js must exist (npm run build).
//
//   import { runInBrowser } from './tools/browser.mjs';   (typed wrapper: src/web/runner.ts)
//   const r = await runInBrowser({ task: 'check', query: { filter: 'conv2d' } });
//
//   node tools/browser.mjs [--task check] [--filter NAME] [--gpu] [--timeout SECONDS] [--verbose] [--json]
//       runs the task in headless Chromium and prints what the page reported; exit code 1 on failure.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer, WEB_DIST } from './serve.mjs';

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
export function chromiumPath(explicit) {
  return explicit || process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
}

/** Launch arguments for the given adapter choice. */
export function launchArgs(gpu = 'swiftshader', extraArgs = []) {
  if (gpu !== 'swiftshader' && gpu !== 'default') throw new Error(`runInBrowser: gpu must be 'swiftshader' or 'default', got '${gpu}'`);
  return [...(gpu === 'swiftshader' ? SWIFTSHADER_ARGS : GPU_ARGS), ...COMMON_ARGS, ...extraArgs];
}

/**
 * Open the page in headless Chromium, run `task` there, and return what it published on
 * window.__wrnResult ({ task, userAgent, adapter, ..., error? }) plus { browserVersion, launchArgs, wallMs }.
 * A page that reports an error is returned, not thrown (look at `result.error`); what throws is
 * everything that kept the page from reporting: no bundle, no Chromium, a crash, the timeout.
 *
 * @param {{
 *   task?: string,
 *   query?: Record<string, string | number | boolean>,
 *   gpu?: 'swiftshader' | 'default',
 *   timeoutMs?: number,
 *   verbose?: boolean,
 *   headless?: boolean,
 *   chromiumPath?: string,
 *   extraArgs?: string[],
 *   onConsole?: (line: string) => void,
 * }} [opts]
 */
export async function runInBrowser(opts = {}) {
  const task = opts.task ?? 'check';
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const gpu = opts.gpu ?? 'swiftshader';
  const args = launchArgs(gpu, opts.extraArgs);
  const bundle = join(WEB_DIST, 'main.js');
  if (!existsSync(bundle)) throw new Error(`the browser bundle ${bundle} is missing: run npm run build`);
  const exe = chromiumPath(opts.chromiumPath);
  if (!existsSync(exe)) throw new Error(`Chromium not found at ${exe}.\n${CHROMIUM_HELP}`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new Error(`playwright-core is not installed (npm install; it is a devDependency): ${e.message}`);
  }

  const consoleLines = [];
  const note = (line) => {
    consoleLines.push(line);
    if (consoleLines.length > 400) consoleLines.splice(0, consoleLines.length - 400);
    opts.onConsole?.(line);
    if (opts.verbose) console.log(`[browser] ${line}`);
  };

  const t0 = performance.now();
  const server = await startServer();
  let browser;
  try {
    browser = await chromium.launch({ executablePath: exe, headless: opts.headless ?? true, args, timeout: 60_000 });
    const page = await browser.newPage();
    page.on('console', (m) => note(`${m.type() === 'log' ? '' : `${m.type()}: `}${m.text()}`));
    page.on('pageerror', (e) => note(`page error: ${e.message}`));

    // Whatever ends the page before it reports (a crash, a bundle that did not load, the timeout)
    // rejects this, with the page's console attached.
    let abort;
    const aborted = new Promise((_, reject) => {
      abort = (why) => reject(new Error(`${why}\n${describeConsole(consoleLines)}`));
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

    const done = page
      .waitForFunction(() => window.__wrnResult !== undefined, null, { timeout: timeoutMs, polling: 200 })
      .then(() => page.evaluate(() => window.__wrnResult));
    done.catch(() => {});
    let result;
    try {
      result = await Promise.race([done, aborted]);
    } catch (e) {
      if (e?.name !== 'TimeoutError' && !/Timeout .*exceeded/i.test(e?.message ?? '')) throw e;
      const progress = await page.evaluate(() => window.__wrnProgress ?? []).catch(() => []);
      const last = progress.length ? `\nthe page's last progress: ${JSON.stringify(progress[progress.length - 1])} (${progress.length} steps done)` : '\nthe page reported no progress';
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for the page's result (task=${task}, ${url})${last}\n${describeConsole(consoleLines)}`);
    }
    return { ...result, browserVersion: browser.version(), launchArgs: args, wallMs: performance.now() - t0 };
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
  }
}

function describeConsole(lines) {
  if (!lines.length) return "the page's console was empty";
  const tail = lines.slice(-60);
  return `the page's console${lines.length > tail.length ? ` (last ${tail.length} of ${lines.length} lines)` : ''}:\n  ${tail.join('\n  ')}`;
}

/** A readable report of a check result (the same shape `wrn check` prints). */
export function formatCheckResult(r) {
  const out = [`user agent: ${r.userAgent}`];
  if (r.adapterName) out.push(`adapter: ${r.adapterName}`);
  if (r.error) {
    out.push(`error: ${r.error}`);
    return out.join('\n');
  }
  const fmt = (x) => (typeof x === 'number' && Number.isFinite(x) ? x.toExponential(2) : String(x));
  for (const l of r.lines ?? []) {
    out.push(`  ${l.ok ? 'PASS' : 'FAIL'}  ${l.name.padEnd(44)} max abs err ${fmt(l.maxAbsErr)}, max rel err ${fmt(l.maxRelErr)}  (${l.ms.toFixed(0)} ms)${l.ok ? '' : `\n        ${l.message}`}`);
  }
  if (r.lines) out.push(`${r.passed} passed, ${r.failed} failed (in the browser)`);
  if (r.uncapturedErrors?.length) out.push(`uncaptured WebGPU errors:\n  ${r.uncapturedErrors.join('\n  ')}`);
  if (r.deviceLost) out.push(r.deviceLost);
  return out.join('\n');
}

// ---- standalone ----------------------------------------------------------------------------------

// Standalone only when this very file is the script (not when bundled into the CLI).
const isMain = /\/tools\/browser\.mjs$/.test(import.meta.url) && !!process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  const o = { task: 'check', query: {}, gpu: 'swiftshader', timeoutMs: 300_000, verbose: false, json: false };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = argv[i].split(/=(.*)/s, 2);
    const val = () => v ?? argv[++i];
    if (k === '--task') o.task = val();
    else if (k === '--filter') o.query.filter = val();
    else if (k === '--query') Object.assign(o.query, Object.fromEntries(new URLSearchParams(val())));
    else if (k === '--gpu') o.gpu = 'default';
    else if (k === '--timeout') o.timeoutMs = 1000 * Number(val());
    else if (k === '--verbose') o.verbose = true;
    else if (k === '--json') o.json = true;
    else {
      console.error('usage: node tools/browser.mjs [--task check] [--filter NAME] [--query k=v&...] [--gpu] [--timeout SECONDS] [--verbose] [--json]');
      process.exit(k === '--help' || k === '-h' ? 0 : 2);
    }
  }
  try {
    const r = await runInBrowser(o);
    console.log(o.json ? JSON.stringify(r, null, 2) : r.lines || r.error ? formatCheckResult(r) : JSON.stringify(r, null, 2));
    process.exit(r.error || r.failed ? 1 : 0);
  } catch (e) {
    console.error(`wrn browser: ${e.message}`);
    process.exit(1);
  }
}
