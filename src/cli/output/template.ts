/**
 * The subset of Go's text/template that Podman users write in `--format`:
 * `{{.Field}}`, `{{.A.B}}`, `{{.}}`, pipelines (`{{.X | json}}`), the
 * functions json, upper, lower, title, join, len, print, println, printf and
 * truncate, string and number literals, `{{range …}}…{{else}}…{{end}}`,
 * `{{if …}}…{{else}}…{{end}}`, and the trim markers `{{-`/`-}}`. Field names
 * match exactly, else case-insensitively (so `.Store.GraphRoot` reads the
 * JSON key `graphRoot`). Values print as Go's `%v` does (`[a b]`,
 * `map[k:v]`, `<no value>` for a missing map key).
 *
 * `table …` formats (Podman's) are handled by formatRecords: the spaces
 * between actions become column breaks, a header row names each field, and
 * the rows are aligned like Podman's tabwriter.
 */
import { alignTabs } from './table';

/** A template that does not parse or cannot be applied; the message says where. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(`template: ${message}`);
    this.name = 'TemplateError';
  }
}

type Operand = { kind: 'field'; path: string[] } | { kind: 'dot' } | { kind: 'string'; value: string } | { kind: 'number'; value: number } | { kind: 'ident'; name: string };
type Command = Operand[];
type Pipeline = Command[];
type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'range' | 'if'; pipe: Pipeline; body: Node[]; orElse: Node[] };

/** Largest template accepted (characters). */
const MAX_TEMPLATE = 64 * 1024;

function tokenize(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 2;
    }
    if (text) out.push({ text });
    const close = findClose(src, start);
    if (close < 0) throw new TemplateError(`unclosed action starting at offset ${open}`);
    let body = src.slice(start, close);
    i = close + 2;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -2);
      const m = /^\s*/.exec(src.slice(i));
      i += m ? m[0].length : 0;
    }
    out.push({ action: body.trim() });
  }
  return out;
}

function findClose(src: string, from: number): number {
  let inStr = false;
  for (let j = from; j < src.length - 1; j++) {
    const c = src[j];
    if (inStr) {
      if (c === '\\') j++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  return -1;
}

function parsePipeline(s: string): Pipeline {
  const words: string[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\||[^\s|]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) words.push(m[1]);
  const pipe: Pipeline = [];
  let cur: Command = [];
  for (const w of words) {
    if (w === '|') {
      if (cur.length === 0) throw new TemplateError(`missing command before "|" in {{${s}}}`);
      pipe.push(cur);
      cur = [];
      continue;
    }
    cur.push(parseOperand(w, s));
  }
  if (cur.length === 0) throw new TemplateError(`empty command in {{${s}}}`);
  pipe.push(cur);
  return pipe;
}

function parseOperand(w: string, action: string): Operand {
  if (w === '.') return { kind: 'dot' };
  if (w.startsWith('.')) {
    const path = w.slice(1).split('.');
    if (path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) throw new TemplateError(`bad field "${w}" in {{${action}}}`);
    return { kind: 'field', path };
  }
  if (w.startsWith('"')) return { kind: 'string', value: JSON.parse(w) as string };
  if (w.startsWith('`')) return { kind: 'string', value: w.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(w)) return { kind: 'number', value: Number(w) };
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(w)) return { kind: 'ident', name: w };
  throw new TemplateError(`unexpected "${w}" in {{${action}}}`);
}

function parse(src: string): Node[] {
  const tokens = tokenize(src);
  let pos = 0;
  const block = (inside: string | undefined): { nodes: Node[]; end: 'end' | 'else' | 'eof' } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const t = tokens[pos++];
      if ('text' in t) {
        nodes.push({ kind: 'text', text: t.text });
        continue;
      }
      const a = t.action;
      if (a.startsWith('/*')) continue;
      if (a === 'end' || a === 'else') {
        if (!inside) throw new TemplateError(`unexpected {{${a}}}`);
        return { nodes, end: a };
      }
      const m = /^(range|if)\s+(.*)$/.exec(a);
      if (m) {
        const pipe = parsePipeline(m[2]);
        const body = block(m[1]);
        let orElse: Node[] = [];
        if (body.end === 'else') {
          const e = block(m[1]);
          if (e.end !== 'end') throw new TemplateError(`missing {{end}} for {{${m[1]}}}`);
          orElse = e.nodes;
        } else if (body.end !== 'end') throw new TemplateError(`missing {{end}} for {{${m[1]}}}`);
        nodes.push({ kind: m[1] as 'range' | 'if', pipe, body: body.nodes, orElse });
        continue;
      }
      nodes.push({ kind: 'action', pipe: parsePipeline(a) });
    }
    return { nodes, end: 'eof' };
  };
  const top = block(undefined);
  return top.nodes;
}

