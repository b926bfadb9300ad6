/**
 * The live loss chart: uPlot (about 50 KB minified, canvas, made for streaming series; redraws
 * thousands of points in well under a millisecond), with training and validation loss against
 * steps. Updates are coalesced to one redraw per animation frame, so a fast run never costs the
 * main thread more than a frame's draw.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export class LossChart {
  private readonly plot: uPlot;
  private readonly steps: number[] = [];
  private readonly train: (number | null)[] = [];
  private readonly val: (number | null)[] = [];
  private frame = 0;

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
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.plot.setData([this.steps, this.train, this.val]);
    });
  }
}
