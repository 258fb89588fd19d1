// The repository root (Node only): two levels above this file in src/util/ (tests, tsx), one
// above dist/cli.js when bundled into the CLI.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = /[\\/]src[\\/]util$/.test(HERE) ? resolve(HERE, '..', '..') : resolve(HERE, '..');
/** The `wrn` command's script, for commands that start wrn elsewhere (Slurm tasks). */
export const WRN_BIN = resolve(REPO_ROOT, 'bin', 'wrn.js');
