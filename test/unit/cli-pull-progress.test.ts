import { expect } from 'chai';
import { PullProgressView } from '../../src/cli/pull-progress';
import { screenOf } from '../support/terminal-screen';

const D = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

function tty(rows = 40) {
  const out = { text: '', isTTY: true, columns: 100, rows, write(s: string) { this.text += s; return true; } };
  return out;
}

describe('pull progress view', () => {
  it('on a terminal redraws at most 10 times a second, in place, with bars, bytes and speed', () => {
    let now = 1000;
    const out = tty();
    const v = new PullProgressView(out, () => now);
    v.begin('r.io/a:b');
    v.onEvent({ type: 'resolved', reference: 'r.io/a:b', manifestDigest: D(9), layers: [{ digest: D(1), size: 2 << 20 }, { digest: D(2), size: 1000 }] });
    const draws = (): number => out.text.split('Copying blob 111111111111').length - 1;
    const first = draws();
    for (let i = 1; i <= 20; i++) {
      now += 1; // 20 events within 20 ms
      v.onEvent({ type: 'layer', digest: D(1), size: 2 << 20, fetched: i * 65536, state: 'downloading' });
    }
    expect(draws() - first).to.be.at.most(1);
    now += 500;
    v.onEvent({ type: 'layer', digest: D(1), size: 2 << 20, fetched: 1 << 20, state: 'downloading' });
    const screen = screenOf(out.text);
    expect(screen[0]).to.equal('Trying to pull r.io/a:b...');
    expect(screen[1]).to.match(/^Copying blob 111111111111 \[=+> +\] 1\.0 MiB \/ 2\.0 MiB [\d.]+ (KiB|MiB)\/s$/);
    expect(screen[2]).to.equal('Copying blob 222222222222 waiting');
    v.onEvent({ type: 'layer', digest: D(2), size: 1000, fetched: 1000, state: 'exists' });
    v.onEvent({ type: 'layer', digest: D(1), size: 2 << 20, fetched: 2 << 20, state: 'done' });
    v.finish('sha256:' + 'a'.repeat(64));
    const end = screenOf(out.text);
    expect(end).to.have.length(4);
    expect(end[1]).to.match(/\[={20}\] 2\.0 MiB \/ 2\.0 MiB .* done$/);
    expect(end[2]).to.equal('Copying blob 222222222222 skipped: already exists');
    expect(end[3]).to.match(/^Pulled r\.io\/a:b \(aaaaaaaaaaaa\): 2 layers \(1 already stored\), [\d.]+ MB in [\d.]+ s/);
  });

  it('keeps to the terminal height: unfinished layers first, then a count of the rest', () => {
    const out = tty(8);
    const v = new PullProgressView(out);
    const layers = Array.from({ length: 9 }, (_, i) => ({ digest: D(i + 1), size: 100 }));
    v.onEvent({ type: 'resolved', reference: 'r', manifestDigest: D(9), layers });
    for (const l of layers.slice(0, 6)) v.onEvent({ type: 'layer', digest: l.digest, size: 100, fetched: 100, state: 'done' });
    const lines = v.screenLines();
    expect(lines).to.have.length(4);
    expect(lines[0]).to.match(/^Copying blob 777777777777 waiting/);
    expect(lines[3]).to.equal('… 6 more layers (6 of 9 done)');
  });

  it('prints plain lines when not a terminal', () => {
    const out = { text: '', write(s: string) { this.text += s; return true; } };
    const v = new PullProgressView(out);
    v.begin('r.io/a:b');
    v.onEvent({ type: 'resolved', reference: 'r.io/a:b', manifestDigest: D(9), layers: [{ digest: D(1), size: 10 }, { digest: D(2), size: 10 }] });
    v.onEvent({ type: 'layer', digest: D(1), size: 10, fetched: 0, state: 'downloading' });
    v.onEvent({ type: 'layer', digest: D(1), size: 10, fetched: 5, state: 'downloading' });
    v.onEvent({ type: 'layer', digest: D(2), size: 10, fetched: 10, state: 'exists' });
    v.finish('sha256:' + 'b'.repeat(64));
    const lines = out.text.trim().split('\n');
    expect(lines.slice(0, 5)).to.deep.equal(['Trying to pull r.io/a:b...', 'Getting image source signatures', `Copying blob ${D(1)}`, `Copying blob ${D(2)} skipped: already exists`, 'Writing manifest to image destination']);
    expect(lines[5]).to.match(/^Pulled r\.io\/a:b \(bbbbbbbbbbbb\): 2 layers \(1 already stored\)/);
    expect(out.text).to.not.contain('\x1b');
  });
});
