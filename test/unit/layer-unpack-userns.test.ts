import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TarReader } from '../../src/image-service/store/tar-reader';
import { LayerUnpacker, opaqueXattr } from '../../src/image-service/store/unpack';
import { LayerEntry, layerTar } from '../fixtures/image-builder';

/** Unpacks `files` into a fresh directory with the given mode; returns it. */
async function unpack(tmp: string, files: LayerEntry[], userNamespace: boolean): Promise<string> {
  const work = fs.mkdtempSync(path.join(tmp, 'layer-'));
  const dest = path.join(work, 'diff');
  fs.mkdirSync(dest);
  const u = new LayerUnpacker(dest, work, { userNamespace });
  const r = new TarReader(u);
  r.push(await layerTar(files));
  r.finish();
  u.finish();
  return dest;
}

/** The extended attribute names of a path. */
function xattrNames(p: string): string[] {
  const out = execFileSync('getfattr', ['--absolute-names', '-h', '-d', '-m', '-', p]).toString();
  return out.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=')[0]);
}

describe('layer unpacker for a user namespace (rootless): overlayfs userxattr markers, what a user namespace cannot make', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-unpack-userns-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const files: LayerEntry[] = [
    { type: 'dir', path: 'keep' },
    { type: 'opaque', path: 'keep' },
    { type: 'file', path: 'keep/new', content: 'n' },
    { type: 'whiteout', path: 'gone' },
    { type: 'file', path: 'data', content: 'x', xattrs: { 'trusted.secret': 's', 'user.overlay.redirect': '/elsewhere', 'user.note': 'kept' } },
    { type: 'chardev', path: 'null', major: 1, minor: 3 },
    { type: 'file', path: 'replaced', content: 'first' },
    { type: 'chardev', path: 'replaced', major: 1, minor: 5 },
  ];

  it('marks opaque directories with user.overlay.opaque, drops trusted.* and user.overlay.* of the image, and makes no devices', async () => {
    expect(opaqueXattr(true)).to.equal('user.overlay.opaque');
    const d = await unpack(tmp, files, true);
    expect(xattrNames(path.join(d, 'keep'))).to.deep.equal(['user.overlay.opaque']);
    expect(xattrNames(path.join(d, 'data'))).to.deep.equal(['user.note']);
    const wh = fs.lstatSync(path.join(d, 'gone'));
    expect(wh.isCharacterDevice() && wh.rdev).to.equal(0);
    expect(fs.existsSync(path.join(d, 'null'))).to.equal(false);
    expect(fs.existsSync(path.join(d, 'replaced')), 'a skipped device still replaces what an earlier entry left').to.equal(false);
  });

  it('keeps the host\'s markers and devices outside a user namespace', async () => {
    expect(opaqueXattr(false)).to.equal('trusted.overlay.opaque');
    const d = await unpack(tmp, files, false);
    expect(xattrNames(path.join(d, 'keep'))).to.deep.equal(['trusted.overlay.opaque']);
    expect(xattrNames(path.join(d, 'data')).sort()).to.deep.equal(['trusted.secret', 'user.note', 'user.overlay.redirect']);
    expect(fs.lstatSync(path.join(d, 'null')).isCharacterDevice()).to.equal(true);
  });
});
