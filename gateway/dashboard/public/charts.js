/**
 * Time-series charts, drawn by uPlot (served by the gateway from its installed package).
 */
import uPlot from '../vendor/uplot.js';
import { h } from './dom.js';

const COLOURS = { legacy: '#8a5a00', new: '#1f6f4a', shadow: '#3b5bab', other: '#9c3fa0' };

/**
 * A chart in `container` with a title and one line per series. `series` is
 * [{ label, colour, value?: (v) => string }]; call `update([xs, ...ys])` with x in Unix seconds.
 */
export function createChart(container, { title, series, unit, height = 180 }) {
  const figure = h('figure', { class: 'chart', role: 'group', 'aria-label': title });
  const heading = h('h4', {}, title);
  const plotArea = h('div');
  figure.append(heading, plotArea);
  container.append(figure);
  let plot;
  const options = (width) => ({
    width,
    height,
    scales: { x: { time: true } },
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: COLOURS[s.colour] ?? s.colour,
        width: 2,
        spanGaps: false,
        value: (_u, v) =>
          v === null || v === undefined ? '—' : `${formatValue(v)}${unit ? ` ${unit}` : ''}`,
      })),
    ],
    axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((t) => formatValue(t)) }],
  });
  const widthOf = () =>
    Math.max(300, Math.floor(plotArea.clientWidth || figure.clientWidth || 480));
  const observer = new ResizeObserver(() => {
    if (plot) plot.setSize({ width: widthOf(), height });
  });
  observer.observe(figure);
  return {
    update(data) {
      if (!plot) plot = new uPlot(options(widthOf()), data, plotArea);
      else plot.setData(data);
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
      figure.remove();
    },
  };
}

function formatValue(value) {
  if (Math.abs(value) >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (Math.abs(value) >= 10_000) return `${Math.round(value / 1000)}k`;
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Math.round(value * 100) / 100);
}

/** The three charts of a route: traffic split, error rate and p99 latency, each side a line. */
export function createRouteCharts(container) {
  const sides = [
    { label: 'monolith', colour: 'legacy' },
    { label: 'new service', colour: 'new' },
    { label: 'shadow copy', colour: 'shadow' },
  ];
  const traffic = createChart(container, {
    title: 'Traffic split (requests/s)',
    series: sides,
    unit: 'req/s',
  });
  const errors = createChart(container, { title: 'Error rate (5xx, %)', series: sides, unit: '%' });
  const latency = createChart(container, { title: 'Latency p99 (ms)', series: sides, unit: 'ms' });
  return {
    /** `series` is GET /_ficus/api/series/:route. */
    update(series) {
      const { times, sides: columns, bucketSeconds } = series;
      const nowSeconds = Date.now() / 1000;
      const spans = times.map((t) => Math.max(1, Math.min(bucketSeconds, nowSeconds - t)));
      const rate = (column) => column.requests.map((n, i) => n / spans[i]);
      const errorRate = (column) =>
        column.requests.map((n, i) => (n === 0 ? null : (column.errors[i] / n) * 100));
      const order = [columns.legacy, columns.new, columns.shadow];
      traffic.update([times, ...order.map(rate)]);
      errors.update([times, ...order.map(errorRate)]);
      latency.update([times, ...order.map((c) => c.p99Ms)]);
    },
    destroy() {
      traffic.destroy();
      errors.destroy();
      latency.destroy();
    },
  };
}
