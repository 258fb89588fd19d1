// The `wrn` command line.
import { UsageError } from './cli/args.js';
import { checkCommand } from './cli/check.js';
import { trainCommand } from './cli/train.js';
import { sweepCommand } from './cli/sweep.js';
import { benchCommand } from './cli/bench.js';
import { signalCommand } from './cli/signal.js';
import { browserCommand } from './cli/browser.js';
import { tuneCommand } from './cli/tune.js';
import { printableError } from './util/fsx.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  train: { run: trainCommand, help: 'train a Wide-ResNet (bn, skipinit, unnormalized, regularized-skipinit, fixup)' },
  signal: { run: signalCommand, help: 'signal propagation at init (Fig. 2): per-block second moment against each net\'s expectation (2^l, v0 + l, the conv-bn recursion, constant), PASS/FAIL per net' },
  sweep: { run: sweepCommand, help: 'train a resumable grid over depth, variant, learning rate and batch size (Table 1, Figs. 3-4)' },
  bench: { run: benchCommand, help: "benchmark the kernels against the adapter's own limits; break a training step down by kernel category" },
  tune: { run: tuneCommand, help: 'pick the fastest correct implementation of every convolution for this adapter (the tuning cache)' },
  check: { run: checkCommand, help: 'print the adapter and check every WGSL kernel against its CPU reference' },
  browser: { run: browserCommand, help: 'run the kernel checks (or a benchmark) in headless Chromium with WebGPU' },
};

const HELP = `wrn: train Wide-ResNets on WebGPU with hand-written WGSL kernels, and measure what batch norm costs.

usage: wrn <command> [flags]     (wrn <command> --help for its flags)

commands:
${Object.entries(COMMANDS)
  .map(([k, c]) => `  ${k.padEnd(10)} ${c.help}`)
  .join('\n')}`;

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`wrn: unknown command '${cmd}'\n\n${HELP}`);
    return 2;
  }
  return c.run(rest);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A system error no caller described still names its operation and path (one function does both).
    const e = printableError(err);
    if (e instanceof UsageError) {
      console.error(e.message);
      process.exit(2);
    }
    console.error(`wrn: ${(e as Error).message}`);
    if (process.env.WRN_DEBUG) console.error((e as Error).stack);
    process.exit(1);
  },
);
