import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TarReader } from '../../src/image-service/store/tar-reader';
import { LayerUnpacker, normalizeEntryName, UnpackError } from '../../src/image-service/store/unpack';
import { LayerEntry, layerTar } from '../fixtures/image-builder';

/** Unpacks `files` (a layer built with the image builder) into a fresh directory; returns it. */
async function unpack(tmp: string, files: LayerEntry[]): Promise<string> {
  const work = fs.mkdtempSync(path.join(tmp, 'layer-'));
  const dest = path.join(work, 'diff');
  fs.mkdirSync(dest);
  const u = new LayerUnpacker(dest, work);
  const r = new TarReader(u);
  const archive = await layerTar(files);
  for (let i = 0; i < archive.length; i += 4096) r.push(archive.subarray(i, i + 4096));
  r.finish();
  u.finish();
  return dest;
}

/** An extended attribute's value as getfattr prints it in hex (`0x…`). */
function xattrHex(p: string, name: string): string {
  const out = execFileSync('getfattr', ['--absolute-names', '-h', '-e', 'hex', '-n', name, p]).toString();
  return /=(0x[0-9a-f]*)/.exec(out)?.[1] ?? out;
}

function raw(name: string, type: 'file' | 'directory' | 'symlink' | 'link', extra: { content?: string; linkname?: string; mtime?: Date } = {}): LayerEntry {
  const content = extra.content !== undefined ? Buffer.from(extra.content) : undefined;
  return { type: 'raw', header: { name, type, size: content?.length ?? 0, linkname: extra.linkname, mode: type === 'directory' ? 0o755 : 0o644, mtime: extra.mtime ?? new Date('2024-01-01T00:00:00Z') }, content };
}

