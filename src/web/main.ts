// The browser entry (bundled to dist/web/main.js by tools/build.mjs). It opens WebGPU through the
// engine, runs the task named by the page URL (?task=check&filter=conv2d; default task=check), renders
// what it finds, and publishes one JSON-able object on window.__wrnResult, which the headless
// runner (src/web/runner.ts) waits for. Every failure is published as { error }: never a hang.
//
// Extension point: a module that calls registerTask('bench', fn, { timestamps: true }) (src/web/tasks.ts)
// and is imported below makes ?task=bench work, in a user's Chrome and through runInBrowser({ task: 'bench' }).
import { initWebGPU, describeAdapter } from '../index.js';
import { runChecks, selectChecks, type CheckLine } from '../check.js';
import { tasks, taskOptions, registerTask, type TaskContext, type PageResult, type CheckTaskResult } from './tasks.js';
// Task modules register themselves on import, e.g.:  import '../bench/web.js';
import '../bench/web.js';

declare global {
  interface Window {
    /** The page's result, set exactly once. */
    __wrnResult?: PageResult;
    /** Partial progress of the running task (what the runner reports on a timeout). */
    __wrnProgress?: unknown[];
  }
}

const t0 = performance.now();
const params = new URLSearchParams(location.search);
const taskName = params.get('task') || 'check';
const out = document.getElementById('out');
const statusEl = document.getElementById('status');
window.__wrnProgress = [];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function setStatus(text: string, cls: string): void {
  if (statusEl) {
    statusEl.textContent = text;
    statusEl.className = cls;
  }
  document.title = `wrn-webgpu: ${text}`;
}

function log(line: string): void {
  console.log(`[wrn] ${line}`);
  out?.appendChild(el('div', line, 'log'));
}

let published = false;
function publish(r: PageResult): void {
  if (published) return;
  published = true;
  r.ms = performance.now() - t0;
  window.__wrnResult = r;
  const json = el('pre', JSON.stringify(r, null, 2), 'json');
  json.id = 'result-json';
  const details = el('details');
  details.appendChild(el('summary', 'result JSON (window.__wrnResult)'));
  details.appendChild(json);
  out?.appendChild(details);
  console.log(`[wrn] result published (${r.error ? `error: ${r.error}` : `task ${r.task} done`}) in ${r.ms.toFixed(0)} ms`);
}

function publishError(e: unknown, extra: Partial<PageResult> = {}): void {
  const err = e instanceof Error ? e : new Error(String(e));
  setStatus(`error: ${err.message.split('\n')[0]}`, 'fail');
  out?.appendChild(el('pre', err.message, 'fail'));
  console.error(`[wrn] error: ${err.message}`);
  publish({ task: taskName, userAgent: navigator.userAgent, url: location.href, ...extra, error: err.message, stack: err.stack });
}

// Anything that escapes the task (an error thrown in a callback, a rejected promise nobody awaits)
// still ends the page with a result.
window.addEventListener('error', (ev) => publishError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => publishError(ev.reason));

// ---- task=check: every registered kernel check against its CPU reference -----------------------

function fmtErr(x: number): string {
  return Number.isFinite(x) ? x.toExponential(2) : String(x);
}

async function checkTask(ctx: TaskContext): Promise<CheckTaskResult & Record<string, unknown>> {
  const filter = ctx.params.get('filter') ?? '';
  const n = selectChecks(filter).length; // no match: an error the page reports
  ctx.log(`checking ${n} kernels${filter ? ` matching '${filter}'` : ''} against their CPU references`);
  const table = el('table');
  const head = el('tr');
  for (const h of ['', 'check', 'max abs err', 'max rel err', 'ms', 'message']) head.appendChild(el('th', h));
  table.appendChild(head);
  ctx.output?.appendChild(table);
  const lines = await runChecks(filter, (l: CheckLine) => {
    ctx.progress(l);
    const tr = el('tr', undefined, l.ok ? 'pass' : 'fail');
    for (const c of [l.ok ? 'PASS' : 'FAIL', l.name, fmtErr(l.maxAbsErr), fmtErr(l.maxRelErr), l.ms.toFixed(0), l.message]) tr.appendChild(el('td', c));
    table.appendChild(tr);
    console.log(`[wrn]   ${l.ok ? 'PASS' : 'FAIL'}  ${l.name}  max abs err ${fmtErr(l.maxAbsErr)}  (${l.ms.toFixed(0)} ms)${l.ok ? '' : `: ${l.message}`}`);
  });
  const failed = lines.filter((l) => !l.ok).length;
  ctx.log(`${lines.length - failed} passed, ${failed} failed`);
  return { filter, lines, passed: lines.length - failed, failed };
}

registerTask('check', checkTask);

// ---- run ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  setStatus(`running task '${taskName}'`, 'running');
  const task = tasks.get(taskName);
  if (!task) throw new Error(`unknown task '${taskName}' (known: ${[...tasks.keys()].join(', ')})`);
  if (!('gpu' in navigator) || !navigator.gpu) {
    throw new Error(
      `WebGPU is not available in this browser (navigator.gpu is missing${window.isSecureContext ? '' : '; this page is not a secure context: open it on http://127.0.0.1 or https'}). ` +
        'Use a recent Chrome; on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan.',
    );
  }
  const rt = await initWebGPU({ timestamps: !!taskOptions.get(taskName)?.timestamps }).catch((e: Error) => {
    if (!/No WebGPU adapter/.test(e.message)) throw e;
    throw new Error(
      'No WebGPU adapter found (navigator.gpu.requestAdapter() returned null). In Chrome, check chrome://gpu; ' +
        'on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan, and on a machine without a GPU also ' +
        '--enable-unsafe-swiftshader --use-webgpu-adapter=swiftshader (what `wrn browser` does).',
    );
  });
  const adapter = rt.ctx.adapter;
  const adapterName = describeAdapter(adapter);
  const info = el('div', `adapter: ${adapterName}`, 'meta');
  out?.appendChild(info);
  const ctx: TaskContext = {
    rt,
    params,
    log,
    progress: (v) => window.__wrnProgress!.push(v),
    output: out,
  };
  let r: Record<string, unknown>;
  try {
    r = await task(ctx);
  } catch (e) {
    publishError(e, { adapter, adapterName, uncapturedErrors: rt.ctx.uncaptured, deviceLost: rt.ctx.lost });
    return;
  }
  const failed = typeof r.failed === 'number' ? r.failed : 0;
  setStatus(failed ? `${failed} failed` : `task '${taskName}' done`, failed ? 'fail' : 'pass');
  publish({ task: taskName, userAgent: navigator.userAgent, url: location.href, adapter, adapterName, ...r, uncapturedErrors: [...rt.ctx.uncaptured], deviceLost: rt.ctx.lost });
}

const ua = document.getElementById('ua');
if (ua) ua.textContent = navigator.userAgent;
main().catch((e) => publishError(e));
