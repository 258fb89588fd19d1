// The lab's run list, its pure parts: labels, CSV and JSON exports with their metadata, the
// overlay series (the smoothing is src/web/chart.ts's, tested in test/web_chart.test.ts). The DOM part is exercised in test/browser.test.ts.
import { describe, expect, it } from 'vitest';
import { overlaySeries, runCsv, runJson, runLabel, type PageRun } from '../src/web/runs.js';
import { DEFAULT_JOB } from '../src/train/config.js';

function pageRun(over: Partial<PageRun> = {}): PageRun {
  return {
    id: 2,
    name: 'WRN-16-1 bn',
    date: '2026-12-07T22:00:00.000Z',
    adapter: 'google / swiftshader',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/140',
    commit: '0123456789ab',
    config: { ...DEFAULT_JOB, depth: 16, lr: 0.2 },
    data: 'Fashion-MNIST, "12x12"',
    classes: 10,
    losses: [2.3, 2.0, 1.7, 1.5, 1.4, 1.3],
    lrs: [0.2, 0.2, 0.2, 0.1, 0.1, 0.1],
    history: [
      { epoch: 1, step: 3, trainLoss: 2, testLoss: 1.6, testAccuracy: 0.41, lr: 0.2, seconds: 1 },
      { epoch: 2, step: 6, trainLoss: 1.4, testLoss: 1.2, testAccuracy: 0.55, lr: 0.1, seconds: 1 },
    ],
    steps: 6,
    stop: 'finished',
    seconds: 12,
    imagesPerSecond: 40,
    finalTestAccuracy: 0.55,
    resumedFrom: null,
    ...over,
  };
}

describe('lab run list', () => {
  it('labels a run by its settings, and says where a resumed one started', () => {
    expect(runLabel(pageRun())).toBe('2: WRN-16-1 bn, lr 0.2, batch 64');
    expect(runLabel(pageRun({ resumedFrom: 100 }))).toBe('2: WRN-16-1 bn, lr 0.2, batch 64 (resumed at 100)');
  });

  it('CSV: metadata lines, then one row per step with the evaluation on the step that ended each epoch', () => {
    const lines = runCsv(pageRun()).trimEnd().split('\n');
    expect(lines.slice(0, 7).map((l) => l.split(':')[0])).toEqual(['# run', '# date', '# adapter', '# user agent', '# commit', '# data', '# settings']);
    expect(JSON.parse(lines[6].slice('# settings: '.length))).toMatchObject({ depth: 16, lr: 0.2 });
    expect(lines[7]).toBe('step,epoch,train_loss,lr,test_loss,test_accuracy');
    expect(lines.slice(8)).toEqual(['1,1,2.3,0.2,,', '2,1,2,0.2,,', '3,1,1.7,0.2,1.6,0.41', '4,2,1.5,0.1,,', '5,2,1.4,0.1,,', '6,2,1.3,0.1,1.2,0.55']);
  });

  it('JSON: the run with its metadata, without the page-local id', () => {
    const j = JSON.parse(runJson(pageRun()));
    expect(j.kind).toBe('wrn-browser-train');
    expect(j).not.toHaveProperty('id');
    expect(j).toMatchObject({ adapter: 'google / swiftshader', commit: '0123456789ab', date: '2026-12-07T22:00:00.000Z', config: { depth: 16 } });
  });

  it('one overlay series per run and metric, against the step', () => {
    const runs = [pageRun({ id: 1 }), pageRun({ id: 2, lrs: [0.05, 0.05, 0.05, 0.05, 0.05, 0.05] })];
    const acc = overlaySeries(runs, 'accuracy');
    expect(acc.map((s) => s.name)).toEqual(['1: WRN-16-1 bn, lr 0.2, batch 64', '2: WRN-16-1 bn, lr 0.2, batch 64']);
    expect(acc[0].x).toEqual([3, 6]);
    expect(acc[0].y.map((v) => Number(v.toFixed(9)))).toEqual([41, 55]); // percent
    expect(overlaySeries(runs, 'testLoss')[0].y).toEqual([1.6, 1.2]);
    expect(overlaySeries(runs, 'lr')[1].y).toEqual([0.05, 0.05, 0.05, 0.05, 0.05, 0.05]);
    expect(overlaySeries(runs, 'loss', 0)[0]).toMatchObject({ x: [1, 2, 3, 4, 5, 6], y: [2.3, 2.0, 1.7, 1.5, 1.4, 1.3] });
  });
});
