/**
 * The critest v1.26.1 specs that cannot pass offline, each with the reason.
 * This is the ONE place such specs are listed: `npm run critest` hands every
 * pattern to critest as `--ginkgo.skip` and reports the matching specs as
 * "offline" (never as passed, never hidden).
 */

/** A spec (or group of specs) skipped because the suite runs without a network. */
export interface OfflineSpec {
  /** Regular expression (Go RE2 syntax, also valid JavaScript) matched against the spec's full text. */
  pattern: string;
  /** Why it cannot run offline. */
  reason: string;
}

/** The specs skipped offline, with their reasons. */
export const OFFLINE_SPECS: readonly OfflineSpec[] = [
  {
    pattern: 'public image with digest should be pulled and removed',
    reason:
      'pulls gcr.io/k8s-staging-cri-tools/test-image-digest@sha256:9700f9a2f5bf2c45f2f605a0bd3bce7cf37420ec9d3ed50ac2758413308766bf; ' +
      'a manifest with that digest cannot be rebuilt offline (a digest cannot be forged), so no local stand-in can serve it',
  },
];

/** One regular expression for `--ginkgo.skip` matching every offline spec: `(?:p1)|(?:p2)…`; undefined when the list is empty. */
export function offlineSkipRegex(specs: readonly OfflineSpec[] = OFFLINE_SPECS): string | undefined {
  if (specs.length === 0) return undefined;
  return specs.map((s) => `(?:${s.pattern})`).join('|');
}

/** The offline spec whose pattern matches `fullText` (a spec's hierarchy and leaf text joined by spaces), if any. */
export function matchOffline(fullText: string, specs: readonly OfflineSpec[] = OFFLINE_SPECS): OfflineSpec | undefined {
  return specs.find((s) => new RegExp(s.pattern).test(fullText));
}

/** Human-readable list, one `- <pattern>: <reason>` line per spec, under a heading line. */
export function formatOfflineList(specs: readonly OfflineSpec[] = OFFLINE_SPECS): string {
  if (specs.length === 0) return 'offline: no spec is skipped\n';
  const lines = [`offline: ${specs.length} spec pattern(s) skipped (they need the internet):`];
  for (const s of specs) lines.push(`  - ${s.pattern}: ${s.reason}`);
  return lines.join('\n') + '\n';
}
