/**
 * A YAML rendering of plain data (maps, lists, strings, numbers, booleans,
 * null) for `peapod info`, in the layout Podman prints: two-space indents,
 * `- ` list items, strings quoted only when YAML would misread them, and
 * multi-line strings as `|-` blocks.
 */

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '') return '""';
  if (/^[\w./@+-][\w ./:@+,()-]*$/.test(s) && !/^(true|false|null|yes|no|~|-?\d[\d.e+-]*)$/i.test(s) && !s.endsWith(' ') && !s.includes(': ')) return s;
  return JSON.stringify(s);
}

function emit(v: unknown, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v) {
      if (item && typeof item === 'object' && Object.keys(item).length) {
        const inner: string[] = [];
        emit(item, `${indent}  `, inner);
        out.push(`${indent}- ${inner[0].trimStart()}`, ...inner.slice(1));
      } else out.push(`${indent}- ${scalar(item)}`);
    }
    return;
  }
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (Array.isArray(x)) {
      if (x.length === 0) out.push(`${indent}${k}: []`);
      else {
        out.push(`${indent}${k}:`);
        emit(x, indent, out);
      }
    } else if (x && typeof x === 'object') {
      if (Object.keys(x).length === 0) out.push(`${indent}${k}: {}`);
      else {
        out.push(`${indent}${k}:`);
        emit(x, `${indent}  `, out);
      }
    } else if (typeof x === 'string' && x.includes('\n')) {
      out.push(`${indent}${k}: |-`, ...x.split('\n').map((l) => `${indent}  ${l}`));
    } else out.push(`${indent}${k}: ${scalar(x)}`);
  }
}

/** The YAML text of `value` (an object), ending with a newline. */
export function toYaml(value: Record<string, unknown>): string {
  const out: string[] = [];
  emit(value, '', out);
  return out.join('\n') + '\n';
}
