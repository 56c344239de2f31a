/**
 * Writes a command's records in the `--format` the user chose: the default
 * table, a `table …` of chosen columns, JSON (indented 4 spaces, as Podman),
 * or a Go template per record.
 */
import { CliError } from '../errors';
import { formatTable, formatTemplate, parseFormat, TemplateError } from './template';

/** What a listing command hands over. */
export interface Listing<R> {
  /** The records templates and tables see. */
  rows: R[];
  /** What `--format json` prints (default: the rows). */
  json?: unknown;
  /** Header of each field. */
  headers: Record<string, string>;
  /** The default table's columns, as a template (`{{.Repository}}\t{{.Tag}}`). */
  defaultColumns: string;
  noHeading?: boolean;
}

/**
 * Renders a listing.
 * @throws CliError (125) for a template that does not parse or names an unknown field.
 */
export function renderListing<R>(format: string | undefined, l: Listing<R>): string {
  const f = parseFormat(format);
  try {
    if (f.kind === 'json') return JSON.stringify(l.json ?? l.rows, null, 4) + '\n';
    if (f.kind === 'table') return formatTable(f.columns ?? l.defaultColumns, l.rows, l.headers, l.noHeading);
    return formatTemplate(f.template, l.rows);
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`--format: ${err.message}`);
    throw err;
  }
}

/**
 * Renders one object (inspect, info, version): JSON by default or with
 * `json`, else the Go template applied to it.
 */
export function renderObject(format: string | undefined, value: unknown, jsonIndent = 4): string {
  const f = parseFormat(format);
  try {
    if (f.kind === 'template') return formatTemplate(f.template, [value]);
    if (f.kind === 'table' && f.columns) return formatTable(f.columns, [value], {});
    return JSON.stringify(value, null, jsonIndent) + '\n';
  } catch (err) {
    if (err instanceof TemplateError) throw new CliError(`--format: ${err.message}`);
    throw err;
  }
}
