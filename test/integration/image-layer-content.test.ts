import { expect } from 'chai';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ImagePuller } from '../../src/image-service/puller';
import { ImageStore } from '../../src/image-service/store/image-store';
import { BuiltImage, buildImage, LayerEntry, pushImage } from '../fixtures/image-builder';
import { startRegistry, TestRegistry } from './harness/registry';

const run = promisify(execFile);
const NO_REGISTRIES = { unqualifiedSearchRegistries: [], registries: [] };

function raw(name: string, type: 'file' | 'directory' | 'symlink', content?: string, linkname?: string): LayerEntry {
  const c = content !== undefined ? Buffer.from(content) : undefined;
  return { type: 'raw', header: { name, type, size: c?.length ?? 0, linkname, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date('2024-01-01T00:00:00Z') }, content: c };
}

describe('image layers: content and semantics of unpacked layers', function () {
  this.timeout(90_000);
  let registry: TestRegistry;
  let tmp: string;
  const stores: ImageStore[] = [];

  function openStore(name: string): ImageStore {
    const s = ImageStore.open(path.join(tmp, name));
    stores.push(s);
    return s;
  }
  async function pullInto(name: string, repo: string, image: BuiltImage): Promise<{ store: ImageStore; lowers: string[] }> {
    await pushImage(registry.url, repo, 'v1', image);
    const store = openStore(name);
    const img = await new ImagePuller(store, { registries: NO_REGISTRIES }).pull(`${registry.host}/${repo}:v1`);
    return { store, lowers: store.layerLowerDirs(img).lowers.map((l) => path.join(store.linkDir, l)) };
  }
  /** Mounts the image's layers read-only with overlayfs and runs `fn` on the merged view. */
  async function merged<T>(lowers: string[], fn: (dir: string) => T): Promise<T> {
    const mnt = fs.mkdtempSync(path.join(tmp, 'mnt-'));
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, mnt]);
    try {
      return fn(mnt);
    } finally {
      await run('umount', [mnt]);
    }
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-layer-content-'));
    registry = await startRegistry();
  });
  after(async () => {
    for (const s of stores) s.close();
    await registry?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps binary extended attributes byte for byte: security.capability stays cap_setuid+ep', async () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex');
    const image = await buildImage({
      layers: [{ files: [{ type: 'file', path: 'bin/setuid-tool', content: 'x', mode: 0o755, xattrs: { 'security.capability': cap, 'user.raw': Buffer.from([0x00, 0xff, 0xfe, 0x80]) } }] }],
    });
    const { lowers } = await pullInto('xattrs', 'test/xattrs', image);
    const file = path.join(lowers[0], 'bin/setuid-tool');
    const dump = execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', file]).toString();
    expect(dump).to.contain(`security.capability=0x${cap.toString('hex')}`);
    expect(dump).to.contain('user.raw=0x00fffe80');
    expect(execFileSync('getcap', [file]).toString().trim()).to.match(/cap_setuid[=+]ep$/);
  });

  it('lets a later entry of the same layer replace a directory by a file and a file by a directory', async () => {
    const image = await buildImage({
      layers: [
        {
          files: [
            raw('d/', 'directory'),
            raw('d/sub/', 'directory'),
            raw('d/sub/f', 'file', 'under d'),
            raw('d', 'file', 'd is a file now\n'),
            raw('e', 'file', 'e was a file'),
            raw('e/', 'directory'),
            raw('e/g', 'file', 'g\n'),
          ],
        },
      ],
    });
    const { lowers } = await pullInto('replace', 'test/replace', image);
    expect(fs.readFileSync(path.join(lowers[0], 'd'), 'utf8')).to.equal('d is a file now\n');
    expect(fs.readFileSync(path.join(lowers[0], 'e', 'g'), 'utf8')).to.equal('g\n');
  });

  it('applies whiteouts to lower layers only, never to entries of their own layer (merged overlayfs view)', async () => {
    const image = await buildImage({
      layers: [
        { files: [raw('keep/a', 'file', 'a of layer 1'), raw('dir/old', 'file', 'old'), raw('gone/x', 'file', 'x')] },
        {
          files: [
            raw('keep/a', 'file', 'a of layer 2'),
            raw('keep/.wh.a', 'file'),
            raw('dir/', 'directory'),
            raw('dir/new', 'file', 'new'),
            raw('.wh.dir', 'file'),
            raw('.wh.gone', 'file'),
          ],
        },
      ],
    });
    const { lowers } = await pullInto('whiteouts', 'test/whiteouts', image);
    await merged(lowers, (m) => {
      expect(fs.readFileSync(path.join(m, 'keep', 'a'), 'utf8')).to.equal('a of layer 2');
      expect(fs.readdirSync(path.join(m, 'dir'))).to.deep.equal(['new']);
      expect(fs.existsSync(path.join(m, 'gone'))).to.equal(false);
    });
  });

});
