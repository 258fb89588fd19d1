// What the browser page can run, by name (`?task=<name>` in the page URL). The page (main.ts)
// registers 'check'; a benchmark module registers its own task with registerTask and is imported
// by main.ts, and `runInBrowser({ task: 'bench' })` (src/web/runner.ts) then drives it headless.
//
// This module is browser-safe and side-effect free: a task module imports it, never main.ts.
import type { GpuRuntime } from '../gpu/runtime.js';

/** What a task gets: the open runtime, the page URL's query, and a progress logger. */
export interface TaskContext {
  rt: GpuRuntime;
  /** The page URL's query (task=..., filter=..., and whatever else the task reads). */
  params: URLSearchParams;
  /** A progress line: shown on the page and sent to the console (the runner pipes it to Node). */
  log: (line: string) => void;
  /** Publish partial progress (JSON-able), read back by the runner when the task times out. */
  progress: (value: unknown) => void;
  /** The page's output element, for a task that wants to render more than log lines. */
  output: HTMLElement | null;
  /** True once the user pressed Stop: a long task checks it between steps and ends early. */
  cancelled?: () => boolean;
}

/**
 * A task: returns a JSON-able object, which the page publishes on window.__wrnResult merged with
 * { userAgent, adapter, task, url, ms }. Throwing publishes { error }.
 */
export type TaskFn = (ctx: TaskContext) => Promise<Record<string, unknown>>;

/** Task name -> task. */
export type TaskMap = Map<string, TaskFn>;

export interface TaskOptions {
  /** Open the device with the timestamp-query feature (benchmarks), where the adapter has it. */
  timestamps?: boolean;
}

export const tasks: TaskMap = new Map();
export const taskOptions = new Map<string, TaskOptions>();

/** Make `?task=<name>` run `fn`. Import the registering module from main.ts (before it runs). */
export function registerTask(name: string, fn: TaskFn, opts: TaskOptions = {}): void {
  if (tasks.has(name)) throw new Error(`browser task '${name}' is registered twice`);
  tasks.set(name, fn);
  taskOptions.set(name, opts);
}

/** The object the page publishes on window.__wrnResult (the runner returns it). */
export interface PageResult {
  task: string;
  userAgent: string;
  url: string;
  /** The WebGPU adapter as the engine describes it (rt.ctx.adapter); absent if opening it failed. */
  adapter?: import('../gpu/device.js').AdapterDescription;
  /** describeAdapter(adapter) */
  adapterName?: string;
  /** Set when anything failed (no WebGPU, an unknown task, a thrown error); then nothing else is promised. */
  error?: string;
  stack?: string;
  /** Page time from load to result, ms. */
  ms?: number;
  /** WebGPU errors reported outside any error scope, and device loss, during the task. */
  uncapturedErrors?: string[];
  deviceLost?: string | null;
  [key: string]: unknown;
}

/** What task=check adds to the result. */
export interface CheckTaskResult {
  filter: string;
  lines: import('../check.js').CheckLine[];
  passed: number;
  failed: number;
  /** Stopped by the Stop button: `lines` are the cases that ran. */
  partial?: true;
  /** The case that did not run, e.g. 'case 5 of 40: conv2d.forward ...'. */
  stoppedAt?: string;
}
