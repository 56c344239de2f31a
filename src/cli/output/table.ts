/**
 * Aligned columns as Go's text/tabwriter writes them for Podman
 * (`tabwriter.NewWriter(w, 12, 2, 2, ' ', 0)`): cells end with a tab; a
 * column is as wide as its widest cell plus 2 spaces, at least 12; the last
 * cell of a line is not padded.
 */

/** Minimum column width, padding included (Podman's tabwriter minwidth). */
export const MIN_WIDTH = 12;
/** Spaces after the widest cell of a column. */
export const PADDING = 2;

/**
 * Aligns tab-separated lines.
 * @param lines each line's cells joined by `\t` (no trailing newline)
 * @returns the aligned text, one `\n` after each line.
 */
export function alignTabs(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) {
    for (let i = 0; i < r.length - 1; i++) widths[i] = Math.max(widths[i] ?? MIN_WIDTH, [...r[i]].length + PADDING);
  }
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i] + (c.length - [...c].length)) : c)).join('') + '\n').join('');
}