/** Go's `%v` of a value. */
export function goValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${goValue(x)}`).join(' ')}]`;
  }
  return String(v);
}

function lookup(obj: unknown, name: string): { found: boolean; value: unknown } {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { found: false, value: undefined };
  const o = obj as Record<string, unknown>;
  if (Object.prototype.hasOwnProperty.call(o, name)) return { found: true, value: o[name] };
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return { found: true, value: o[k] };
  return { found: false, value: undefined };
}

function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

function printf(fmt: string, args: unknown[]): string {
  let i = 0;
  return fmt.replace(/%(-?\d*)([svdq%])/g, (_m, width: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    let s = verb === 'q' ? JSON.stringify(String(a)) : goValue(a);
    const w = Number(width);
    if (w > 0) s = s.padStart(w);
    else if (w < 0) s = s.padEnd(-w);
    return s;
  });
}

const FUNCS: Record<string, (args: unknown[]) => unknown> = {
  json: (a) => JSON.stringify(a[0] ?? null),
  upper: (a) => goValue(a[0]).toUpperCase(),
  lower: (a) => goValue(a[0]).toLowerCase(),
  title: (a) => goValue(a[0]).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (a) => (Array.isArray(a[0]) ? (a[0] as unknown[]).map(goValue).join(String(a[1] ?? '')) : goValue(a[0])),
  len: (a) => (Array.isArray(a[0]) || typeof a[0] === 'string' ? (a[0] as string | unknown[]).length : a[0] && typeof a[0] === 'object' ? Object.keys(a[0]).length : 0),
  print: (a) => a.map(goValue).join(''),
  println: (a) => a.map(goValue).join(' ') + '\n',
  printf: (a) => printf(String(a[0] ?? ''), a.slice(1)),
  truncate: (a) => goValue(a[0]).slice(0, Number(a[1] ?? 0)),
};

function evalOperand(op: Operand, dot: unknown): unknown {
  switch (op.kind) {
    case 'dot':
      return dot;
    case 'string':
    case 'number':
      return op.value;
    case 'ident':
      if (op.name === 'true') return true;
      if (op.name === 'false') return false;
      if (op.name === 'nil') return null;
      if (!FUNCS[op.name]) throw new TemplateError(`function "${op.name}" not defined`);
      return FUNCS[op.name]([]);
    case 'field': {
      let cur = dot;
      for (const p of op.path) {
        const r = lookup(cur, p);
        if (!r.found) {
          if (cur && typeof cur === 'object' && !Array.isArray(cur)) throw new TemplateError(`can't evaluate field ${p}`);
          throw new TemplateError(`can't evaluate field ${p} in ${goValue(cur)}`);
        }
        cur = r.value;
      }
      return cur;
    }
  }
}

function evalPipeline(pipe: Pipeline, dot: unknown): unknown {
  let prev: unknown;
  let hasPrev = false;
  for (const cmd of pipe) {
    const [head, ...rest] = cmd;
    let value: unknown;
    if (head.kind === 'ident' && !FUNCS[head.name] && !['true', 'false', 'nil'].includes(head.name)) throw new TemplateError(`function "${head.name}" not defined`);
    if (head.kind === 'ident' && FUNCS[head.name]) {
      const args = rest.map((o) => evalOperand(o, dot));
      if (hasPrev) args.push(prev);
      value = FUNCS[head.name](args);
    } else {
      if (rest.length > 0) throw new TemplateError(`can't give an argument to a non-function`);
      if (hasPrev) throw new TemplateError(`can't pipe into a non-function`);
      value = evalOperand(head, dot);
    }
    prev = value;
    hasPrev = true;
  }
  return prev;
}

