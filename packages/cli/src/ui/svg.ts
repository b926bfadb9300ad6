/**
 * Line charts as standalone SVG text (no dependencies): the training loss curve and the ROC curve.
 */

/** One line of a chart. */
export interface Series {
  readonly name: string;
  /** [x, y] points in data units, in drawing order. Non-finite points are skipped. */
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  readonly dashed?: boolean;
  /** Draw a dot at each point (for sparse series such as validation loss). */
  readonly markers?: boolean;
}

/** A chart: title, axis labels, series, and optional fixed axis ranges. */
export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly xRange?: readonly [number, number];
  readonly yRange?: readonly [number, number];
  readonly width?: number;
  readonly height?: number;
}

const MARGIN = { left: 64, right: 20, top: 40, bottom: 52 };

/** Renders `chart` as an SVG document. */
export function lineChartSvg(chart: Chart): string {
  const width = chart.width ?? 720;
  const height = chart.height ?? 440;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const finite = chart.series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const [x0, x1] = chart.xRange ?? padRange(finite.map((p) => p[0]), 0);
  const [y0, y1] = chart.yRange ?? padRange(finite.map((p) => p[1]), 0.05);
  const sx = (x: number): number => MARGIN.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number): number => MARGIN.top + plotH - ((y - y0) / (y1 - y0)) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(chart.title)}</text>`);

  // Grid and ticks.
  for (const t of ticks(x0, x1, 6)) {
    const x = num(sx(t));
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotH}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x}" y="${MARGIN.top + plotH + 16}" text-anchor="middle">${escapeXml(fmtTick(t))}</text>`);
  }
  for (const t of ticks(y0, y1, 6)) {
    const y = num(sy(t));
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(fmtTick(t))}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  out.push(
    `<text x="16" y="${MARGIN.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotH / 2})">${escapeXml(chart.yLabel)}</text>`,
  );

  // Series, clipped to the plot area.
  out.push(`<clipPath id="plot"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}"/></clipPath>`);
  out.push('<g clip-path="url(#plot)">');
  for (const s of chart.series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${num(sx(x))},${num(sy(y))}`);
    if (pts.length === 0) continue;
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    if (pts.length > 1) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.6"${dash} points="${pts.join(' ')}"/>`);
    if (s.markers || pts.length === 1) {
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  out.push('</g>');

  // Legend, top right inside the plot.
  const legendW = 12 + 8 * Math.max(...chart.series.map((s) => s.name.length), 4) + 28;
  let ly = MARGIN.top + 14;
  const lx = MARGIN.left + plotW - legendW;
  out.push(`<rect x="${lx - 6}" y="${MARGIN.top + 4}" width="${legendW}" height="${chart.series.length * 18 + 6}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  for (const s of chart.series) {
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
    ly += 18;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Escapes the five XML special characters. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function num(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function padRange(values: readonly number[], pad: number): [number, number] {
  if (values.length === 0) return [0, 1];
  // A loop, not Math.min(...values): a long run's 10^5+ points overflow the stack as arguments.
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

/** About `count` round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out;
}

function fmtTick(t: number): string {
  if (t !== 0 && (Math.abs(t) >= 1e5 || Math.abs(t) < 1e-3)) return t.toExponential(1);
  return String(Number(t.toPrecision(6)));
}

/** The training chart: per-step train loss and the validation points. */
export function lossCurveSvg(train: readonly (readonly [number, number])[], val: readonly (readonly [number, number])[], title = 'Training loss'): string {
  return lineChartSvg({
    title,
    xLabel: 'step',
    yLabel: 'loss (nats / token)',
    series: [
      { name: 'train', points: smooth(train), color: '#1f77b4' },
      { name: 'validation', points: val, color: '#d62728', markers: true },
    ],
  });
}

/** The ROC chart with the chance diagonal. */
export function rocCurveSvg(fpr: readonly number[], tpr: readonly number[], auc: number, title = 'ROC curve'): string {
  return lineChartSvg({
    title,
    xLabel: 'false positive rate',
    yLabel: 'true positive rate',
    xRange: [0, 1],
    yRange: [0, 1.02],
    series: [
      { name: `model (AUC = ${auc.toFixed(4)})`, points: fpr.map((x, i) => [x, tpr[i]] as const), color: '#1f77b4' },
      { name: 'chance', points: [[0, 0], [1, 1]], color: '#999', dashed: true },
    ],
  });
}

/** Exponential moving average (bias-corrected) so a noisy per-step loss reads as a curve. */
function smooth(points: readonly (readonly [number, number])[], beta = 0.9): [number, number][] {
  let avg = 0;
  return points.map(([x, y], i) => {
    avg = beta * avg + (1 - beta) * y;
    return [x, avg / (1 - beta ** (i + 1))];
  });
}
