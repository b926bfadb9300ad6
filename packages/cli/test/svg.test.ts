import { describe, expect, it } from 'vitest';
import { escapeXml, lineChartSvg, lossCurveSvg, rocCurveSvg } from '../src/ui/svg.js';

/**
 * A strict-enough XML well-formedness check for the SVG we write: one root <svg> in the SVG
 * namespace, balanced tags, quoted attributes without raw '<' or '&', known entities in text.
 */
function assertWellFormedSvg(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  let roots = 0;
  while (i < svg.length) {
    const lt = svg.indexOf('<', i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    expect(text.replace(/&(lt|gt|amp|quot|apos|#\d+);/g, '')).not.toMatch(/[<&]/);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    if (!m) throw new Error(`malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`);
    const [, close, name, attrs, selfClose] = m;
    for (const a of attrs.matchAll(/="([^"]*)"/g)) expect(a[1].replace(/&(lt|gt|amp|quot|apos);/g, '')).not.toMatch(/[<&]/);
    if (close) {
      expect(stack.pop(), `closing </${name}>`).toBe(name);
    } else if (!selfClose) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) roots++;
    i = tag.lastIndex;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*viewBox="0 0 \d+ \d+"/);
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
}

describe('SVG writers', () => {
  it('loss curve: train and validation series', () => {
    const train = Array.from({ length: 50 }, (_, i) => [i + 1, 4 * Math.exp(-i / 20) + 1] as [number, number]);
    const svg = lossCurveSvg(train, [[0, 4.4], [25, 2.1], [50, 1.6]], 'GPT-2 <char> & "Moby"');
    assertWellFormedSvg(svg);
    expect(svg).toContain('GPT-2 &lt;char&gt; &amp; &quot;Moby&quot;');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg.match(/<circle /g)).toHaveLength(3);
  });

  it('ROC curve: axes fixed to [0, 1] and the AUC in the legend', () => {
    const svg = rocCurveSvg([0, 0, 0.1, 1], [0, 0.8, 0.95, 1], 0.9712);
    assertWellFormedSvg(svg);
    expect(svg).toContain('AUC = 0.9712');
    expect(svg).toContain('chance');
  });

  it('degenerate input still gives a valid document', () => {
    assertWellFormedSvg(lossCurveSvg([], []));
    assertWellFormedSvg(lossCurveSvg([[1, 2]], []));
    assertWellFormedSvg(lineChartSvg({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', color: '#000', points: [[0, NaN], [1, Infinity], [2, 3], [3, 3]] }] }));
  });

  it('escapes XML specials', () => {
    expect(escapeXml(`<a href="x">&'`)).toBe('&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  });
});

describe('long runs', () => {
  it('draws a loss curve of 500,000 points (no Math.min(...values) stack overflow)', () => {
    const train = Array.from({ length: 500_000 }, (_, i) => [i, 5 / (1 + i / 1000)] as const);
    const svg = lossCurveSvg(train, [[0, 5], [499_999, 0.1]]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('</svg>');
  });
});
