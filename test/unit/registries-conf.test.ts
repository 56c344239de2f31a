import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadRegistriesConf, pullSources } from '../../src/image-service/registries-conf';
import { hostPlatform, parseManifest, selectPlatform, ImageIndex } from '../../src/image-service/manifest';
import { parseChallenge } from '../../src/image-service/registry-client';

describe('registries.conf', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-regconf-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads search registries, rewrites, mirrors and drop-ins', () => {
    const main = path.join(dir, 'registries.conf');
    fs.writeFileSync(
      main,
      `unqualified-search-registries = ["a.io", "docker.io"]
[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"
insecure = true
[[registry.mirror]]
location = "m1.example.com/cache"
[[registry.mirror]]
location = "m2.example.com"
pull-from-mirror = "digest-only"
[[registry]]
location = "evil.io"
blocked = true
`,
    );
    fs.mkdirSync(path.join(dir, 'd'));
    fs.writeFileSync(path.join(dir, 'd', '10-x.conf'), 'unqualified-search-registries = ["b.io"]\n');
    const conf = loadRegistriesConf(main, path.join(dir, 'd'));
    expect(conf.unqualifiedSearchRegistries).to.deep.equal(['b.io']);
    expect(pullSources(conf, 'example.com', 'foo/app', false)).to.deep.equal([
      { host: 'm1.example.com', path: 'cache/app', insecure: false, mirror: true },
      { host: 'internal.example.com', path: 'bar/app', insecure: true, mirror: false },
    ]);
    expect(pullSources(conf, 'example.com', 'foo/app', true).map((s) => s.host)).to.deep.equal(['m1.example.com', 'm2.example.com', 'internal.example.com']);
    expect(pullSources(conf, 'other.io', 'x', false)).to.deep.equal([{ host: 'other.io', path: 'x', insecure: false, mirror: false }]);
    expect(() => pullSources(conf, 'evil.io', 'x', false)).to.throw(/blocked/);
    // "example.com/foobar" does not match prefix "example.com/foo"
    expect(pullSources(conf, 'example.com', 'foobar/x', false)[0].host).to.equal('example.com');
  });

  it('treats missing files as empty and names the file of a bad key', () => {
    expect(loadRegistriesConf(path.join(dir, 'nope'), path.join(dir, 'nope.d'))).to.deep.equal({ unqualifiedSearchRegistries: [], registries: [] });
    const f = path.join(dir, 'bad.conf');
    fs.writeFileSync(f, 'unqualified-search-registries = "docker.io"\n');
    expect(() => loadRegistriesConf(f, '')).to.throw(f);
  });
});

describe('manifests and challenges', () => {
  const index: ImageIndex = {
    kind: 'index',
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'm', digest: 'sha256:1', size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'm', digest: 'sha256:2', size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: 'm', digest: 'sha256:3', size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ],
  };
  it('picks the entry of the platform', () => {
    expect(selectPlatform(index, { os: 'linux', architecture: 'amd64' }).digest).to.equal('sha256:1');
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm64', variant: 'v8' }).digest).to.equal('sha256:2');
    expect(selectPlatform(index, { os: 'linux', architecture: 'arm64' }).digest).to.equal('sha256:2');
    expect(hostPlatform().os).to.equal('linux');
  });
  it('lists the platforms offered when none matches', () => {
    expect(() => selectPlatform(index, { os: 'linux', architecture: 's390x' })).to.throw('no image for platform linux/s390x in the index; it offers: linux/amd64, linux/arm64/v8, linux/arm/v7');
  });
  it('refuses schema 1 and unknown media types', () => {
    expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x' })), undefined)).to.throw(/schema 1 is not supported/);
    expect(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'text/plain' })), undefined)).to.throw(/unsupported manifest media type "text\/plain"/);
  });
  it('parses WWW-Authenticate challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push"')).to.deep.equal({
      scheme: 'bearer',
      params: { realm: 'https://auth.io/token', service: 'registry.io', scope: 'repository:a/b:pull,push' },
    });
    expect(parseChallenge('Basic realm="x"')).to.deep.equal({ scheme: 'basic', params: { realm: 'x' } });
  });
});
