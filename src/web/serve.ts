// A tiny static server for the browser page: / (the page), /main.js (the bundle) and whatever else
// the build put in dist/web/. No dependency (node:http). Binds 127.0.0.1 by default, a secure
// context for WebGPU, on a free port. Node only: `wrn browser --serve` (npm run serve) and
// runInBrowser (src/web/browser.ts) use it; the page never imports it.
//
//   import { startServer } from './serve.js';  const { url, close } = await startServer();
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, normalize, resolve, sep } from 'node:path';
import { REPO_ROOT } from '../util/root.js';
import { FASHION_MNIST_DIR } from '../data/load.js';
import { IDX_FILES } from '../data/idx.js';
import { SERVED_FASHION_MNIST } from './data.js';

export const ROOT = REPO_ROOT;
export const WEB_DIST = join(ROOT, 'dist', 'web');

/**
 * The machine's Fashion-MNIST, served read-only under this URL path so the lab trains on real data
 * without a drop: only the four gzip IDX files by their fixed names, never another file.
 */
export const FASHION_MNIST_URL = SERVED_FASHION_MNIST;
export const FASHION_MNIST_FILES: readonly string[] = Object.values(IDX_FILES).map((f) => `${f}.gz`);

const TYPES: Record<string, string> = {
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
function pagePath(root: string): string {
  const built = join(root, 'dist', 'web', 'index.html');
  return existsSync(built) ? built : join(root, 'src', 'web', 'index.html');
}

/**
 * The file behind a URL path, or null: never outside dist/web, lexically or through a symlink
 * (the real path is checked too).
 */
function resolvePath(root: string, urlPath: string): string | null {
  if (urlPath === '/' || urlPath === '/index.html') return pagePath(root);
  const dist = join(root, 'dist', 'web');
  const p = normalize(join(dist, decodeURIComponent(urlPath)));
  if (p !== dist && !p.startsWith(dist + sep)) return null;
  if (!existsSync(p)) return p;
  const real = realpathSync(p);
  const realDist = realpathSync(dist);
  return real === realDist || real.startsWith(realDist + sep) ? real : null;
}

/**
 * Whether a request's Host header may be served: an IP literal, localhost, or the host the server
 * was bound to by name. Anything else is a DNS name pointed at this machine by someone else (DNS
 * rebinding: a page on evil.example would read the lab through the victim's browser).
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (!hostHeader) return false;
  let name: string;
  try {
    name = new URL(`http://${hostHeader}`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return name === 'localhost' || isIP(name) !== 0 || name === boundHost;
}

export interface ServerHandle {
  url: string;
  port: number;
  host: string;
  close: () => Promise<void>;
}

export interface ServerOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The repository root (default ROOT). */
  root?: string;
  /** Where the served Fashion-MNIST files are (default: Debian's package directory); null serves none. */
  fashionMnistDir?: string | null;
  /** Called with one line per request ('GET /main.js 200'). */
  log?: (line: string) => void;
}

/** Serve the page (/) and the bundle (/main.js). Resolves once listening. */
export function startServer(opts: ServerOptions = {}): Promise<ServerHandle> {
  const root = opts.root ?? ROOT;
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (code: number, type: string, body: string | Buffer) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body);
      opts.log?.(`${req.method} ${urlPath} ${code}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed');
    if (!hostAllowed(req.headers.host, host)) {
      return send(403, 'text/plain; charset=utf-8', `Host '${req.headers.host ?? ''}' refused (a guard against DNS rebinding): open the lab by IP address or as localhost\n`);
    }
    if (urlPath === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (urlPath.startsWith(FASHION_MNIST_URL)) {
      // A fixed list of names, never a path built from the URL: nothing else of the file system.
      const name = urlPath.slice(FASHION_MNIST_URL.length);
      const dir = opts.fashionMnistDir === undefined ? FASHION_MNIST_DIR : opts.fashionMnistDir;
      const have = dir ? FASHION_MNIST_FILES.filter((f) => existsSync(join(dir, f)) && statSync(join(dir, f)).isFile()) : [];
      if (name === '') return send(200, TYPES['.json'], JSON.stringify({ files: have }));
      if (!have.includes(name)) return send(404, 'text/plain; charset=utf-8', `not served: ${urlPath} (the lab serves only the four Fashion-MNIST files of ${dir ?? 'no directory'}, where installed)\n`);
      return send(200, 'application/gzip', readFileSync(join(dir!, name)));
    }
    let file: string | null;
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
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise<ServerHandle>((resolveListen, rejectListen) => {
    const reject = (e: NodeJS.ErrnoException) =>
      rejectListen(
        e.code === 'EADDRINUSE'
          ? new Error(`port ${opts.port} on ${host} is in use (another server, or another wrn browser --serve): pass another --port, or --port 0 for a free one`)
          : e.code === 'EACCES'
            ? new Error(`port ${opts.port} on ${host} needs privileges to bind: pass a --port above 1023, or --port 0 for a free one`)
            : e,
      );
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
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
