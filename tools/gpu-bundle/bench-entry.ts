// `node dist/bench.js <kernels|step|compare> ...`: the bench command on its own, for a GPU bundle
// packed from a tree whose dist/cli.js has no `bench` command yet (tools/pack-gpu.sh decides).
import { benchCommand } from '../../src/cli/bench.js';
import { UsageError } from '../../src/cli/args.js';

benchCommand(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof UsageError ? e.message : `wrn bench: ${(e as Error).message}`);
    if (process.env.WRN_DEBUG) console.error((e as Error).stack);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
