import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Trash } from '../../src/common/trash';

/** A directory tree of `n` files under `dir`. */
function makeTree(dir: string, n: number): void {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, 'sub', `f${i}`), 'x');
}

describe('Trash (background tree deletes)', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-trash-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('frees the name at once (one rename) and deletes the tree in the background', async () => {
    const trash = new Trash(path.join(tmp, 'trash'));
    const tree = path.join(tmp, 'containers', 'abc');
    makeTree(tree, 50);
    expect(trash.discard(tree)).to.equal(true);
    expect(fs.existsSync(tree)).to.equal(false);
    // The name can be used again right away.
    fs.mkdirSync(tree);
    await trash.settled();
    expect(fs.readdirSync(trash.dir)).to.deep.equal([]);
    expect(fs.existsSync(tree)).to.equal(true);
  });

  it('reports a missing tree as nothing to do', async () => {
    const trash = new Trash(path.join(tmp, 'trash'));
    expect(trash.discard(path.join(tmp, 'absent'))).to.equal(false);
    await trash.settled();
  });

  it('empties what an earlier process left in the trash (a crash mid-delete)', async () => {
    const dir = path.join(tmp, 'trash');
    makeTree(path.join(dir, 'left-1'), 10);
    makeTree(path.join(dir, 'left-2'), 10);
    const trash = new Trash(dir);
    trash.empty();
    await trash.settled();
    expect(fs.readdirSync(dir)).to.deep.equal([]);
  });
});
