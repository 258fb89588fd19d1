// The lab's static server (src/web/serve.ts): what it refuses (issue 20, defect 12, and the
// taken port of defect 6).
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_FILES, FASHION_MNIST_URL, hostAllowed, startServer } from '../src/web/serve.js';

/** GET path with this Host header: status, headers, body. */
function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the lab server', () => {
  const root = mkdtempSync(join(tmpdir(), 'wrn-serve-'));
  mkdirSync(join(root, 'dist', 'web'), { recursive: true });
  writeFileSync(join(root, 'dist', 'web', 'index.html'), '<p>lab</p>');
  writeFileSync(join(root, 'dist', 'web', 'main.js'), 'console.log(1)');
  writeFileSync(join(root, 'secret.txt'), 'not for the web');
  symlinkSync(join(root, 'secret.txt'), join(root, 'dist', 'web', 'leak.txt')); // inside by name, outside in fact

  it('serves dist/web with nosniff, and refuses a symlink out of it, a DNS name in Host, and a taken port', async () => {
    const s = await startServer({ root });
    try {
      const page = await get(s.port, '/');
      expect(page.status).toBe(200);
      expect(page.body).toBe('<p>lab</p>');
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect((await get(s.port, '/main.js')).status).toBe(200);
      const leak = await get(s.port, '/leak.txt');
      expect(leak.status).toBe(404);
      expect(leak.body).not.toMatch(/not for the web/);
      const rebound = await get(s.port, '/', `evil.example:${s.port}`);
      expect(rebound.status).toBe(403);
      expect(rebound.body).toMatch(/Host 'evil\.example:\d+' refused \(a guard against DNS rebinding\)/);
      expect((await get(s.port, '/', `localhost:${s.port}`)).status).toBe(200);
      await expect(startServer({ root, port: s.port })).rejects.toThrow(new RegExp(`port ${s.port} on 127\\.0\\.0\\.1 is in use .*pass another --port, or --port 0 for a free one`));
    } finally {
      await s.close();
    }
  });

  it("serves the machine's Fashion-MNIST read-only: the four IDX files by name, nothing else of their directory", async () => {
    const data = mkdtempSync(join(tmpdir(), 'wrn-serve-data-'));
    FASHION_MNIST_FILES.forEach((f, i) => writeFileSync(join(data, f), `file ${i}`));
    writeFileSync(join(data, 'private.txt'), 'not for the web');
    const s = await startServer({ root, fashionMnistDir: data });
    const none = await startServer({ root, fashionMnistDir: null });
    try {
      const list = await get(s.port, FASHION_MNIST_URL);
      expect(JSON.parse(list.body)).toEqual({ files: [...FASHION_MNIST_FILES] });
      const one = await get(s.port, `${FASHION_MNIST_URL}${FASHION_MNIST_FILES[2]}`);
      expect(one.status).toBe(200);
      expect(one.body).toBe('file 2');
      expect(one.headers['content-type']).toBe('application/gzip');
      for (const path of [`${FASHION_MNIST_URL}private.txt`, `${FASHION_MNIST_URL}%2e%2e%2fprivate.txt`, `${FASHION_MNIST_URL}..%2fsecret.txt`]) {
        const r = await get(s.port, path);
        expect(r.status, path).toBe(404);
        expect(r.body).toMatch(/not served: .* \(the lab serves only the four Fashion-MNIST files/);
      }
      expect(JSON.parse((await get(none.port, FASHION_MNIST_URL)).body)).toEqual({ files: [] });
      expect((await get(none.port, `${FASHION_MNIST_URL}${FASHION_MNIST_FILES[0]}`)).status).toBe(404);
    } finally {
      await s.close();
      await none.close();
    }
  });

  it('hostAllowed: IP literals, localhost and the bound name; nothing else', () => {
    expect(hostAllowed('127.0.0.1:8080', '127.0.0.1')).toBe(true);
    expect(hostAllowed('[::1]:8080', '::1')).toBe(true);
    expect(hostAllowed('10.0.0.5:8080', '0.0.0.0')).toBe(true);
    expect(hostAllowed('lab.internal:8080', 'lab.internal')).toBe(true);
    expect(hostAllowed('attacker.example', '0.0.0.0')).toBe(false);
    expect(hostAllowed(undefined, '127.0.0.1')).toBe(false);
  });
});
