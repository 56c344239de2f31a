/**
 * Pure statistics and table formatting for the benchmark (no I/O), so they
 * can be unit-tested: median, p95, summaries, ratios and a plain-text table.
 */

/** Summary of a series of samples; times in milliseconds unless `unit` says otherwise. */
export interface Summary {
  /** Number of samples measured (warm-up runs excluded). */
  n: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

/**
 * The q-quantile (0..1) of `samples` by linear interpolation between the
 * closest ranks (the "R-7" rule used by numpy and spreadsheets).
 * @throws RangeError for an empty series or q outside 0..1
 */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) throw new RangeError('quantile of an empty series');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile q must be in 0..1, got ${q}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The median (0.5-quantile) of `samples`. @throws RangeError when empty */
export function median(samples: readonly number[]): number {
  return quantile(samples, 0.5);
}

/** The 95th percentile of `samples`. @throws RangeError when empty */
export function p95(samples: readonly number[]): number {
  return quantile(samples, 0.95);
}

/** Median, p95, min, max and count of `samples`. @throws RangeError when empty */
export function summarize(samples: readonly number[]): Summary {
  return { n: samples.length, median: median(samples), p95: p95(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

/** peapod / containerd, or undefined when either is missing or the divisor is 0. */
export function ratio(peapod: number | undefined, containerd: number | undefined): number | undefined {
  if (peapod === undefined || containerd === undefined || containerd === 0) return undefined;
  return peapod / containerd;
}

/** A number with 3 significant digits for values under 100, else rounded to an integer ("1.23", "45.6", "1234"). */
export function formatNumber(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 100) return Math.round(v).toString();
  return Number(v.toPrecision(3)).toString();
}

/** One row of the results table. */
export interface MetricRow {
  /** Metric name with its unit, e.g. "RunPodSandbox (ms)". */
  metric: string;
  /** Runs measured per runtime (warm-up excluded). */
  runs: number;
  peapod?: Summary;
  containerd?: Summary;
  /** True for throughput metrics (MB/s) where a larger value is better. */
  higherIsBetter?: boolean;
}

/** "median / p95" of a summary, or just the value when there is one sample. */
function cell(s: Summary | undefined): string {
  if (!s) return '-';
  return s.n === 1 ? formatNumber(s.median) : `${formatNumber(s.median)} / ${formatNumber(s.p95)}`;
}

/**
 * Formats rows as a GitHub-flavoured Markdown table (readable as plain text
 * too): metric, runs, peapod and the other runtime (containerd, or podman
 * for the CLI section; its numbers are in the `containerd` field) as
 * "median / p95", and the ratio of the medians peapod/other.
 */
export function formatTable(rows: readonly MetricRow[], other = 'containerd'): string {
  const header = ['metric', 'runs', 'peapod (median / p95)', `${other} (median / p95)`, `ratio peapod/${other}`];
  const body = rows.map((r) => [
    r.higherIsBetter ? `${r.metric}, higher is better` : r.metric,
    String(r.runs),
    cell(r.peapod),
    cell(r.containerd),
    formatNumber(ratio(r.peapod?.median, r.containerd?.median)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cols: string[]): string => `| ${cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(header), sep, ...body.map(line)].join('\n');
}
