// Bundles with esbuild: the CLI and library for Node (dist/), and the browser bundle (dist/web/).
// WGSL files are imported as text, so the same shaders/*.wgsl serve Node and the browser.
import { build } from 'esbuild';
import { copyFileSync, existsSync } from 'node:fs';

const common = { bundle: true, sourcemap: true, loader: { '.wgsl': 'text' }, target: 'es2022', logLevel: 'warning' };
const node = { ...common, platform: 'node', format: 'esm', external: ['webgpu', 'pngjs', 'playwright-core'],
  banner: { js: "import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" } };

await build({ ...node, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js' });
await build({ ...node, entryPoints: ['src/index.ts'], outfile: 'dist/index.js' });
if (existsSync('src/web/main.ts')) {
  await build({ ...common, platform: 'browser', format: 'esm', entryPoints: ['src/web/main.ts'], outfile: 'dist/web/main.js',
    external: ['webgpu', 'node:*', 'pngjs'] });
  copyFileSync('src/web/index.html', 'dist/web/index.html');
}
console.log('[build] dist/ ready');