describe('layer unpacker: tar semantics within one layer, whiteouts, exact xattrs, safety', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-unpack-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('normalizes names lexically into the root and refuses a ".." above it', () => {
    expect(normalizeEntryName('/etc//x/./y/../z')).to.deep.equal(['etc', 'x', 'z']);
    expect(normalizeEntryName('./')).to.deep.equal([]);
    expect(normalizeEntryName('a/b/../../c')).to.deep.equal(['c']);
    expect(() => normalizeEntryName('a/../../etc/passwd')).to.throw(UnpackError, /escapes the layer/);
  });

  it('lets a later entry replace a directory by a file, a file by a directory, and a file by the directory a later entry needs', async () => {
    const d = await unpack(tmp, [
      raw('d/', 'directory'),
      raw('d/sub/', 'directory'),
      raw('d/sub/f', 'file', { content: 'in d' }),
      raw('d', 'file', { content: 'd is a file now' }),
      raw('e', 'file', { content: 'e was a file' }),
      raw('e/', 'directory'),
      raw('e/g', 'file', { content: 'g' }),
      raw('h', 'file', { content: 'h was a file' }),
      raw('h/i', 'file', { content: 'i' }),
    ]);
    expect(fs.readFileSync(path.join(d, 'd'), 'utf8')).to.equal('d is a file now');
    expect(fs.statSync(path.join(d, 'e')).isDirectory()).to.equal(true);
    expect(fs.readFileSync(path.join(d, 'e', 'g'), 'utf8')).to.equal('g');
    expect(fs.readFileSync(path.join(d, 'h', 'i'), 'utf8')).to.equal('i');
  });

  it('does not apply a replaced directory time or attribute through the symlink that replaced it', async () => {
    const host = fs.mkdtempSync(path.join(tmp, 'host-'));
    fs.mkdirSync(path.join(host, 't'));
    fs.writeFileSync(path.join(host, 'f'), 'host file');
    const before = fs.statSync(path.join(host, 't')).mtimeMs;
    const d = await unpack(tmp, [
      raw('s/', 'directory'),
      raw('s/t/', 'directory', { mtime: new Date('2001-01-01T00:00:00Z') }),
      { type: 'file', path: 's/f', content: 'x', xattrs: { 'user.mark': 'layer' } },
      { type: 'raw', header: { name: 's', type: 'symlink', linkname: host } },
    ]);
    expect(fs.readlinkSync(path.join(d, 's'))).to.equal(host);
    expect(fs.statSync(path.join(host, 't')).mtimeMs).to.equal(before);
    expect(() => execFileSync('getfattr', ['-n', 'user.mark', path.join(host, 'f')], { stdio: 'pipe' })).to.throw();
  });

  it('applies whiteouts to lower layers only: an entry of the same layer stays, a directory of it turns opaque', async () => {
    const d = await unpack(tmp, [
      raw('keep/a', 'file', { content: 'a of this layer' }),
      raw('keep/.wh.a', 'file'),
      raw('keep/.wh.b', 'file'),
      raw('keep/b', 'file', { content: 'b after its whiteout' }),
      raw('dir/', 'directory'),
      raw('dir/new', 'file', { content: 'new' }),
      raw('.wh.dir', 'file'),
      raw('.wh.later', 'file'),
      raw('later/', 'directory'),
      raw('.wh.gone', 'file'),
      raw('.wh.gone2', 'file'),
      raw('.wh..wh.plnk', 'file'),
    ]);
    expect(fs.readFileSync(path.join(d, 'keep', 'a'), 'utf8')).to.equal('a of this layer');
    expect(fs.readFileSync(path.join(d, 'keep', 'b'), 'utf8')).to.equal('b after its whiteout');
    expect(fs.readdirSync(path.join(d, 'dir'))).to.deep.equal(['new']);
    expect(xattrHex(path.join(d, 'dir'), 'trusted.overlay.opaque')).to.equal('0x79');
    expect(fs.statSync(path.join(d, 'later')).isDirectory()).to.equal(true);
    expect(xattrHex(path.join(d, 'later'), 'trusted.overlay.opaque')).to.equal('0x79');
    const gone = fs.lstatSync(path.join(d, 'gone'));
    expect(gone.isCharacterDevice() && gone.rdev === 0).to.equal(true);
    // one mknod per layer: whiteouts are hard links of one device, as overlayfs shares its own
    expect(fs.lstatSync(path.join(d, 'gone2')).ino).to.equal(gone.ino);
    expect(fs.readdirSync(d).sort()).to.deep.equal(['dir', 'gone', 'gone2', 'keep', 'later']);
    expect(fs.readdirSync(path.dirname(d))).to.deep.equal(['diff']);
  });

  it('writes extended attributes with their exact bytes, after ownership (which would clear a capability)', async () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex');
    const d = await unpack(tmp, [
      { type: 'file', path: 'bin/tool', content: 'x', mode: 0o755, uid: 1000, gid: 1000, xattrs: { 'security.capability': cap, 'user.bytes': Buffer.from([0, 0xff, 0x80, 0x3d, 0x0a]) } },
      { type: 'file', path: 'odd name\nwith=sign', content: 'y', xattrs: { 'user.t': 'text' } },
      { type: 'dir', path: 'opaque-attempt', xattrs: { 'trusted.overlay.opaque': 'y' } },
    ]);
    expect(xattrHex(path.join(d, 'bin/tool'), 'security.capability')).to.equal('0x' + cap.toString('hex'));
    expect(xattrHex(path.join(d, 'bin/tool'), 'user.bytes')).to.equal('0x00ff803d0a');
    expect(execFileSync('getcap', [path.join(d, 'bin/tool')]).toString()).to.contain('cap_setuid=ep');
    expect(fs.statSync(path.join(d, 'bin/tool')).uid).to.equal(1000);
    expect(xattrHex(path.join(d, 'odd name\nwith=sign'), 'user.t')).to.equal('0x74657874');
    // an image may not set overlayfs' own attributes
    expect(() => execFileSync('getfattr', ['-n', 'trusted.overlay.opaque', path.join(d, 'opaque-attempt')], { stdio: 'pipe' })).to.throw();
  });

  it('refuses writing through a symlink, a hard link out of the layer, and a ".." name', async () => {
    const host = fs.mkdtempSync(path.join(tmp, 'host-'));
    await unpack(tmp, [{ type: 'raw', header: { name: 'esc', type: 'symlink', linkname: host } }, raw('esc/victim', 'file', { content: 'evil' })]).then(
      () => expect.fail('unpacked through a symlink'),
      (e: Error) => expect(e.message).to.match(/through the symlink "esc"/),
    );
    await unpack(tmp, [raw('hl', 'link', { linkname: '../../../etc/passwd' })]).then(
      () => expect.fail('linked out of the layer'),
      (e: Error) => expect(e.message).to.match(/escapes the layer/),
    );
    await unpack(tmp, [raw('a/../../x', 'file', { content: 'x' })]).then(
      () => expect.fail('wrote above the root'),
      (e: Error) => expect(e.message).to.match(/escapes the layer/),
    );
    expect(fs.readdirSync(host)).to.deep.equal([]);
  });
});
