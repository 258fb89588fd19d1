// Node side of the browser page, in one import for the CLI and the tests: drive the page in
// headless Chromium (browser.ts) and serve it (serve.ts). Never imported by the page (main.ts),
// which is bundled for the browser.
export { runInBrowser, formatCheckResult, chromiumPath, launchArgs, CHROMIUM_HELP, type RunInBrowserOptions, type BrowserResult, type BrowserCheckResult } from './browser.js';
export { startServer, ROOT, WEB_DIST, type ServerHandle, type ServerOptions } from './serve.js';
export type { PageResult, CheckTaskResult, TaskFn, TaskMap, TaskContext } from './tasks.js';
