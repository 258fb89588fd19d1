// A tiny static server for the browser page: / (the page), /main.js (the bundle) and whatever else
// the build put in dist/web/. No dependency (node:http). Binds 127.0.0.1 by default, a secure
// context for WebGPU, on a free port.
//
//   node tools/serve.mjs [--port 8080] [--host 127.0.0.1]
//       prints the URL; open it in Chrome (a real GPU) to run the kernel checks there.
//   import { startServer } from './tools/serve.mjs';  const { url, close } = await startServer();
import { createServer } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The repository root. This file lives in tools/; bundled into dist/cli.js it lives in dist/:
// either way the root is one level up.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_DIST = join(ROOT, 'dist', 'web');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** The page: dist/web/index.html once the build copies it there, else src/web/index.html. */
function pagePath(root) {
  const built = join(root, 'dist', 'web', 'index.html');
  return existsSync(built) ? built : join(root, 'src', 'web', 'index.html');
}

/** The file behind a URL path, or null (never outside dist/web). */
function resolvePath(root, urlPath) {
  if (urlPath === '/' || urlPath === '/index.html') return pagePath(root);
  const dist = join(root, 'dist', 'web');
  const p = normalize(join(dist, decodeURIComponent(urlPath)));
  if (p !== dist && !p.startsWith(dist + sep)) return null;
  return p;
}

/**
 * Serve the page and the bundle. Resolves once listening.
 * @param {{ port?: number, host?: string, root?: string, log?: (line: string) => void }} [opts]
 * @returns {Promise<{ url: string, port: number, host: string, close: () => Promise<void> }>}
 */
export function startServer(opts = {}) {
  const root = opts.root ?? ROOT;
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (code, type, body) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      opts.log?.(`${req.method} ${urlPath} ${code}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
    if (urlPath === '/favicon.ico') return send(204, 'image/x-icon', '');
    let file;
    try {
      file = resolvePath(root, urlPath);
    } catch {
      file = null; // a malformed %-escape
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      const hint = urlPath === '/main.js' ? ' (dist/web/main.js is missing: run npm run build)' : '';
      return send(404, 'text/plain; charset=utf-8', `not found: ${urlPath}${hint}\n`);
    }
    const ext = file.slice(file.lastIndexOf('.'));
    send(200, TYPES[ext] ?? 'application/octet-stream', readFileSync(file));
  });
  // The page's keep-alive connections would hold close() open.
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 0;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolveListen({
        url: `http://${shownHost}:${port}/`,
        port,
        host,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

// ---- standalone ----------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = argv[i].split(/=(.*)/s, 2);
    const val = () => v ?? argv[++i];
    if (k === '--port') o.port = Number(val());
    else if (k === '--host') o.host = val();
    else if (k === '--verbose') o.verbose = true;
    else if (k === '--help' || k === '-h') o.help = true;
    else throw new Error(`serve: unknown argument '${argv[i]}' (flags: --port N, --host H, --verbose)`);
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error(`serve: --port must be an integer in [0, 65535]`);
  return o;
}

// Standalone only when this very file is the script (not when bundled into the CLI).
const isMain = /\/tools\/serve\.mjs$/.test(import.meta.url) && !!process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isMain) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  if (o.help) {
    console.log('usage: node tools/serve.mjs [--port N] [--host 127.0.0.1] [--verbose]\nServes the browser page (src/web/index.html) and its bundle (dist/web/main.js).');
    process.exit(0);
  }
  if (!existsSync(join(WEB_DIST, 'main.js'))) console.warn(`warning: ${join(WEB_DIST, 'main.js')} is missing: run npm run build`);
  const { url, close } = await startServer({ port: o.port, host: o.host, log: o.verbose ? (l) => console.log(l) : undefined });
  console.log(url);
  console.log(`open ${url}?task=check in Chrome to run every kernel check in its WebGPU (filter: ${url}?task=check&filter=conv2d)`);
  if (o.host !== '127.0.0.1' && o.host !== 'localhost' && o.host !== '::1') {
    console.log('note: WebGPU needs a secure context; from another machine use an SSH tunnel (ssh -L PORT:127.0.0.1:PORT) and open it as http://127.0.0.1:PORT/.');
  }
  const stop = () => close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
