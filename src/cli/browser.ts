// `wrn browser`: run a page task (the kernel checks by default) in headless Chromium with WebGPU,
// or serve the page for a browser of your own. Node only (bundled into the CLI, not the page).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags, usage, requireRange, UsageError, MAX_TIMEOUT_S } from './args.js';
import { runInBrowser, formatCheckResult, startServer, WEB_DIST } from '../web/runner.js';

const FLAGS = {
  task: { type: 'string', default: 'check', help: "the page's task: check, adapter, kernels, step, train (the lab's views, with --query for their settings) or bench; with --serve, the lab opens with no task unless one is given" },
  filter: { type: 'string', default: '', help: 'task=check: run only the checks whose name contains this' },
  query: { type: 'string', default: '', help: "more query parameters for the page's task, as k=v&k2=v2 (e.g. batch=1&reps=2 for task=bench)" },
  gpu: { type: 'bool', default: false, help: "use the machine's GPU instead of SwiftShader" },
  timeout: { type: 'number', default: 300, help: 'seconds to wait for the page' },
  verbose: { type: 'bool', default: false, help: "print the page's console (with --serve: every request)" },
  json: { type: 'bool', default: false, help: 'print the whole result as JSON' },
  screenshot: { type: 'string', default: '', help: 'write a PNG of the whole page to this file when the task is done (one per --widths: FILE-<width>.png when there are several)' },
  widths: { type: 'list', default: [1280], help: 'window widths in CSS px: the page opens at the first; --screenshot takes one PNG at each' },
  serve: { type: 'bool', default: false, help: 'only serve the page (open the printed URL in Chrome) until Ctrl-C' },
  port: { type: 'int', default: 0, help: 'with --serve: the port (0: a free one)' },
  host: { type: 'string', default: '127.0.0.1', help: 'with --serve: the address to bind (WebGPU needs a secure context: 127.0.0.1, or a tunnel to it)' },
  help: { type: 'bool', default: false, help: 'show this help' },
} as const;

/** The flags of `wrn browser`, checked; errors name the flag. */
export function parseBrowserFlags(argv: string[]) {
  const f = parseFlags('browser', argv, FLAGS);
  requireRange('browser', 'timeout', f.timeout, 1, MAX_TIMEOUT_S); // 0 would mean no timeout
  requireRange('browser', 'port', f.port, 0, 65535);
  if (!f.host) throw new UsageError('wrn browser: --host is empty; give an address such as 127.0.0.1');
  const widths = (f.widths as unknown[]).map(Number);
  if (!widths.length || !widths.every((w) => Number.isInteger(w) && w >= 200 && w <= 8000)) throw new UsageError(`wrn browser: --widths must be window widths in CSS px (integers 200-8000), got '${(f.widths as unknown[]).join(',')}'`);
  return { ...f, widths };
}

/** The page's query: --query k=v&... and --filter (which wins over a filter in --query). */
function queryOf(q: string, filter: string): Record<string, string> {
  const out = Object.fromEntries(new URLSearchParams(q));
  if ('task' in out) throw new UsageError("wrn browser: --query cannot set 'task'; use --task");
  if (filter) out.filter = filter;
  return out;
}

export async function browserCommand(argv: string[]): Promise<number> {
  const f = parseBrowserFlags(argv);
  if (f.help) {
    console.log(
      usage(
        'browser',
        'Run the engine in headless Chromium (WebGPU on SwiftShader unless --gpu) and report what the page found: by default every WGSL kernel against its CPU reference, in the browser. Needs npm run build and Chromium (apt-get install chromium).',
        FLAGS,
      ),
    );
    return 0;
  }
  const query = queryOf(f.query, f.filter);
  if (f.serve) {
    if (!existsSync(join(WEB_DIST, 'main.js'))) console.warn(`warning: ${join(WEB_DIST, 'main.js')} is missing: run npm run build`);
    const { url, close } = await startServer({ port: f.port, host: f.host, log: f.verbose ? (l) => console.log(l) : undefined });
    // The lab (every view, run from its form) unless a task was asked for, which then runs at load.
    const taskGiven = argv.some((a) => a === '--task' || a.startsWith('--task='));
    const search = new URLSearchParams(taskGiven ? { task: f.task, ...query } : query);
    console.log(`serving the lab at ${url}\nopen ${url}${search.size ? `?${search}` : ''} in Chrome (Ctrl-C to stop)`);
    if (!['127.0.0.1', 'localhost', '::1'].includes(f.host)) {
      console.log('note: WebGPU needs a secure context; from another machine use an SSH tunnel (ssh -L PORT:127.0.0.1:PORT) and open it as http://127.0.0.1:PORT/.');
    }
    await new Promise<void>((done) => {
      const stop = () => close().then(done);
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  }
  const r = await runInBrowser({
    task: f.task,
    query,
    gpu: f.gpu ? 'default' : 'swiftshader',
    timeoutMs: f.timeout * 1000,
    verbose: f.verbose,
    viewport: { width: f.widths[0], height: 900 },
    onResult: f.screenshot
      ? async (page) => {
          for (const width of f.widths) {
            const path = f.widths.length > 1 ? f.screenshot.replace(/(\.png)?$/i, `-${width}.png`) : f.screenshot;
            await page.setViewportSize({ width, height: 900 });
            await page.waitForTimeout(300); // charts re-draw at the new width
            await page.screenshot({ path, fullPage: true });
            console.log(`screenshot: ${path}`);
          }
        }
      : undefined,
  });
  if (f.json) console.log(JSON.stringify(r, null, 2));
  else if (r.error || Array.isArray(r.lines)) console.log(formatCheckResult(r));
  else console.log(JSON.stringify(r, null, 2));
  console.log(`(${r.browserVersion}, ${(r.wallMs / 1000).toFixed(1)} s)`);
  return r.error || (typeof r.failed === 'number' && r.failed > 0) ? 1 : 0;
}
