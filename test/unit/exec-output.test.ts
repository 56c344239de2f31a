import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExecOutput, readLogInto } from '../../src/runtime-service/container/exec-output';

describe('ExecSync output bounds', () => {
  it('keeps each stream within its bound and both within the total, stderr first', () => {
    const o = new ExecOutput(10, 12);
    o.add('stdout', Buffer.from('0123456789abcdef'));
    expect(o.stdout.toString()).to.equal('0123456789');
    o.add('stderr', Buffer.from('EE'));
    expect([o.stdout.toString(), o.stderr.toString()]).to.deep.equal(['0123456789', 'EE']);
    // More stderr takes room from stdout's tail: stdout is what is cut.
    o.add('stderr', Buffer.from('EEEEE'));
    expect([o.stdout.toString(), o.stderr.toString()]).to.deep.equal(['01234', 'EEEEEEE']);
    o.add('stdout', Buffer.from('more'));
    expect(o.stdout.toString()).to.equal('01234');
    o.add('stderr', Buffer.from('x'.repeat(20)));
    expect([o.stdout.toString(), o.stderr.toString()]).to.deep.equal(['01', 'EEEEEEExxx']);
  });

  it('gives exactly stdout[0 : total - |stderr|] however the streams interleave', () => {
    for (let seed = 1; seed < 50; seed++) {
      let x = seed;
      const rnd = (n: number): number => (x = (x * 1103515245 + 12345) % 2147483648) % n;
      const o = new ExecOutput(40, 50);
      let out = '';
      let err = '';
      for (let i = 0; i < 30; i++) {
        const text = String.fromCharCode(97 + rnd(26)).repeat(1 + rnd(6));
        if (rnd(3) === 0) {
          err += text;
          o.add('stderr', Buffer.from(text));
        } else {
          out += text;
          o.add('stdout', Buffer.from(text));
        }
      }
      const e = err.slice(0, 40);
      expect(o.stderr.toString()).to.equal(e);
      expect(o.stdout.toString()).to.equal(out.slice(0, Math.min(40, 50 - e.length)));
    }
  });

  it('reads a k8s-file log streaming: full and partial records, both streams, lines across chunk edges', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-execlog-'));
    try {
      const file = path.join(dir, 'log');
      const ts = '2026-01-01T00:00:00.000000000Z';
      const long = 'y'.repeat(30_000);
      const pad = `${ts} stdout P ${'p'.repeat(8000)}\n`.repeat(30); // 240 KB: the next line crosses the first chunk's edge
      const over = `${ts} stdout F ${'o'.repeat(100_000)}\n`; // not a record conmon writes: skipped
      fs.writeFileSync(file, `${ts} stdout F hello\n${ts} stderr P par\n${ts} stderr F tial\n${pad}${ts} stdout F ${long}\n${over}${ts} bogus F no\n${ts} stdout P end`);
      const o = new ExecOutput(16 << 20, 32 << 20);
      await readLogInto(file, o);
      expect(o.stdout.toString()).to.equal(`hello\n${'p'.repeat(240_000)}${long}\nend`);
      expect(o.stderr.toString()).to.equal('partial\n');
      const none = new ExecOutput(10, 10);
      await readLogInto(path.join(dir, 'missing'), none);
      expect(none.stdout.length + none.stderr.length).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds no more than its bounds while reading a log far larger (64 MiB)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-execlog-'));
    try {
      const file = path.join(dir, 'log');
      const line = `2026-01-01T00:00:00.000000000Z stdout F ${'z'.repeat(8000)}\n`;
      const fd = fs.openSync(file, 'w');
      const block = Buffer.from(line.repeat(128));
      for (let written = 0; written < 64 << 20; written += block.length) fs.writeSync(fd, block);
      fs.closeSync(fd);
      const o = new ExecOutput(4 << 20, 4 << 20);
      const before = process.memoryUsage().arrayBuffers;
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)), 1);
      await readLogInto(file, o);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
      expect(o.stdout.length).to.equal(4 << 20);
      expect(peak).to.be.below(12 << 20);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
