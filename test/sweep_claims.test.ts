// The sweep's claim lines on hand-made records: each claim holds, fails, and reports its margin
// and its per-seed count as defined in src/sweep/claims.ts. No training: pure arithmetic.
import { describe, expect, it } from 'vitest';
import { aggregate, runKey, type RunRecord } from '../src/sweep/sweep.js';
import { claimLine, figure3Claims, figure4Claims, maxStableLr, table1Claims, table1Expectation, TRAIN_LOSS_BOUND } from '../src/sweep/claims.js';

function run(variant: string, lr: number, seed: number, loss: number | null, acc = 0.6, depth = 40, batchSize = 32): RunRecord {
  const diverged = loss === null;
  return {
    key: runKey(variant, depth, batchSize, lr, seed),
    variant, depth, batchSize, lr, seed, diverged,
    testAccuracy: diverged ? NaN : acc,
    trainLoss: diverged ? NaN : loss,
    steps: 10, seconds: 1, message: '',
  };
}

describe('Table 1 claims', () => {
  it('which arms are expected to train or fail', () => {
    expect(table1Expectation('bn')).toBe('trains');
    expect(table1Expectation('fixup')).toBe('trains');
    expect(table1Expectation('regularized-skipinit')).toBe('trains');
    expect(table1Expectation('skipinit')).toBe('trains');
    expect(table1Expectation('skipinit:alpha=1')).toBe('fails');
    expect(table1Expectation('unnormalized')).toBe('fails');
    expect(table1Expectation('skipinit:alpha=0.1')).toBeNull();
  });

  it('a trainable arm: the mean loss at its optimal rate, its spread, the margin in std and the seeds that hold alone', () => {
    // Seeds 1.20, 1.30, 1.40 at lr 0.1 (accuracy best there); mean 1.30, sample sd 0.1.
    const recs = [run('skipinit', 0.1, 0, 1.2, 0.62), run('skipinit', 0.1, 1, 1.3, 0.6), run('skipinit', 0.1, 2, 1.4, 0.58), run('skipinit', 0.01, 0, 1.9, 0.3), run('skipinit', 0.01, 1, 1.9, 0.3), run('skipinit', 0.01, 2, 1.9, 0.3)];
    const [c] = table1Claims(recs, aggregate(recs, 3));
    expect(c.holds).toBe(true);
    expect(c.seedsHolding).toBe(2); // 1.40 > 1.382 on its own
    expect(c.seeds).toBe(3);
    const margin = (TRAIN_LOSS_BOUND - 1.3) / 0.1;
    expect(claimLine(c)).toContain(`margin ${margin.toFixed(1)} std`);
    expect(claimLine(c)).toMatch(/^- skipinit trains at depth 40, batch 32 .*: SHOWN \(lr 0\.1: loss 1\.300 ± 0\.100, .*holds on its own in 2 of 3 seeds\)$/);
  });

  it("the loss in inference mode, where recorded, is the final training loss (dropout's noise does not count)", () => {
    const recs = [1, 2].map((seed) => ({ ...run('regularized-skipinit', 0.1, seed, 1.5), trainLossInference: 1.1 }));
    const [c] = table1Claims(recs, aggregate(recs, 2));
    expect(c.holds).toBe(true);
    expect(claimLine(c)).toMatch(/loss 1\.100 ± 0\.000/);
    expect(aggregate(recs, 2)[0].trainLoss).toBeCloseTo(1.1, 12);
    const old = [1, 2].map((seed) => run('regularized-skipinit', 0.1, seed, 1.5));
    expect(table1Claims(old, aggregate(old, 2))[0].holds).toBe(false);
  });

  it('a trainable arm above the bound, or with a diverged seed counted at chance loss, is NOT SHOWN', () => {
    const high = [run('fixup', 0.1, 0, 1.39), run('fixup', 0.1, 1, 1.41)];
    expect(table1Claims(high, aggregate(high, 2))[0].holds).toBe(false);
    // Two seeds at 1.0 and one diverged: the mean loss is (1 + 1 + ln 10) / 3 = 1.43 > bound.
    const div = [run('bn', 0.1, 0, 1.0), run('bn', 0.1, 1, 1.0), run('bn', 0.1, 2, null)];
    const [c] = table1Claims(div, aggregate(div, 3));
    expect(c.holds).toBe(false);
    expect(c.seedsHolding).toBe(2);
  });

  it('a failing arm: no rate trains; the margin is at its lowest-loss rate; one trained seed at any rate breaks that seed', () => {
    const recs = [run('unnormalized', 0.01, 0, 2.0, 0.2), run('unnormalized', 0.01, 1, 2.2, 0.15), run('unnormalized', 0.1, 0, null), run('unnormalized', 0.1, 1, null)];
    const [c] = table1Claims(recs, aggregate(recs, 2));
    expect(c.holds).toBe(true);
    expect(c.seedsHolding).toBe(2);
    expect(claimLine(c)).toMatch(/lowest loss at lr 0\.01: 2\.100 ± 0\.141 over 2 seeds .*margin 5\.1 std; 2\/4 runs diverged/);
    const oneTrains = [run('skipinit:alpha=1', 0.01, 0, 1.0, 0.7), run('skipinit:alpha=1', 0.01, 1, 2.3, 0.1), run('skipinit:alpha=1', 0.01, 2, 2.3, 0.1)];
    const [d] = table1Claims(oneTrains, aggregate(oneTrains, 3));
    expect(d.holds).toBe(true); // the mean (1.87) is above the bound...
    expect(d.seedsHolding).toBe(2); // ...but seed 0 trained on its own, and the line says so
    const allTrain = [run('skipinit:alpha=1', 0.01, 0, 1.0, 0.7), run('skipinit:alpha=1', 0.01, 1, 1.1, 0.7)];
    expect(table1Claims(allTrain, aggregate(allTrain, 2))[0].holds).toBe(false);
  });

  it('claims are made at the deepest depth only, and Regularized SkipInit is compared with SkipInit there', () => {
    const recs = [run('skipinit', 0.1, 0, 1.0, 0.60, 10), run('skipinit', 0.1, 0, 1.0, 0.60), run('skipinit', 0.1, 1, 1.0, 0.62), run('regularized-skipinit', 0.1, 0, 1.1, 0.58), run('regularized-skipinit', 0.1, 1, 1.1, 0.50)];
    const claims = table1Claims(recs, aggregate(recs, 2));
    expect(claims.map((c) => c.statement)).toEqual([
      expect.stringMatching(/^regularized-skipinit trains at depth 40/),
      expect.stringMatching(/^skipinit trains at depth 40/),
      expect.stringMatching(/^regularized-skipinit is close to skipinit at depth 40/),
    ]);
    const close = claims[2];
    // 58% and 50% -> 54% against 60% and 62% -> 61%: 7 points apart, beyond the 5 points of "close".
    expect(close.holds).toBe(false);
    expect(close.evidence).toMatch(/^54\.0% ± 5\.7% against 61\.0% ± 1\.4%, difference -7\.0%/);
  });
});

