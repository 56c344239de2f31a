import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostAddonLoaded } from '../../src/common/host/host-addon';
import { readInLayers } from '../../src/runtime-service/container/layer-files';
import type { LayerStack } from '../../src/runtime-service/container/rootfs';

/**
 * readInLayers against layer directories made as the image store makes them
 * (unpack.ts): whiteouts are 0/0 character devices, opaque directories carry
 * trusted.overlay.opaque=y. Each case is checked against the kernel's own
 * overlayfs mount of the same layers, so the reader answers what a mounted
 * rootfs would.
 */
describe('readInLayers: a file of the merged image read from its layers', function () {
  let dir: string;
  let linkDir: string;
  const layers = (...names: string[]): LayerStack => ({ linkDir, lowers: names });
  const put = (layer: string, rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(linkDir, layer, rel)), { recursive: true });
    fs.writeFileSync(path.join(linkDir, layer, rel), text);
  };
  const whiteout = (layer: string, rel: string): void => {
    fs.mkdirSync(path.dirname(path.join(linkDir, layer, rel)), { recursive: true });
    execFileSync('mknod', [path.join(linkDir, layer, rel), 'c', '0', '0']);
  };
  const opaque = (layer: string, rel: string): void => {
    fs.mkdirSync(path.join(linkDir, layer, rel), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(linkDir, layer, rel)]);
  };
  /** What the kernel's overlayfs shows at `file` for `stack` (null when absent or not a file). */
  const mounted = (stack: LayerStack, file: string): string | null => {
    const target = fs.mkdtempSync(path.join(dir, 'mnt-'));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${stack.lowers.map((l) => path.join(linkDir, l)).join(':')}`, target]);
    try {
      const { readInRoot } = require('../../src/runtime-service/oci/user') as typeof import('../../src/runtime-service/oci/user');
      return readInRoot(target, file) ?? null;
    } finally {
      execFileSync('umount', [target]);
      fs.rmdirSync(target);
    }
  };
  const both = (stack: LayerStack, file: string): [string | null | undefined, string | null] => [readInLayers(stack, file, { userNamespace: false }), mounted(stack, file)];

  before(function () {
    if (process.getuid?.() !== 0 || !hostAddonLoaded()) this.skip();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-layer-files-'));
    linkDir = path.join(dir, 'l');
    fs.mkdirSync(linkDir);
    for (const l of ['A', 'B', 'C']) fs.mkdirSync(path.join(linkDir, l));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('takes the top-most layer holding the file, merging directories', () => {
    put('C', 'etc/passwd', 'base\n');
    put('C', 'etc/group', 'g-base\n');
    put('B', 'etc/passwd', 'middle\n');
    put('A', 'etc/hostname', 'x\n');
    expect(both(layers('A', 'B', 'C'), '/etc/passwd')).to.deep.equal(['middle\n', 'middle\n']);
    expect(both(layers('A', 'B', 'C'), '/etc/group')).to.deep.equal(['g-base\n', 'g-base\n']);
    expect(both(layers('A', 'B', 'C'), '/etc/missing')).to.deep.equal([null, null]);
  });

  it('honours whiteouts and opaque directories of upper layers', () => {
    whiteout('A', 'etc/passwd');
    expect(both(layers('A', 'B', 'C'), '/etc/passwd')).to.deep.equal([null, null]);
    fs.rmSync(path.join(linkDir, 'A', 'etc', 'passwd'));
    opaque('A', 'etc');
    expect(both(layers('A', 'B', 'C'), '/etc/group')).to.deep.equal([null, null]);
    expect(both(layers('B', 'C'), '/etc/group')).to.deep.equal(['g-base\n', 'g-base\n']);
    fs.rmSync(path.join(linkDir, 'A', 'etc'), { recursive: true });
  });

  it('ends a merge at a lower layer where the name is not a directory', () => {
    put('B', 'data', 'a file\n');
    put('A', 'data/inner', 'upper\n');
    put('C', 'data/lower-only', 'hidden\n');
    expect(both(layers('A', 'B', 'C'), '/data/inner')).to.deep.equal(['upper\n', 'upper\n']);
    expect(both(layers('A', 'B', 'C'), '/data/lower-only')).to.deep.equal([null, null]);
  });

  it('resolves symlinks inside the merged root, never to a host file', () => {
    put('A', 'etc/hostname', 'x\n');
    fs.symlinkSync('/../../../../etc/passwd', path.join(linkDir, 'A', 'etc', 'abs-escape'));
    fs.symlinkSync('../../../../../../etc/hostname', path.join(linkDir, 'A', 'etc', 'rel-escape'));
    fs.symlinkSync('passwd', path.join(linkDir, 'A', 'etc', 'rel'));
    fs.symlinkSync('/etc', path.join(linkDir, 'A', 'etc-link'));
    fs.symlinkSync('loop', path.join(linkDir, 'A', 'loop'));
    const stack = layers('A', 'B', 'C');
    expect(both(stack, '/etc/abs-escape')).to.deep.equal(['middle\n', 'middle\n']);
    expect(both(stack, '/etc/rel-escape')).to.deep.equal(['x\n', 'x\n']);
    expect(both(stack, '/etc/rel')).to.deep.equal(['middle\n', 'middle\n']);
    expect(both(stack, '/etc-link/group')).to.deep.equal(['g-base\n', 'g-base\n']);
    expect(both(stack, '/loop')).to.deep.equal([null, null]);
    expect(both(stack, '/etc/../etc/passwd')).to.deep.equal(['middle\n', 'middle\n']);
    expect(both(stack, '/etc')).to.deep.equal([null, null]);
  });
});
