import { expect } from 'chai';
import { alignTabs } from '../../src/cli/output/table';
import { compileTemplate, formatTable, formatTemplate, goValue, parseFormat, TemplateError } from '../../src/cli/output/template';
import { goTimeString, humanDuration, humanSize } from '../../src/cli/output/units';

describe('CLI output: Go templates, tables and units as Podman prints them', () => {
  it('evaluates fields, nested fields (case-insensitively), pipelines and functions', () => {
    const rec = { ID: 'abc', Names: ['a', 'b'], Store: { graphRoot: '/r' }, Labels: { x: '1' }, Empty: [] };
    const t = (s: string): string => compileTemplate(s).exec(rec);
    expect(t('{{.ID}}')).to.equal('abc');
    expect(t('{{.Store.GraphRoot}}')).to.equal('/r');
    expect(t('{{.Names}} {{.Labels}}')).to.equal('[a b] map[x:1]');
    expect(t('{{json .Names}}|{{.ID | upper}}|{{join .Names ","}}|{{len .Names}}')).to.equal('["a","b"]|ABC|a,b|2');
    expect(t('{{range .Names}}<{{.}}>{{end}}')).to.equal('<a><b>');
    expect(t('{{if .Empty}}yes{{else}}no{{end}}')).to.equal('no');
    expect(t('{{printf "%-5s|" .ID}}')).to.equal('abc  |');
    expect(t('a {{- " b" -}} c')).to.equal('a bc');
  });

  it('names the missing field and syntax errors', () => {
    expect(() => compileTemplate('{{.Nope}}').exec({ ID: 1 })).to.throw(TemplateError, "can't evaluate field Nope");
    expect(() => compileTemplate('{{.ID')).to.throw(TemplateError, 'unclosed action');
    expect(() => compileTemplate('{{range .X}}')).to.throw(TemplateError, 'missing {{end}}');
    expect(() => compileTemplate('{{nofunc .X}}').exec({ X: 1 })).to.throw(TemplateError, 'function "nofunc" not defined');
  });

  it('reads --format: table, table with columns, json, {{json .}} and templates with \\t escapes', () => {
    expect(parseFormat(undefined)).to.deep.equal({ kind: 'table' });
    expect(parseFormat('table')).to.deep.equal({ kind: 'table' });
    expect(parseFormat('table {{.ID}} {{.Tag}}')).to.deep.equal({ kind: 'table', columns: '{{.ID}} {{.Tag}}' });
    expect(parseFormat('json')).to.deep.equal({ kind: 'json' });
    expect(parseFormat('{{json .}}')).to.deep.equal({ kind: 'json' });
    expect(parseFormat('{{.ID}}\\t{{.Size}}')).to.deep.equal({ kind: 'template', template: '{{.ID}}\t{{.Size}}' });
    expect(formatTemplate('{{.ID}}', [{ ID: 'a' }, { ID: 'b' }])).to.equal('a\nb\n');
  });

  it('aligns tables like Podman (min width 12, padding 2, last column unpadded) with headers', () => {
    expect(alignTabs(['A\tBB\tC', 'longer-than-twelve\tx\ty'])).to.equal('A                   BB          C\nlonger-than-twelve  x           y\n');
    const out = formatTable('{{.ID}} {{.Repository}}', [{ ID: '0605c54ea8ef', Repository: 'r' }], { ID: 'IMAGE ID' });
    expect(out).to.equal('IMAGE ID      REPOSITORY\n0605c54ea8ef  r\n');
    expect(formatTable('{{.CreatedAt}}', [{ CreatedAt: 'x' }], {})).to.equal('CREATED AT\nx\n');
  });

  it('prints sizes, durations and times as go-units and Go do', () => {
    expect(humanSize(2129049)).to.equal('2.13 MB');
    expect(humanSize(999)).to.equal('999 B');
    expect(humanSize(251_000)).to.equal('251 kB');
    expect(humanSize(999_700)).to.equal('1 MB');
    expect(humanDuration(500)).to.equal('Less than a second');
    expect(humanDuration(90_000)).to.equal('About a minute');
    expect(humanDuration(3 * 3_600_000)).to.equal('3 hours');
    expect(humanDuration(3 * 24 * 3_600_000)).to.equal('3 days');
    expect(humanDuration(2 * 365 * 24 * 3_600_000 + 1)).to.equal('2 years');
    expect(goTimeString(Date.UTC(2024, 0, 1))).to.equal('2024-01-01 00:00:00 +0000 UTC');
    expect(goValue(undefined)).to.equal('<no value>');
  });
});
