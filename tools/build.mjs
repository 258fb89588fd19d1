// Bundles with esbuild: the CLI and library for Node (dist/), and the browser bundle (dist/web/).
// WGSL files are imported as text, so the same shaders/*.wgsl serve Node and the browser.
import { build } from 'esbuild';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';

// The commit the page was built from, for the run metadata it exports ('unknown' outside a git checkout).
function commit() {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha}+modified` : sha;
  } catch {
    return 'unknown';
  }
}

const common = { bundle: true, sourcemap: true, loader: { '.wgsl': 'text' }, target: 'es2022', logLevel: 'warning' };
const node = { ...common, platform: 'node', format: 'esm', external: ['webgpu', 'pngjs', 'playwright-core'],
  banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" } };

await build({ ...node, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js' });
await build({ ...node, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' });
if (existsSync('src/web/main.ts')) {
  // The page: minified (it is downloaded), and nothing it imports may import a Node-only module.
  const web = await build({ ...common, platform: 'browser', format: 'esm', entryPoints: ['src/web/main.ts'], outfile: 'dist/web/main.js',
    external: ['webgpu', 'node:*', 'pngjs'], minify: true, metafile: true, define: { __WRN_COMMIT__: JSON.stringify(commit()) } });
  // (src/gpu/device.ts reaches Dawn and node:fs by dynamic import(), only where there is no navigator.gpu.)
  const leaked = web.metafile.outputs['dist/web/main.js'].imports.filter((i) => i.external && i.kind !== 'dynamic-import').map((i) => i.path);
  if (leaked.length) throw new Error(`[build] the page imports Node-only modules: ${leaked.join(', ')} (something under src/web/main.ts imports them statically)`);
  copyFileSync('src/web/index.html', 'dist/web/index.html');
  const bytes = readFileSync('dist/web/main.js');
  console.log(`[build] dist/web/main.js: ${(bytes.length / 1024).toFixed(0)} KiB (${(gzipSync(bytes).length / 1024).toFixed(0)} KiB gzipped)`);
}
console.log('[build] dist/ ready');
