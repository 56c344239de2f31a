import { expect } from 'chai';
import { quoteInput } from '../../src/common/bounded-text';
import { checkDigest, formatReference, parseReference, withDomain } from '../../src/image-service/reference';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['someone/app', 'docker.io/someone/app:latest'],
    ['index.docker.io/someone/app:v1', 'docker.io/someone/app:v1'],
    ['quay.io/a/b/c:v2', 'quay.io/a/b/c:v2'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:t', 'localhost:5000/app:t'],
    ['127.0.0.1:5000/x/y', '127.0.0.1:5000/x/y:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`reg.io:443/x:tag@${D}`, `reg.io:443/x:tag@${D}`],
    ['a_b__c-d--e.f:tag_1.2-3', 'docker.io/library/a_b__c-d--e.f:tag_1.2-3'],
  ];
  for (const [input, want] of cases) {
    it(`normalizes ${input}`, () => {
      expect(formatReference(parseReference(input))).to.equal(want);
    });
  }

  it('marks names without a domain as short names', () => {
    expect(parseReference('busybox').shortName).to.equal(true);
    expect(parseReference('foo/bar').shortName).to.equal(true);
    expect(parseReference('quay.io/foo').shortName).to.equal(false);
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['docker.io/Foo/bar', /lowercase/],
    ['busybox:', /invalid tag/],
    ['busybox:-x', /invalid tag/],
    ['busy//box', /invalid path component/],
    ['busybox@sha256:abc', /invalid sha256 digest/],
    ['busybox@md5:' + 'a'.repeat(32), /unsupported digest algorithm/],
    ['-x', /invalid path component/],
    [':tag', /missing repository name/],
    ['x'.repeat(300), /longer than 255/],
  ];
  for (const [input, re] of bad) {
    it(`refuses "${input.slice(0, 30)}" naming the reference`, () => {
      expect(() => parseReference(input)).to.throw(re).with.property('message').that.contains(quoteInput(input));
    });
  }

  it('moves a short name to another registry without library/', () => {
    expect(formatReference(withDomain(parseReference('busybox:1'), '127.0.0.1:5000'))).to.equal('127.0.0.1:5000/busybox:1');
    expect(formatReference(withDomain(parseReference('a/b'), 'quay.io'))).to.equal('quay.io/a/b:latest');
  });

  it('checks digests', () => {
    expect(checkDigest(D).algorithm).to.equal('sha256');
    expect(checkDigest('sha512:' + 'b'.repeat(128)).algorithm).to.equal('sha512');
    expect(() => checkDigest('sha256:' + 'A'.repeat(64))).to.throw(/invalid sha256/);
  });
});
