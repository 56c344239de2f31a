/**
 * Reading critest's results: the Ginkgo v2 JSON report written by
 * `--ginkgo.json-report FILE` (an array of suite reports, each with
 * `SpecReports`), and, when there is no report, the summary line Ginkgo
 * prints (`Ran 3 of 85 Specs in 1.2 seconds` / `FAIL! -- 1 Passed | 2 Failed | 0 Pending | 82 Skipped`).
 */
import { matchOffline, OfflineSpec, OFFLINE_SPECS } from './offline-specs';

/** What became of one spec in our summary. */
export type SpecOutcome = 'passed' | 'failed' | 'skipped' | 'offline' | 'pending';

/** One spec's result. */
export interface SpecResult {
  /** Container texts and the leaf text joined by spaces, as Ginkgo prints it. */
  name: string;
  outcome: SpecOutcome;
  /** Ginkgo's own state (`passed`, `failed`, `panicked`, `timedout`, …). */
  state: string;
  /** Seconds. */
  runTime: number;
  /** `file:line` of the spec. */
  location?: string;
  /** For failures: Ginkgo's failure message; for offline specs: the reason. */
  message?: string;
  /** For failures: `file:line` where it failed. */
  failureLocation?: string;
}

/** Counts over the results. */
export interface Summary {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
  offline: number;
  pending: number;
  /** Seconds, as Ginkgo measured the suite (0 when unknown). */
  suiteRunTime: number;
}

interface GinkgoLocation {
  FileName?: string;
  LineNumber?: number;
}

interface GinkgoSpecReport {
  ContainerHierarchyTexts?: string[] | null;
  LeafNodeType?: string;
  LeafNodeText?: string;
  LeafNodeLocation?: GinkgoLocation;
  State?: string;
  RunTime?: number;
  Failure?: { Message?: string; Location?: GinkgoLocation; FailureNodeType?: string } | null;
}

interface GinkgoSuiteReport {
  RunTime?: number;
  SpecReports?: GinkgoSpecReport[] | null;
}

const FAILED_STATES = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted']);

function loc(l: GinkgoLocation | undefined): string | undefined {
  if (!l || !l.FileName) return undefined;
  return `${l.FileName.replace(/^github\.com\/kubernetes-sigs\/cri-tools\//, '')}:${l.LineNumber ?? 0}`;
}

/**
 * Parses the text of a Ginkgo v2 JSON report into one result per spec
 * (`It` nodes), plus one per suite-level node (BeforeSuite, AfterSuite, …)
 * that failed. A skipped spec that an offline pattern matches becomes
 * `offline` with the pattern's reason.
 * @param json the file's text
 * @param offline the offline list (default: OFFLINE_SPECS)
 * @returns results in report order and the suite's run time (seconds; Ginkgo writes nanoseconds)
 * @throws SyntaxError when the text is not JSON; Error when it is not a report array
 */
export function parseGinkgoJsonReport(json: string, offline: readonly OfflineSpec[] = OFFLINE_SPECS): { results: SpecResult[]; suiteRunTime: number } {
  const data = JSON.parse(json) as unknown;
  if (!Array.isArray(data)) throw new Error('not a Ginkgo JSON report: expected an array of suite reports');
  const results: SpecResult[] = [];
  let suiteRunTime = 0;
  for (const suite of data as GinkgoSuiteReport[]) {
    suiteRunTime += (suite.RunTime ?? 0) / 1e9;
    for (const r of suite.SpecReports ?? []) {
      const state = r.State ?? 'unknown';
      const isSpec = r.LeafNodeType === 'It';
      if (!isSpec && !FAILED_STATES.has(state)) continue;
      const name = isSpec
        ? [...(r.ContainerHierarchyTexts ?? []), r.LeafNodeText ?? ''].filter((t) => t !== '').join(' ')
        : `[${r.LeafNodeType ?? 'node'}]${r.LeafNodeText ? ' ' + r.LeafNodeText : ''}`;
      const result: SpecResult = { name, outcome: 'skipped', state, runTime: (r.RunTime ?? 0) / 1e9, location: loc(r.LeafNodeLocation) };
      if (state === 'passed') result.outcome = 'passed';
      else if (state === 'pending') result.outcome = 'pending';
      else if (FAILED_STATES.has(state)) {
        result.outcome = 'failed';
        result.message = r.Failure?.Message ?? '';
        result.failureLocation = loc(r.Failure?.Location);
      } else {
        const off = isSpec ? matchOffline(name, offline) : undefined;
        if (off) {
          result.outcome = 'offline';
          result.message = off.reason;
        }
      }
      results.push(result);
    }
  }
  return { results, suiteRunTime };
}

