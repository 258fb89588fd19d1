// The training curves PNG: training loss per step (and its running mean) and test accuracy at each
// evaluation, both against the step (the drawing is curvesChart, shared with the browser page).
import { join } from 'node:path';
import { savePng } from '../plot/png.js';
import type { EpochRecord } from './config.js';
import { curvesChart } from './curves_chart.js';

export { curvesChart } from './curves_chart.js';

export function writeCurves(out: string, losses: number[], history: EpochRecord[], title: string): string {
  const path = join(out, 'curves.png');
  savePng(curvesChart(losses, history, title), path);
  return path;
}