describe('Figure 3 and 4 claims', () => {
  it('the maximum stable rate is the largest rate at which no seed diverged', () => {
    const recs = [run('bn', 0.1, 0, 1), run('bn', 0.1, 1, null), run('bn', 0.05, 0, 1), run('bn', 0.05, 1, 1)];
    expect(maxStableLr(recs, aggregate(recs, 2)[0])).toBe(0.05);
  });

  it('the order of the maximum stable rate at the largest batch, and the optimal rate proportional to batch', () => {
    const recs: RunRecord[] = [];
    // Optimal lr doubles with batch (accuracy peaks at lr = batch / 320) for all three arms; at
    // batch 64 bn is stable to 0.8, skipinit to 0.4, unnormalized to 0.2.
    const lrs = [0.025, 0.05, 0.1, 0.2, 0.4, 0.8];
    const maxStable: Record<string, number> = { bn: 0.8, skipinit: 0.4, unnormalized: 0.2 };
    for (const v of ['bn', 'skipinit', 'unnormalized'])
      for (const b of [8, 16, 32, 64])
        for (const lr of lrs) recs.push(run(v, lr, 0, 1, 0.7 - Math.abs(Math.log2(lr / (b / 320))) / 20, 10, b));
    for (const r of recs) if (r.batchSize === 64 && r.lr > maxStable[r.variant]) Object.assign(r, { diverged: true, testAccuracy: NaN, trainLoss: NaN });
    const claims = figure3Claims(recs, aggregate(recs, 1));
    expect(claims[0].statement).toMatch(/maximum stable learning rate is ordered bn >= skipinit >= unnormalized/);
    expect(claims[0].holds).toBe(true);
    expect(claims[0].evidence).toMatch(/bn 0\.8, skipinit 0\.4, unnormalized 0\.2/);
    expect(claims.slice(1).every((c) => c.holds && /slope 1\.00/.test(c.evidence))).toBe(true);
    // The order broken: unnormalized stable further than skipinit.
    for (const r of recs) if (r.variant === 'unnormalized' && r.batchSize === 64) Object.assign(r, { diverged: false, testAccuracy: 0.5, trainLoss: 1 });
    expect(figure3Claims(recs, aggregate(recs, 1))[0].holds).toBe(false);
    // Every arm stable at the grid's largest rate: a tie the grid makes, not an order (not resolved).
    for (const r of recs) if (r.batchSize === 64) Object.assign(r, { diverged: false, testAccuracy: 0.5, trainLoss: 1 });
    const tied = figure3Claims(recs, aggregate(recs, 1))[0];
    expect(tied.holds).toBe(false);
    expect(tied.evidence).toMatch(/bn 0\.8, skipinit 0\.8, unnormalized 0\.8 .*not resolved: arms stable at the grid's largest rate \(0\.8\) tie only because the grid stops there/);
  });

  it('Regularized SkipInit against BN at the smallest batch; BN rises with batch; SkipInit flat', () => {
    const recs: RunRecord[] = [];
    for (const s of [0, 1])
      for (const b of [1, 4, 16]) {
        recs.push(run('bn', 0.01, s, 1, 0.5 + b / 100, 10, b));
        recs.push(run('regularized-skipinit', 0.01, s, 1, 0.6 + s / 100, 10, b));
        recs.push(run('skipinit', 0.01, s, 1, 0.58 + b / 1000, 10, b));
      }
    const claims = figure4Claims(recs, aggregate(recs, 2));
    const byStart = (re: RegExp) => claims.find((c) => re.test(c.statement))!;
    expect(byStart(/smallest batch \(1\).*regularized-skipinit is at least as accurate as bn/).holds).toBe(true);
    expect(byStart(/^bn, depth 10: test accuracy rises from batch 1 to batch 16/).holds).toBe(true);
    expect(byStart(/^skipinit, depth 10: .*nearly independent/).holds).toBe(true);
    expect(byStart(/^regularized-skipinit, depth 10: .*nearly independent/).holds).toBe(true);
  });
});

describe('wrn sweep presets', () => {
  it('a preset sets the grid, the flags given win, and every preset passes the up-front checks', async () => {
    const { sweepFlags, sweepConfigFromFlags, PRESETS } = await import('../src/cli/sweep.js');
    const t1 = sweepConfigFromFlags(sweepFlags([]));
    expect(t1.grid).toMatchObject({ depths: [40], lrs: [0.0316, 0.1], batchSizes: [64], seeds: 3, bestK: 3 });
    expect(t1.grid.variants).toEqual(['bn@0.1', 'skipinit@0.1', 'regularized-skipinit@0.1', 'fixup@0.0316', 'skipinit:alpha=1', 'unnormalized']);
    expect(() => sweepConfigFromFlags(sweepFlags(['--variants', 'bn@0.1,bn']))).toThrow(/'bn@0\.1' and 'bn' are the same arm \(bn\)/);
    expect(() => sweepConfigFromFlags(sweepFlags(['--variants', 'bn@0.1,fixup@-1']))).toThrow(/'fixup@-1': the learning rates after @ must be positive numbers/);
    const f3 = sweepConfigFromFlags(sweepFlags(['--preset', 'fig3']));
    expect(f3.grid).toMatchObject({ depths: [10], batchSizes: [8, 16, 32, 64], lrs: [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64] });
    expect(sweepFlags(['--preset', 'fig3']).out).toBe('runs/sweep-fig3');
    const f4 = sweepFlags(['--preset=fig4', '--batch-sizes', '1,2', '--out', 'x']);
    expect(f4['batch-sizes']).toEqual([1, 2]);
    expect(f4.out).toBe('x');
    expect(sweepConfigFromFlags(f4).grid.variants).toEqual(['bn', 'skipinit', 'regularized-skipinit']);
    expect(Object.keys(PRESETS)).toEqual(['table1', 'fig3', 'fig4']);
    expect(() => sweepFlags(['--preset', 'fig5'])).toThrow(/--preset must be one of table1, fig3, fig4, got 'fig5'/);
  });
});
