/**
 * The live loss chart: uPlot (about 50 KB minified, canvas, made for streaming series; redraws
 * thousands of points in well under a millisecond), with training and validation loss against
 * steps. Updates are coalesced into at most one redraw every `REDRAW_MS` (in an animation frame),
 * so a fast run costs the main thread a few small draws a second however many steps arrive.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Least time between two redraws (ms). */
const REDRAW_MS = 250;

export class LossChart {
  private readonly plot: uPlot;
  private readonly steps: number[] = [];
  private readonly train: (number | null)[] = [];
  private readonly val: (number | null)[] = [];
  private scheduled = false;
  private lastDraw = -Infinity;

  constructor(private readonly host: HTMLElement) {
    this.plot = new uPlot(
      {
        width: Math.max(320, host.clientWidth),
        height: 260,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, { label: 'loss' }],
        series: [
          { label: 'step' },
          { label: 'training', stroke: '#2563eb', width: 1.5, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
          { label: 'validation', stroke: '#dc2626', width: 2, spanGaps: true, points: { show: true, size: 6 }, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
        ],
      },
      [[], [], []],
      host,
    );
    new ResizeObserver(() => this.plot.setSize({ width: Math.max(320, host.clientWidth), height: 260 })).observe(host);
  }

  clear(): void {
    this.steps.length = this.train.length = this.val.length = 0;
    this.redraw();
  }

  /** The loss of training batch `step` (or the validation loss at `step`). */
  add(kind: 'train' | 'val', step: number, loss: number): void {
    let i = this.steps.length - 1;
    if (i < 0 || this.steps[i] !== step) {
      this.steps.push(step);
      this.train.push(null);
      this.val.push(null);
      i++;
    }
    (kind === 'train' ? this.train : this.val)[i] = loss;
    this.redraw();
  }

  private redraw(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(0, this.lastDraw + REDRAW_MS - performance.now());
    setTimeout(
      () =>
        requestAnimationFrame(() => {
          this.scheduled = false;
          this.lastDraw = performance.now();
          this.plot.setData([this.steps, this.train, this.val]);
        }),
      wait,
    );
  }
}
