import { expect } from 'chai';
import { ImageSnapshots } from '../../src/image-service/store/image-snapshot';
import type { ImageRecord } from '../../src/image-service/store/image-store';

function image(id: string, tags: string[]): ImageRecord {
  return { id, repoTags: tags, repoDigests: [], size: 1, config: {}, chainIds: [], pinned: false, manifestDigest: 'sha256:m', created: 0 };
}

describe('ImageSnapshots (the status and list RPCs\' view of the image store)', () => {
  /** A fake store: `stamp` and `images` are changed by the test, calls counted. */
  function source() {
    const s = {
      stamp: '1:0',
      images: [image('sha256:a', ['r/a:1']), image('sha256:b', ['r/b:1'])],
      lists: 0,
      resolves: 0,
    };
    const snaps = new ImageSnapshots({
      stamp: () => s.stamp,
      list: () => {
        s.lists++;
        return s.images.map((i) => ({ ...i, repoTags: [...i.repoTags] }));
      },
      resolve: (ref) => {
        s.resolves++;
        const i = s.images.find((x) => x.id === ref || x.repoTags.includes(ref));
        return i ? { ...i, repoTags: [...i.repoTags] } : undefined;
      },
    });
    return { s, snaps };
  }

  it('hands out the same frozen records while the stamp is unchanged, resolving each reference once', () => {
    const { s, snaps } = source();
    const first = snaps.list();
    expect(first.map((i) => i.id)).to.deep.equal(['sha256:a', 'sha256:b']);
    expect(Object.isFrozen(first[0].repoTags)).to.equal(true);
    const again = snaps.list();
    expect(again[1]).to.equal(first[1]);
    expect(again).to.not.equal(first);
    expect(snaps.resolve('r/b:1')).to.equal(first[1]);
    expect(snaps.resolve('r/b:1')).to.equal(first[1]);
    expect(snaps.resolve('r/none:1')).to.equal(undefined);
    expect(snaps.resolve('r/none:1')).to.equal(undefined);
    expect(s.lists).to.equal(1);
    expect(s.resolves).to.equal(2);
  });

  it('reads everything again once the stamp moves (any commit, of any process)', () => {
    const { s, snaps } = source();
    const first = snaps.resolve('r/a:1')!;
    s.images = [image('sha256:a', ['r/a:1', 'r/a:2'])];
    s.stamp = '2:0';
    const after = snaps.resolve('r/a:1')!;
    expect(after).to.not.equal(first);
    expect(after.repoTags).to.deep.equal(['r/a:1', 'r/a:2']);
    expect(snaps.resolve('r/b:1')).to.equal(undefined);
    expect(snaps.list().map((i) => i.id)).to.deep.equal(['sha256:a']);
    expect(s.lists).to.equal(2);
  });

  it('remembers a bounded number of resolutions', () => {
    const { s, snaps } = source();
    for (let i = 0; i < 3000; i++) snaps.resolve(`r/x:${i}`);
    const before = s.resolves;
    snaps.resolve('r/x:0');
    expect(s.resolves).to.equal(before + 1); // forgotten when the bound was reached
  });
});
