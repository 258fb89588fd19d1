// PNG plotting: raster canvas with bitmap text, line/bar charts, tick helpers, atomic PNG output.
export { Canvas, parseColor, textWidth, textHeight, wrapText, CAP_HEIGHT, FONT_HEIGHT } from './raster.js';
export type { Color, RGBA, MarkerShape, TextOptions, StrokeOptions, Rect } from './raster.js';
export { savePng, encodePng } from './png.js';
export { niceTicks, niceScale, logTicks, logMinorTicks, formatNumber, formatTicks, formatLogTicks } from './ticks.js';
export { lineChart, barChart, barChartMinWidth, panels, clipPolyline, PALETTE, MARKERS, paletteColor } from './charts.js';
export type { LineSeries, LineChartOptions, LineChartMeta, LineChartCanvas, BarStack, BarChartOptions, BarChartMeta, BarChartCanvas, Frame } from './charts.js';