/** Counts the results by outcome. */
export function summarize(results: readonly SpecResult[], suiteRunTime = 0): Summary {
  const s: Summary = { total: results.length, passed: 0, failed: 0, skipped: 0, offline: 0, pending: 0, suiteRunTime };
  for (const r of results) s[r.outcome]++;
  return s;
}

/** The counts of Ginkgo's final text summary, when the JSON report is missing. */
export interface TextSummary {
  ran: number;
  total: number;
  passed: number;
  failed: number;
  pending: number;
  skipped: number;
  /** Seconds. */
  seconds: number;
}

/**
 * Finds Ginkgo's closing summary in its console output (colours allowed):
 * `Ran R of T Specs in S seconds` and `… P Passed | F Failed | N Pending | K Skipped`.
 * @returns undefined when the output has no such summary (e.g. critest crashed)
 */
export function parseGinkgoTextSummary(output: string): TextSummary | undefined {
  // eslint-disable-next-line no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, '');
  const ran = /Ran (\d+) of (\d+) Specs? in ([0-9.]+) seconds/.exec(text);
  const counts = /(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(text);
  if (!ran || !counts) return undefined;
  return {
    ran: Number(ran[1]),
    total: Number(ran[2]),
    seconds: Number(ran[3]),
    passed: Number(counts[1]),
    failed: Number(counts[2]),
    pending: Number(counts[3]),
    skipped: Number(counts[4]),
  };
}

const LABEL: Record<SpecOutcome, string> = { passed: 'PASS   ', failed: 'FAIL   ', skipped: 'SKIP   ', offline: 'OFFLINE', pending: 'PENDING' };

/**
 * A one-line headline of a Gomega/Ginkgo failure message: its first
 * meaningful lines (up to 5) joined, Go type dumps such as
 * `<*fmt.wrapError | 0xc000…>:`, lone brackets and the struct dump that
 * follows a lone `{` dropped, cut to `max` characters. E.g. `Unexpected
 * error: validate service connection: … is not implemented by peapod`.
 */
export function failureHeadline(message: string, max = 300): string {
  const kept: string[] = [];
  for (const raw of message.split('\n')) {
    const l = raw.trim();
    if (l === '{') break; // a Go struct dump follows: the readable part is over
    if (l === '' || /^<[^>]*\| 0x[0-9a-f]+>:?$/.test(l) || /^[{}[\](),]+$/.test(l)) continue;
    // Gomega writes `<description>\nUnexpected error:\n<error>`: keep the error unless the description already says it.
    if (kept.length > 0 && l === 'Unexpected error:') continue;
    if (kept.some((k) => k.includes(l))) continue;
    kept.push(l);
    if (kept.length === 5) break;
  }
  const text = kept.join(' ');
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

/**
 * The headline with run-specific details replaced, so that failures of the
 * same cause group together: hex IDs (12+ digits) → `<id>`, UUIDs → `<uuid>`,
 * temp paths → `<tmp>`, 0x addresses → `0x…`, and other numbers → `N`.
 */
export function failureClass(message: string): string {
  return failureHeadline(message, 400)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
    .replace(/\b[0-9a-f]{12,}\b/g, '<id>')
    .replace(/\/tmp\/[^\s"']+/g, '<tmp>')
    .replace(/0x[0-9a-f]+/g, '0x…')
    .replace(/\b\d+\b/g, 'N');
}

/** Failures grouped by failureClass, most frequent first: `[class, count]`. */
export function failureClasses(results: readonly SpecResult[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of results) {
    if (r.outcome !== 'failed') continue;
    const k = failureClass(r.message ?? '');
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

/**
 * One line per spec (`PASS    [1.2s] name`), failures followed by an
 * indented first line of the message and where it failed, offline specs by
 * their reason.
 */
export function formatResults(results: readonly SpecResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${LABEL[r.outcome]} [${r.runTime.toFixed(1)}s] ${r.name}`);
    if (r.outcome === 'failed') {
      lines.push(`          ${failureHeadline(r.message ?? '')}${r.failureLocation ? `  (${r.failureLocation})` : ''}`);
    } else if (r.outcome === 'offline') {
      lines.push(`          offline: ${r.message}`);
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** The one-line summary: `critest: 40 passed, 39 failed, 5 skipped, 1 offline (85 specs); suite 812.3 s, wall 845.0 s`. */
export function formatSummary(s: Summary, wallSeconds: number): string {
  const parts = [`${s.passed} passed`, `${s.failed} failed`, `${s.skipped} skipped`, `${s.offline} offline`];
  if (s.pending) parts.push(`${s.pending} pending`);
  return `critest: ${parts.join(', ')} (${s.total} specs); suite ${s.suiteRunTime.toFixed(1)} s, wall ${wallSeconds.toFixed(1)} s`;
}
