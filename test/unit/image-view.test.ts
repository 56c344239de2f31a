import { expect } from 'chai';
import { isPinned, toCriImage } from '../../src/image-service/cri/image-view';
import type { ImageRecord } from '../../src/image-service/store/image-store';

function record(user: string | undefined): ImageRecord {
  return {
    id: 'sha256:' + 'a'.repeat(64),
    repoTags: ['docker.io/library/busybox:latest'],
    repoDigests: ['docker.io/library/busybox@sha256:' + 'b'.repeat(64)],
    size: 12345,
    config: { config: user === undefined ? {} : { User: user } },
    chainIds: [],
    pinned: false,
    manifestDigest: 'sha256:' + 'b'.repeat(64),
    created: 0,
  };
}

describe('CRI Image of a stored image', () => {
  it('takes uid from a numeric User, the uid part of uid:gid, else the user name', () => {
    expect(toCriImage(record('1000')).uid).to.deep.equal({ value: '1000' });
    expect(toCriImage(record('0:0')).uid).to.deep.equal({ value: '0' });
    expect(toCriImage(record('app:app')).username).to.equal('app');
    expect(toCriImage(record('app')).uid).to.equal(undefined);
    const none = toCriImage(record(undefined));
    expect([none.uid, none.username]).to.deep.equal([undefined, '']);
  });
  it('reports size as a decimal string and pinned from the patterns', () => {
    expect(toCriImage(record('')).size).to.equal('12345');
    expect(isPinned(record(''), ['busybox'])).to.equal(true);
    expect(isPinned(record(''), ['docker.io/library/busy*'])).to.equal(true);
    expect(isPinned(record(''), ['sha256:' + 'a'.repeat(64)])).to.equal(true);
    expect(isPinned(record(''), ['alpine', 'quay.io/*'])).to.equal(false);
  });
});
