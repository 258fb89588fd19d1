import { readFileSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The same `import src from '../shaders/x.wgsl'` works in the esbuild bundles (text loader) and here.
const wgslAsText = {
  name: 'wgsl-as-text',
  load(id: string) {
    if (id.endsWith('.wgsl')) return `export default ${JSON.stringify(readFileSync(id, 'utf8'))};`;
    return null;
  },
};

export default defineConfig({
  plugins: [wgslAsText],
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // SwiftShader uses every core; two test files fighting for two cores only makes both slower.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    // A developer's tuning cache (wrn tune) must not change what the tests compute.
    env: { WRN_TUNING_CACHE: 'off' },
  },
});
