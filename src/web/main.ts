// The browser lab (bundled to dist/web/main.js by tools/build.mjs): the adapter panel and five views
// (adapter, kernel checks, kernel benchmark, step benchmark, training; src/web/views.ts), each run
// from its form. With ?task=<name>&k=v... the page opens that view, fills its form from the query,
// runs it at load and publishes one JSON-able object on window.__wrnResult, which the headless
// runner (src/web/runner.ts) waits for. Every failure is published as { error }: never a hang.
//
// Extension point: a module that calls registerTask('bench', fn, { timestamps: true }) (src/web/tasks.ts)
// and is imported below makes ?task=bench work, in a user's Chrome and through runInBrowser({ task: 'bench' }).
import { initWebGPU, describeAdapter } from '../index.js';
import type { GpuRuntime } from '../gpu/runtime.js';
import { tasks, registerTask, type TaskContext, type PageResult } from './tasks.js';
import { VIEWS, trainRuns, CancelledError, applyBrowserTuning, adapterReport, renderAdapter, setDroppedFiles, loadCheckpointBytes, loadedConfig, downloadCheckpoint, type View } from './views.js';
import { el } from './ui.js';
import { ParamError } from './bench_task.js';
// Task modules register themselves on import.
import './bench_task.js';

declare global {
  interface Window {
    /** The page's result, set exactly once (task mode). */
    __wrnResult?: PageResult;
    /** Partial progress of the running task (what the runner reports on a timeout). */
    __wrnProgress?: unknown[];
  }
}

for (const v of VIEWS) registerTask(v.name, v.task, { timestamps: true });

const t0 = performance.now();
const params = new URLSearchParams(location.search);
const taskName = params.get('task'); // null: the interactive lab
const out = document.getElementById('out')!;
const statusEl = document.getElementById('status')!;
const adapterEl = document.getElementById('adapter')!;
const adapterPanel = document.getElementById('adapter-panel') as HTMLDetailsElement;
const adapterSummary = document.getElementById('adapter-summary')!;
// The adapter panel is open on the first visit and folded after (it is ~270 px above every view).
const VISITED_KEY = 'wrn-lab-visited';
try {
  adapterPanel.open = !localStorage.getItem(VISITED_KEY);
  localStorage.setItem(VISITED_KEY, new Date().toISOString());
} catch {
  adapterPanel.open = true; // storage blocked: show it
}
window.__wrnProgress = [];

function setStatus(text: string, cls: string): void {
  statusEl.textContent = text;
  statusEl.className = cls;
  document.title = `wrn-webgpu lab: ${text}`;
}

let published = false;
function publish(r: PageResult): void {
  if (published || !taskName) return;
  published = true;
  r.ms = performance.now() - t0;
  window.__wrnResult = r;
  const json = el('pre', JSON.stringify(r, null, 2).slice(0, 200_000), 'json');
  json.id = 'result-json';
  const details = el('details');
  details.appendChild(el('summary', 'result JSON (window.__wrnResult)'));
  details.appendChild(json);
  out.appendChild(details);
  console.log(`[wrn] result published (${r.error ? `error: ${r.error}` : `task ${r.task} done`}) in ${r.ms.toFixed(0)} ms`);
}

/** Errors already shown in a view (publishing them must not show them twice). */
const shown = new WeakSet<object>();

function showError(where: HTMLElement, e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  if (shown.has(err)) return err;
  shown.add(err);
  setStatus(`error: ${err.message.split('\n')[0]}`, 'fail');
  if (err instanceof NoWebGpuError) return err; // its help is in the adapter panel already
  const pre = el('pre', err.message, 'fail error');
  pre.setAttribute('role', 'alert');
  where.appendChild(pre);
  console.error(`[wrn] error: ${err.message}`);
  return err;
}

function publishError(e: unknown, extra: Partial<PageResult> = {}): void {
  const err = showError(out, e);
  publish({ task: taskName ?? '', userAgent: navigator.userAgent, url: location.href, ...extra, error: err.message, stack: err.stack });
}

