import { expect } from 'chai';
import { InUseError } from '../../src/common/errors';
import { removeResolvedImage } from '../../src/runtime-service/image-removal';
import { normalizeNewName, tagNamedBy } from '../../src/image-service/image-names';
import type { ImageRecord, ImageStore } from '../../src/image-service/store/image-store';

const img = (tags: string[]): ImageRecord => ({ id: 'sha256:' + 'a'.repeat(64), repoTags: tags, repoDigests: [], size: 1, config: {}, chainIds: [], pinned: false, manifestDigest: '', created: 0 });

describe('image domain: removal rule and names', () => {
  it('refuses to remove an image containers of any front end use, and names them', async () => {
    const removed: string[] = [];
    const images = { remove: (id: string) => (removed.push(id), true) } as unknown as ImageStore;
    const i = img(['docker.io/library/busybox:latest']);
    const err = await removeResolvedImage({ images, containers: { usingImage: () => ['c1', 'c2'], releasing: () => [], exclusive: (fn) => fn() } }, i, 'busybox').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InUseError);
    expect((err as InUseError).code).to.equal('IN_USE');
    expect((err as Error).message).to.contain('image busybox').and.contain('in use by container(s) c1, c2');
    expect(removed).to.deep.equal([]);
    expect(await removeResolvedImage({ images, containers: { usingImage: () => [], releasing: () => [], exclusive: (fn) => fn() } }, i)).to.equal(true);
    expect(removed).to.deep.equal([i.id]);
  });

  it("waits for removed containers' background releases of the image's rootfs before removing it, and refuses when they outlast the wait", async () => {
    const removed: string[] = [];
    const images = { remove: (id: string) => (removed.push(id), true) } as unknown as ImageStore;
    const i = img(['docker.io/library/busybox:latest']);
    let releasing = ['c1'];
    const waited: string[][] = [];
    const removal = removeResolvedImage({ images, containers: { usingImage: () => [], releasing: () => releasing, exclusive: (fn) => fn() } }, i, 'busybox', { onWait: (ids) => waited.push(ids) });
    // Still releasing: nothing is removed however long the removal has run.
    await new Promise((resolve) => setImmediate(resolve));
    expect(waited).to.deep.equal([['c1']]);
    expect(removed).to.deep.equal([]);
    releasing = [];
    expect(await removal).to.equal(true);
    expect(removed).to.deep.equal([i.id]);

    const err = await removeResolvedImage({ images, containers: { usingImage: () => [], releasing: () => ['c9'], exclusive: (fn) => fn() } }, i, 'busybox', { releaseWaitMs: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(InUseError);
    expect((err as Error).message).to.contain('still being released from removed container(s) c9');
    expect(removed).to.deep.equal([i.id]);
  });

  it('normalizes new names as podman tag does and finds which tag a reference names', () => {
    expect(normalizeNewName('myapp')).to.equal('localhost/myapp:latest');
    expect(normalizeNewName('team/app:v1')).to.equal('localhost/team/app:v1');
    expect(normalizeNewName('quay.io/a/b:c')).to.equal('quay.io/a/b:c');
    expect(() => normalizeNewName('a@sha256:' + 'b'.repeat(64))).to.throw('cannot have a digest');
    const i = img(['127.0.0.1:5000/library/busybox:latest', 'localhost/myapp:latest']);
    expect(tagNamedBy(i, 'myapp')).to.equal('localhost/myapp:latest');
    expect(tagNamedBy(i, 'busybox')).to.equal('127.0.0.1:5000/library/busybox:latest');
    expect(tagNamedBy(i, '127.0.0.1:5000/library/busybox')).to.equal('127.0.0.1:5000/library/busybox:latest');
    expect(tagNamedBy(i, 'aaaaaaaaaaaa')).to.equal(undefined);
  });
});