function execNodes(nodes: Node[], dot: unknown, out: string[]): void {
  for (const n of nodes) {
    if (n.kind === 'text') out.push(n.text);
    else if (n.kind === 'action') out.push(goValue(evalPipeline(n.pipe, dot)));
    else if (n.kind === 'if') execNodes(truthy(evalPipeline(n.pipe, dot)) ? n.body : n.orElse, dot, out);
    else {
      const v = evalPipeline(n.pipe, dot);
      const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
      if (items.length === 0) execNodes(n.orElse, dot, out);
      for (const item of items) execNodes(n.body, item, out);
    }
  }
}

/** A compiled template. */
export interface Template {
  /** Applies the template to one value. @throws TemplateError for a missing field or a bad call. */
  exec(dot: unknown): string;
}

/** Podman's escapes in a format given on the command line: `\t` and `\n` as typed. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}

/**
 * Compiles a template.
 * @throws TemplateError for a syntax error (unclosed action, unknown function at parse, …).
 */
export function compileTemplate(src: string): Template {
  if (src.length > MAX_TEMPLATE) throw new TemplateError(`longer than ${MAX_TEMPLATE} characters`);
  const nodes = parse(src);
  return {
    exec(dot: unknown): string {
      const out: string[] = [];
      execNodes(nodes, dot, out);
      return out.join('');
    },
  };
}

/** The first field an action names, for a table header (`{{upper .Repository}}` → Repository). */
function firstField(pipe: Pipeline): string | undefined {
  for (const cmd of pipe) for (const op of cmd) if (op.kind === 'field') return op.path[op.path.length - 1];
  return undefined;
}

/** A header from a field name when none is listed: `CreatedAt` → `CREATED AT`. */
export function defaultHeader(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

/** How `--format` was given: Podman's `table`, `json`, or a Go template. */
export type OutputFormat = { kind: 'table'; columns?: string } | { kind: 'json' } | { kind: 'template'; template: string };

/**
 * Reads a `--format` value: empty or `table` → the command's default table;
 * `table <template>` → a table of those columns; `json` (or `{{json .}}`) →
 * JSON; anything else → a Go template applied to each record.
 */
export function parseFormat(flag: string | undefined): OutputFormat {
  const f = flag === undefined ? '' : unescapeFormat(flag);
  const t = f.trim();
  if (t === '' || t === 'table') return { kind: 'table' };
  if (t === 'json' || /^\{\{\s*json\s+\.\s*\}\}$/.test(t)) return { kind: 'json' };
  if (t.startsWith('table ')) return { kind: 'table', columns: t.slice(6).trim() };
  return { kind: 'template', template: f };
}

/**
 * Formats records as a table of the template `columns` (Podman's `table`
 * format): a header row (each field's name in `headers`, else its name split
 * and upper-cased), then a row per record, aligned.
 * @param noHeading leave the header row out (`--noheading`).
 * @throws TemplateError as compileTemplate and exec do.
 */
export function formatTable(columns: string, records: unknown[], headers: Record<string, string>, noHeading = false): string {
  // Spaces between actions are column breaks, as in Podman's table formats.
  const tabbed = tokenize(columns)
    .map((t) => ('text' in t ? t.text.replace(/ +/g, '\t') : `{{${t.action}}}`))
    .join('');
  const nodes = parse(tabbed);
  const lines: string[] = [];
  if (!noHeading) {
    const head: string[] = [];
    const walk = (ns: Node[]): void => {
      for (const n of ns) {
        if (n.kind === 'text') head.push(n.text);
        else if (n.kind === 'action') {
          const f = firstField(n.pipe);
          head.push(f ? (headers[f] ?? defaultHeader(f)) : '');
        } else walk(n.body);
      }
    };
    walk(nodes);
    lines.push(head.join(''));
  }
  for (const r of records) {
    const out: string[] = [];
    execNodes(nodes, r, out);
    lines.push(...out.join('').split('\n').filter((l, i, a) => !(i === a.length - 1 && l === '')));
  }
  return alignTabs(lines);
}

/**
 * Formats records with a Go template, one result per record, each followed
 * by a newline unless it ends with one (as Podman prints).
 */
export function formatTemplate(template: string, records: unknown[]): string {
  const t = compileTemplate(template);
  return records.map((r) => {
    const s = t.exec(r);
    return s.endsWith('\n') ? s : s + '\n';
  }).join('');
}
