#!/usr/bin/env node
// The `wrn` command: runs the bundled CLI (npm run build makes dist/cli.js).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('wrn: dist/cli.js is missing; run `npm run build` (or `npm run setup`) first');
  process.exit(2);
}
await import(cli);