// Anything that escapes a task (an error thrown in a callback, a rejected promise nobody awaits)
// still ends the page with a result.
window.addEventListener('error', (ev) => publishError(ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => publishError(ev.reason));

const NO_WEBGPU_HELP: [string, string][] = [
  ['Chrome / Edge (113+)', 'on by default on Windows, macOS and ChromeOS; on Linux start it with --enable-unsafe-webgpu --enable-features=Vulkan (or chrome://flags/#enable-unsafe-webgpu), and check chrome://gpu. Without a GPU add --enable-unsafe-swiftshader --use-webgpu-adapter=swiftshader (what wrn browser does).'],
  ['Firefox (141+)', 'on by default on Windows; elsewhere set dom.webgpu.enabled to true in about:config (Nightly has it on).'],
  ['Safari (26+)', 'on by default on macOS 26 / iOS 26; on Safari 18 enable Develop > Feature Flags > WebGPU.'],
  ['any browser', 'WebGPU needs a secure context: open the page as http://127.0.0.1 or localhost (wrn browser --serve), or over https.'],
];

/** Why WebGPU is missing and what to do, shown once (in the adapter panel, opened). */
function showNoWebGpu(why: string): void {
  adapterPanel.open = true;
  adapterSummary.textContent = 'adapter: none';
  adapterEl.replaceChildren(el('p', why, 'fail'));
  if (!window.isSecureContext) return; // the fix is the address, not a browser flag
  const ul = el('ul');
  for (const [b, how] of NO_WEBGPU_HELP) {
    const li = el('li');
    li.append(el('b', `${b}: `), how);
    ul.appendChild(li);
  }
  adapterEl.appendChild(ul);
}

/** An error whose help is already on the page: the status line and the views only name it. */
class NoWebGpuError extends Error {}

async function openRuntime(): Promise<GpuRuntime> {
  if (!window.isSecureContext) {
    // Served on 0.0.0.0 and opened by IP: browsers hide navigator.gpu outside a secure context.
    const here = `${location.protocol}//${location.host}`;
    const port = location.port || (location.protocol === 'https:' ? '443' : '80');
    const why =
      `WebGPU needs a secure context, and ${here} is not one (only https, localhost and 127.0.0.1 are). ` +
      `Open the page on the machine that serves it as http://127.0.0.1:${port}${location.pathname}, or from another machine through an SSH tunnel: ` +
      `ssh -L ${port}:127.0.0.1:${port} ${location.hostname}, then http://127.0.0.1:${port}${location.pathname} here.`;
    showNoWebGpu(why);
    throw new NoWebGpuError(why);
  }
  if (!('gpu' in navigator) || !navigator.gpu) {
    const why = 'WebGPU is not available in this browser (navigator.gpu is missing): see the help in the adapter panel above.';
    showNoWebGpu(why.replace(': see the help in the adapter panel above.', '. How to turn it on:'));
    throw new NoWebGpuError(why);
  }
  return initWebGPU({ timestamps: true }).catch((e: Error) => {
    if (!/No WebGPU adapter/.test(e.message)) throw e;
    const why = 'No WebGPU adapter found (navigator.gpu.requestAdapter() returned null)';
    showNoWebGpu(`${why}. How to get one:`);
    throw new NoWebGpuError(`${why}: see the help in the adapter panel above.`);
  });
}

// ---- the lab's views -----------------------------------------------------------------------------

interface ViewUi {
  view: View;
  section: HTMLElement;
  inputs: Map<string, HTMLInputElement | HTMLSelectElement>;
  run: HTMLButtonElement;
  stop: HTMLButtonElement;
  save: HTMLButtonElement;
  log: HTMLElement;
  output: HTMLElement;
}

const uis = new Map<string, ViewUi>();
/** Set by the training view's extras: what happens to its form after a run. */
let afterTrainRun = (): void => {};
let busy = false;
let cancel = false;

function buildViews(): void {
  const nav = document.getElementById('views-nav')!;
  const host = document.getElementById('views')!;
  // WAI-ARIA tabs: one tab stop, the arrow keys (and Home/End) move between tabs and select.
  nav.setAttribute('role', 'tablist');
  nav.setAttribute('aria-label', 'views');
  nav.onkeydown = (e) => {
    const names = VIEWS.map((v) => v.name);
    const at = names.indexOf(document.activeElement?.id.replace(/^tab-/, '') ?? '');
    if (at < 0) return;
    const to = e.key === 'ArrowRight' ? (at + 1) % names.length : e.key === 'ArrowLeft' ? (at - 1 + names.length) % names.length : e.key === 'Home' ? 0 : e.key === 'End' ? names.length - 1 : -1;
    if (to < 0) return;
    e.preventDefault();
    selectView(names[to]);
    document.getElementById(`tab-${names[to]}`)?.focus();
  };
  for (const v of VIEWS) {
    const tab = el('button', v.title, 'tab');
    tab.id = `tab-${v.name}`;
    tab.type = 'button';
    tab.setAttribute('role', 'tab');
    tab.setAttribute('aria-controls', `view-${v.name}`);
    tab.onclick = () => selectView(v.name);
    nav.appendChild(tab);
    const section = el('section', undefined, 'view');
    section.id = `view-${v.name}`;
    section.setAttribute('role', 'tabpanel');
    section.setAttribute('aria-labelledby', `tab-${v.name}`);
    section.hidden = true;
    section.append(el('h2', v.title), el('p', v.blurb, 'blurb'));
    const form = el('form', undefined, 'controls');
    form.onsubmit = (e) => e.preventDefault();
    const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
    for (const c of v.controls) {
      const label = el('label', `${c.label} `);
      let input: HTMLInputElement | HTMLSelectElement;
      if (c.options) {
        input = el('select');
        for (const o of c.options) input.appendChild(el('option', o));
      } else {
        input = el('input');
        input.size = Math.max(4, c.value.length + 2);
      }
      input.value = c.value;
      input.name = c.name;
      input.id = `${v.name}-${c.name}`;
      label.appendChild(input);
      if (c.help) {
        // Visible, not only a hover title; tied to the field for screen readers.
        const hint = el('small', c.help, 'hint');
        hint.id = `${input.id}-help`;
        input.setAttribute('aria-describedby', hint.id);
        label.appendChild(hint);
      }
      form.appendChild(label);
      inputs.set(c.name, input);
    }
    const run = el('button', 'Run', 'run');
    run.id = `${v.name}-run`;
    const stop = el('button', 'Stop', 'stop');
    stop.id = `${v.name}-stop`;
    stop.disabled = true;
    const save = el('button', 'Download result JSON', 'save');
    save.id = `${v.name}-download`;
    save.disabled = true;
    form.append(run, stop, save);
    section.appendChild(form);
    const ui: ViewUi = { view: v, section, inputs, run, stop, save, log: el('div', undefined, 'logbox'), output: el('div', undefined, 'output') };
    run.type = 'button';
    // runView shows its errors in the view; nothing is left to reject unhandled.
    run.onclick = () => void runView(ui, paramsOf(ui)).catch(() => {});
    stop.onclick = () => {
      cancel = true;
      stop.disabled = true;
      setStatus(`stopping ${v.title.toLowerCase()} after the current step...`, 'running');
    };
    save.onclick = () => v.download?.();
    if (v.name === 'train') section.appendChild(trainExtras(ui));
    section.append(ui.log, ui.output);
    if (v.name === 'train') section.appendChild(trainRuns.element);
    host.appendChild(section);
    uis.set(v.name, ui);
  }
}

/** The training view's drop zone, file inputs and checkpoint buttons. */
function trainExtras(ui: ViewUi): HTMLElement {
  const box = el('div', undefined, 'extras');
  const drop = el('div', 'Drop Fashion-MNIST IDX files (the four *-ubyte[.gz]) or CIFAR-10 binaries (data_batch_N.bin, test_batch.bin) here, or choose them: ', 'drop');
  drop.id = 'train-drop';
  const files = el('input');
  files.type = 'file';
  files.multiple = true;
  files.id = 'train-files';
  const note = el('span', '', 'meta');
  note.id = 'train-files-note';
  const take = (list: FileList | null) => {
    const fs = list ? Array.from({ length: list.length }, (_, i) => list[i]) : [];
    setDroppedFiles(fs);
    note.textContent = fs.length ? ` ${fs.length} file${fs.length === 1 ? '' : 's'}: ${fs.map((f) => f.name).join(', ')} (data = files uses them)` : '';
    if (fs.length) ui.inputs.get('data')!.value = 'files';
  };
  files.onchange = () => take(files.files);
  drop.ondragover = (e) => {
    e.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    take(e.dataTransfer?.files ?? null);
  };
  drop.append(files, note);
  const ckptRow = el('div', undefined, 'ckpt');
  const saveCkpt = el('button', 'Download checkpoint');
  saveCkpt.id = 'train-download-checkpoint';
  saveCkpt.disabled = true;
  saveCkpt.onclick = () => downloadCheckpoint().catch((e) => showError(ui.output, e));
  const load = el('input');
  load.type = 'file';
  load.id = 'train-load-checkpoint';
  load.accept = '.wrnckpt';
  const loadNote = el('span', '', 'meta');
  loadNote.id = 'train-load-note';
  load.onchange = async () => {
    const f = load.files?.[0];
    if (!f) return;
    try {
      loadNote.textContent = loadCheckpointBytes(new Uint8Array(await f.arrayBuffer()), f.name);
      loadNote.className = 'meta pass';
      // The next Run continues the checkpoint's run: only epochs may change, the rest is locked.
      for (const [k, input] of ui.inputs) input.disabled = k !== 'epochs';
      const c = loadedConfig()!;
      const set = (k: string, v: unknown) => ui.inputs.get(k) && (ui.inputs.get(k)!.value = String(v));
      set('variant', c.variant);
      set('depth', c.depth);
      set('width', c.widen);
      set('batch', c.batchSize);
      set('lr', c.lr);
      set('epochs', c.epochs);
      set('data', c.data.source === 'synthetic' || c.data.source === 'fashion-mnist' ? c.data.source : 'files');
      set('trainCount', c.data.trainCount);
      set('testCount', c.data.testCount);
      set('imageSize', c.data.imageSize);
    } catch (e) {
      loadNote.textContent = (e as Error).message;
      loadNote.className = 'meta fail';
    }
  };
  ckptRow.append(saveCkpt, el('span', ' load a checkpoint (the next Run continues it; only epochs may change): '), load, loadNote);
  // A run consumes the loaded checkpoint: the next Run starts afresh, so the note goes and the form opens.
  afterTrainRun = () => {
    if (loadedConfig()) return;
    for (const input of ui.inputs.values()) input.disabled = false;
    if (loadNote.className === 'meta pass') loadNote.textContent = '';
    load.value = '';
  };
  box.append(drop, ckptRow);
  return box;
}

function paramsOf(ui: ViewUi): URLSearchParams {
  const p = new URLSearchParams();
  for (const [k, input] of ui.inputs) if (input.value !== '') p.set(k, input.value);
  return p;
}

function selectView(name: string): void {
  for (const [n, ui] of uis) {
    ui.section.hidden = n !== name;
    const tab = document.getElementById(`tab-${n}`);
    tab?.classList.toggle('active', n === name);
    tab?.setAttribute('aria-selected', String(n === name));
    if (tab) tab.tabIndex = n === name ? 0 : -1;
  }
  if (name === 'adapter') adapterPanel.open = true; // the Adapter view's tables are the panel's
}

/** A bad field, named as the view's form names it: "Training: learning rate (lr) must be ...". */
function fieldError(ui: ViewUi, e: unknown): unknown {
  for (const input of ui.inputs.values()) input.removeAttribute('aria-invalid');
  if (!(e instanceof ParamError)) return e;
  const control = ui.view.controls.find((c) => c.name === e.param);
  const input = ui.inputs.get(e.param);
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
  return new Error(`${ui.view.title}: ${control ? `${control.label} (${e.param})` : e.param} ${e.problem}`);
}

let rt: GpuRuntime | null = null;

async function runView(ui: ViewUi, p: URLSearchParams): Promise<Record<string, unknown> | null> {
  if (busy || !rt) return null;
  busy = true;
  cancel = false;
  for (const u of uis.values()) u.run.disabled = true;
  ui.stop.disabled = false;
  ui.save.disabled = true;
  ui.view.download = undefined;
  ui.output.replaceChildren();
  ui.log.replaceChildren();
  for (const input of ui.inputs.values()) input.removeAttribute('aria-invalid');
  setStatus(`running: ${ui.view.title.toLowerCase()}`, 'running');
  const started = performance.now();
  const ctx: TaskContext = {
    rt,
    params: p,
    log: (line) => {
      console.log(`[wrn] ${line}`);
      ui.log.appendChild(el('div', line, 'log'));
      while (ui.log.childElementCount > 200) ui.log.firstChild!.remove();
      ui.log.scrollTop = ui.log.scrollHeight;
    },
    progress: (v) => window.__wrnProgress!.push(v),
    output: ui.output,
    cancelled: () => cancel,
  };
  try {
    const r = await ui.view.task(ctx);
    const s = ((performance.now() - started) / 1000).toFixed(1);
    const failed = typeof r.failed === 'number' ? r.failed : 0;
    const stopped = r.stop === 'stopped';
    // A stopped benchmark or check returns what finished (partial: true): downloadable like a complete one.
    const how = stopped ? (r.partial ? 'stopped, partial result' : 'stopped') : 'done';
    setStatus(failed ? `${ui.view.title}: ${failed} failed (${s} s)` : `${ui.view.title}: ${how} in ${s} s`, failed ? 'fail' : 'pass');
    ui.section.dataset.seconds = s;
    if (ui.view.download) ui.save.disabled = false;
    if (ui.view.name === 'train') (document.getElementById('train-download-checkpoint') as HTMLButtonElement).disabled = false;
    return r;
  } catch (e) {
    if (e instanceof CancelledError) {
      setStatus(`${ui.view.title}: stopped`, 'fail');
      ui.output.appendChild(el('p', 'stopped by the Stop button', 'fail'));
      if (ui.view.download) ui.save.disabled = false; // a task that set a result before the stop keeps it downloadable
      return { stop: 'stopped' };
    }
    const named = fieldError(ui, e);
    const err = showError(ui.output, rt.ctx.lost ? new Error(`${(named as Error).message}\n${rt.ctx.lost}`) : named);
    throw err;
  } finally {
    busy = false;
    for (const u of uis.values()) u.run.disabled = !!rt.ctx.lost;
    ui.stop.disabled = true;
    if (ui.view.name === 'train') afterTrainRun();
  }
}

// ---- run ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  buildViews();
  selectView(taskName && uis.has(taskName) ? taskName : 'adapter');
  for (const u of uis.values()) u.run.disabled = true;
  setStatus('opening WebGPU...', 'running');
  if (taskName && !tasks.has(taskName)) throw new Error(`unknown task '${taskName}' (known: ${[...tasks.keys()].join(', ')})`);
  rt = await openRuntime();
  applyBrowserTuning(rt);
  const adapter = rt.ctx.adapter;
  const adapterName = describeAdapter(adapter);
  const report = adapterReport({ rt, params, log: () => {}, progress: () => {}, output: null });
  renderAdapter(adapterEl, report);
  const yes = (f: string) => (report.features as Record<string, boolean>)[f];
  adapterSummary.textContent =
    `adapter: ${adapterName}${adapter.isFallbackAdapter ? ' (fallback: a CPU emulation)' : ''}; GPU timestamps ${report.timestampsInUse ? 'in use' : 'not in use'}` +
    `; subgroups ${yes('subgroups') ? 'yes' : 'no'}; shader-f16 ${yes('shader-f16') ? 'yes' : 'no'}`;
  rt.ctx.device.lost.then((info) => {
    const msg = `the WebGPU device was lost (${info.reason}): ${info.message || 'no message'}; reload the page to get a new one`;
    document.getElementById('banner')!.replaceChildren(el('div', msg, 'fail lost'));
    setStatus(msg, 'fail');
    for (const u of uis.values()) u.run.disabled = true;
  });
  for (const u of uis.values()) u.run.disabled = false;
  setStatus(`ready: ${adapterName}`, 'pass');
  if (!taskName) return;

  // Task mode: run the named task at load and publish its result.
  const ui = uis.get(taskName);
  const base = { task: taskName, userAgent: navigator.userAgent, url: location.href, adapter, adapterName };
  let r: Record<string, unknown> | null;
  try {
    if (ui) {
      for (const [k, input] of ui.inputs) if (params.has(k)) input.value = params.get(k)!;
      r = await runView(ui, params);
    } else {
      // A task without a view (e.g. bench, as `wrn bench kernels --browser` runs it).
      r = await tasks.get(taskName)!({ rt, params, log: (l) => out.appendChild(el('div', l, 'log')), progress: (v) => window.__wrnProgress!.push(v), output: out });
    }
  } catch (e) {
    publishError(e, { ...base, uncapturedErrors: rt.ctx.uncaptured, deviceLost: rt.ctx.lost });
    return;
  }
  publish({ ...base, ...r, uncapturedErrors: [...rt.ctx.uncaptured], deviceLost: rt.ctx.lost });
}

main().catch((e) => publishError(e));
