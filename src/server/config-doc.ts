import type { KeySpec, MapSpec, TableSpec } from '../common/config-schema';
import { CONFIG_SCHEMA } from './config-schema';

function tomlValue(v: KeySpec['default']): string {
  if (Array.isArray(v)) return `[${v.map((e) => JSON.stringify(e)).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function renderTable(spec: TableSpec, prefix: string, out: string[]): void {
  const keys = Object.entries(spec.fields).filter(([, n]) => n.kind === 'key') as Array<[string, KeySpec]>;
  if (keys.length) {
    out.push('| key | type | default | meaning |', '| --- | --- | --- | --- |');
    for (const [name, k] of keys) {
      const allowed = k.allowed ? ` One of ${k.allowed.map((a) => `\`${a}\``).join(', ')}.` : '';
      const max = k.max !== undefined ? ` At most ${k.max}.` : '';
      out.push(`| \`${name}\` | ${k.type} | \`${tomlValue(k.default)}\` | ${k.doc}${allowed}${max} |`);
    }
    out.push('');
  }
  for (const [name, node] of Object.entries(spec.fields)) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (node.kind === 'table') {
      out.push(`## \`[${full}]\``, '', node.doc, '');
      renderTable(node, full, out);
    } else if (node.kind === 'map') {
      renderMap(node, full, out);
    }
  }
}

function renderMap(spec: MapSpec, full: string, out: string[]): void {
  out.push(`## \`[${full}.NAME]\``, '', `${spec.doc} ${spec.entry.doc}`, '');
  const defaults = Object.entries(spec.default)
    .map(([n, v]) => `[${full}.${n}]\n${Object.entries(v).map(([k, x]) => `${k} = ${tomlValue(x)}`).join('\n')}`)
    .join('\n\n');
  out.push('Present by default:', '', '```toml', defaults, '```', '');
  renderTable(spec.entry, `${full}.NAME`, out);
}

/**
 * Renders the configuration reference (docs/config.md) from the schema in
 * src/common/config-schema.ts (the core keys) and src/server/config-schema.ts
 * (peapod-cri's own), so the documentation lists exactly the keys peapod
 * accepts, with their types and defaults.
 * @returns Markdown text.
 */
export function renderConfigDoc(): string {
  const out: string[] = [
    '# peapod configuration',
    '',
    '<!-- Generated from src/common/config-schema.ts and src/server/config-schema.ts by `npm run docs`; edit the schema, not this file. -->',
    '',
    'peapod-cri reads TOML from `/etc/peapod/peapod.conf` (flag `--config`), then every `*.conf` in',
    '`/etc/peapod/peapod.conf.d/` (flag `--config-dir`) in lexical order; a later file wins key by key.',
    'The flags `--socket`, `--root`, `--runroot` and `--log-level` win over every file.',
    'When the default file or directory does not exist it is skipped (every key has a default); a file or',
    'directory named by `--config` or `--config-dir` must exist.',
    'An unknown key, a value of the wrong type or a file that is not valid TOML stops the start with a',
    'message naming the file, the key and the expected type, for example:',
    '',
    '```',
    'peapod-cri: configuration error: /etc/peapod/peapod.conf: key "shutdown_timeout" must be an integer, got string "10"',
    '```',
    '',
    '## Top level',
    '',
    CONFIG_SCHEMA.doc,
    '',
  ];
  renderTable(CONFIG_SCHEMA, '', out);
  return out.join('\n').replace(/\n+$/, '\n');
}

if (require.main === module) process.stdout.write(renderConfigDoc());
