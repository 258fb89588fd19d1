// The training curves PNG: training loss per step (and its running mean) and test accuracy at each
// evaluation, both against the step.
import { join } from 'node:path';
import { lineChart, panels, savePng } from '../plot/index.js';
import type { EpochRecord } from './trainer.js';

export function writeCurves(out: string, losses: number[], history: EpochRecord[], title: string): string {
  const steps = losses.map((_, i) => i + 1);
  const window = Math.max(1, Math.round(losses.length / 50));
  const smooth = losses.map((_, i) => {
    const a = Math.max(0, i - window + 1);
    let s = 0;
    for (let j = a; j <= i; j++) s += losses[j];
    return s / (i - a + 1);
  });
  // Both panels share one step axis, so they read together.
  const lastStep = Math.max(losses.length, ...history.map((h) => h.step ?? 0), 1);
  const loss = lineChart({
    title: `${title}: training loss`,
    xLabel: 'step',
    yLabel: 'cross-entropy',
    series: [
      { name: 'per step', x: steps, y: losses, color: '#bbbbbb' },
      { name: `mean of ${window}`, x: steps, y: smooth },
    ],
    xMin: 0,
    xMax: lastStep,
  });
  const acc = lineChart({
    title: `${title}: test accuracy`,
    xLabel: 'step',
    yLabel: 'accuracy (%)',
    series: [{ name: 'test', x: history.map((h) => h.step ?? h.epoch), y: history.map((h) => 100 * h.testAccuracy), markers: true }],
    yMin: 0,
    yMax: 100,
    xMin: 0,
    xMax: lastStep,
  });
  const path = join(out, 'curves.png');
  savePng(panels([loss, acc], 2), path);
  return path;
}
