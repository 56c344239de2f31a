import { expect } from 'chai';
import { formatNumber, formatTable, median, p95, quantile, ratio, summarize } from '../../bench/stats';

describe('bench stats', () => {
  it('median of odd and even series, unsorted input', () => {
    expect(median([5, 1, 3])).to.equal(3);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([7])).to.equal(7);
  });

  it('p95 interpolates between the closest ranks', () => {
    const xs = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20
    expect(p95(xs)).to.be.closeTo(19.05, 1e-9);
    expect(quantile(xs, 0)).to.equal(1);
    expect(quantile(xs, 1)).to.equal(20);
  });

  it('refuses an empty series and q out of range', () => {
    expect(() => median([])).to.throw(RangeError);
    expect(() => quantile([1], 1.5)).to.throw(RangeError);
  });

  it('summarize and ratio', () => {
    expect(summarize([3, 1, 2])).to.deep.equal({ n: 3, median: 2, p95: 2.9, min: 1, max: 3 });
    expect(ratio(2, 4)).to.equal(0.5);
    expect(ratio(2, 0)).to.equal(undefined);
    expect(ratio(undefined, 1)).to.equal(undefined);
  });

  it('formats numbers with 3 significant digits below 100', () => {
    expect(formatNumber(1.23456)).to.equal('1.23');
    expect(formatNumber(45.678)).to.equal('45.7');
    expect(formatNumber(1234.5)).to.equal('1235');
    expect(formatNumber(undefined)).to.equal('-');
  });

  it('formats an aligned Markdown table with the median ratio', () => {
    const t = formatTable([
      { metric: 'RunPodSandbox (ms)', runs: 20, peapod: summarize([10, 20, 30]), containerd: summarize([5, 10, 15]) },
      { metric: 'PullImage (MB/s)', runs: 1, peapod: summarize([100]), containerd: summarize([50]), higherIsBetter: true },
      { metric: 'only one', runs: 1, peapod: summarize([1]) },
    ]).split('\n');
    expect(t).to.have.length(5);
    expect(new Set(t.map((l) => l.length)).size).to.equal(1);
    expect(t[0]).to.match(/^\| metric +\| runs \| peapod \(median \/ p95\) \|/);
    expect(t[1]).to.match(/^\| -+ \| -+: \|/);
    expect(t[2]).to.match(/\| +20 \/ 29 \| +10 \/ 14\.5 \| +2 \|$/);
    expect(t[3]).to.contain('PullImage (MB/s), higher is better');
    expect(t[3]).to.match(/\| +100 \| +50 \| +2 \|$/);
    expect(t[4]).to.match(/\| +- \| +- \|$/);
  });
});
