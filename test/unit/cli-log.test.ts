import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { cliLogLevel, createCliLogger } from '../../src/cli/log';

const LOG_MODULE = path.resolve(__dirname, '..', '..', 'src', 'cli', 'log.js');

describe('CLI log (pino, loaded on the first record written)', () => {
  it('writes Podman-style text lines at and above the level, with child bindings, and nothing below it', () => {
    const lines: string[] = [];
    const log = createCliLogger('info', { write: (l) => lines.push(l) });
    log.debug({ x: 1 }, 'not shown');
    log.info({ image: 'busybox' }, 'pulled');
    log.child({ sandbox: 'abc' }).child({ step: 2 }).warn('careful');
    log.child({ sandbox: 'abc' }).debug('not shown either');
    log.error({ err: new Error('no space left') }, 'removal failed');
    expect(lines).to.have.length(3);
    expect(lines[0]).to.match(/^INFO\[\d{4}\] pulled image=busybox\n$/);
    expect(lines[1]).to.match(/^WARN\[\d{4}\] careful sandbox=abc step=2\n$/);
    expect(lines[2]).to.match(/^ERRO\[\d{4}\] removal failed err="no space left"\n$/);
    expect(log.isLevelEnabled('debug')).to.equal(false);
    expect(log.isLevelEnabled('error')).to.equal(true);
  });

  it('does not load pino while no record reaches the level', () => {
    const script = `
      const { createCliLogger } = require(${JSON.stringify(LOG_MODULE)});
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/pino/'));
      const out = [];
      const log = createCliLogger('warn', { write: (l) => out.push(l) });
      log.debug('a'); log.info({ k: 1 }, 'b'); log.child({ c: 1 }).info('c');
      const before = loaded();
      log.error('d');
      process.stdout.write(JSON.stringify({ before, after: loaded(), lines: out.length }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ before: false, after: true, lines: 1 });
  });

  it('accepts Podman level names and aliases, and names the flag for an unknown one', () => {
    expect(cliLogLevel(undefined)).to.equal('warn');
    expect(cliLogLevel('WARNING')).to.equal('warn');
    expect(cliLogLevel('panic')).to.equal('fatal');
    expect(() => cliLogLevel('loud')).to.throw(/--log-level: "loud" is not one of trace, debug/);
  });
});
