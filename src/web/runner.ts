// Node side, typed: run the engine in headless Chromium (tools/browser.mjs does the work, in plain
// JS so it also runs as `node tools/browser.mjs` without a build). Import this from tests and from
// the CLI; never from the page (main.ts), which is bundled for the browser.
// @ts-ignore -- plain ESM JavaScript without declarations; its API is typed below.
import * as browser from '../../tools/browser.mjs';
// @ts-ignore -- plain ESM JavaScript without declarations; its API is typed below.
import * as serve from '../../tools/serve.mjs';
import type { PageResult, CheckTaskResult } from './tasks.js';

export type { PageResult, CheckTaskResult, TaskFn, TaskMap, TaskContext } from './tasks.js';

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
}

export type BrowserResult = PageResult & {
  browserVersion: string;
  launchArgs: string[];
  /** Launch to close, ms. */
  wallMs: number;
};

export type BrowserCheckResult = BrowserResult & Partial<CheckTaskResult>;

export interface ServerHandle {
  url: string;
  port: number;
  host: string;
  close: () => Promise<void>;
}

const b = browser as {
  runInBrowser: (opts?: RunInBrowserOptions) => Promise<BrowserResult>;
  formatCheckResult: (r: BrowserResult) => string;
  chromiumPath: (explicit?: string) => string;
  launchArgs: (gpu?: 'swiftshader' | 'default', extraArgs?: string[]) => string[];
  CHROMIUM_HELP: string;
};
const s = serve as {
  startServer: (opts?: { port?: number; host?: string; root?: string; log?: (line: string) => void }) => Promise<ServerHandle>;
  ROOT: string;
  WEB_DIST: string;
};

/**
 * Open the page in headless Chromium, run `task` there and return what the page published
 * (plus browserVersion, launchArgs, wallMs). A page-reported failure comes back as `result.error`;
 * throws when the page could not report (no bundle: run npm run build; no Chromium; a crash; the timeout).
 */
export const runInBrowser = b.runInBrowser;
/** A readable report of a task=check result. */
export const formatCheckResult = b.formatCheckResult;
/** The Chromium binary that runInBrowser will use. */
export const chromiumPath = b.chromiumPath;
export const launchArgs = b.launchArgs;
/** How to install Chromium (the message a missing binary gives). */
export const CHROMIUM_HELP = b.CHROMIUM_HELP;
/** Serve the page (/) and the bundle (/main.js) on 127.0.0.1 at a free port. */
export const startServer = s.startServer;
/** The repository root and dist/web, as the server sees them. */
export const ROOT = s.ROOT;
export const WEB_DIST = s.WEB_DIST;
