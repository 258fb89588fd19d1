// The training curves as a drawing (src/plot Canvas, no node:*): curves.png in Node, the live
// curves in the browser page.
import { lineChart, panels } from '../plot/charts.js';
import type { Canvas } from '../plot/raster.js';
import type { EpochRecord } from './config.js';

/** Training loss per step (and its running mean) and test accuracy per evaluation, against one step axis. */
export function curvesChart(losses: number[], history: Pick<EpochRecord, 'epoch' | 'step' | 'testAccuracy'>[], title: string, size: { width?: number; height?: number } = {}): Canvas {
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
    ...size,
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
    ...size,
  });
  return panels([loss, acc], 2);
}
