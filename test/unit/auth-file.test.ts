import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuthFileError, findCredentials, removeCredentials, storeCredentials, validateAuthKey } from '../../src/image-service/auth-file';
import { authFiles } from '../../src/cli/config';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('registry auth files (containers-auth.json)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-auth-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('finds the most specific key first, then the registry, then URL-form and docker.io aliases', () => {
    const f = path.join(dir, 'auth.json');
    fs.writeFileSync(f, JSON.stringify({ auths: { 'r.io': { auth: b64('host:1') }, 'r.io/team': { auth: b64('team:2') }, 'https://index.docker.io/v1/': { auth: b64('hub:3:with:colons') } } }));
    expect(findCredentials([{ path: f }], 'r.io/team/app')?.credentials).to.deep.equal({ username: 'team', password: '2' });
    expect(findCredentials([{ path: f }], 'r.io/other/app')?.credentials).to.deep.equal({ username: 'host', password: '1' });
    expect(findCredentials([{ path: f }], 'docker.io/library/busybox')?.credentials).to.deep.equal({ username: 'hub', password: '3:with:colons' });
    expect(findCredentials([{ path: f }], 'elsewhere.io/x')).to.equal(undefined);
  });

  it('reads files in order (the first with a match wins), the legacy .dockercfg form, identity tokens; a missing file is empty', () => {
    const a = path.join(dir, 'a.json');
    const legacy = path.join(dir, '.dockercfg');
    fs.writeFileSync(a, JSON.stringify({ auths: { 'x.io': { identitytoken: 'tok' } } }));
    fs.writeFileSync(legacy, JSON.stringify({ 'https://y.io/v1/': { auth: b64('old:pw') } }));
    const files = [{ path: path.join(dir, 'missing.json') }, { path: a }, { path: legacy, legacy: true }];
    expect(findCredentials(files, 'x.io/r')?.credentials).to.deep.equal({ identityToken: 'tok' });
    expect(findCredentials(files, 'y.io/r')?.credentials).to.deep.equal({ username: 'old', password: 'pw' });
  });

  it('stores and removes entries atomically (0600), keeping other keys; refuses bad keys and bad files', () => {
    const f = path.join(dir, 'sub', 'auth.json');
    storeCredentials(f, 'r.io:5000', 'u', 'p');
    fs.writeFileSync(f, JSON.stringify({ ...JSON.parse(fs.readFileSync(f, 'utf8')), credHelpers: { 'z.io': 'pass' } }));
    storeCredentials(f, 'q.io/ns', 'v', 'w');
    const j = JSON.parse(fs.readFileSync(f, 'utf8'));
    expect(j.credHelpers).to.deep.equal({ 'z.io': 'pass' });
    expect(j.auths).to.deep.equal({ 'r.io:5000': { auth: b64('u:p') }, 'q.io/ns': { auth: b64('v:w') } });
    expect(fs.statSync(f).mode & 0o777).to.equal(0o600);
    expect(removeCredentials(f, 'r.io:5000')).to.equal(true);
    expect(removeCredentials(f, 'r.io:5000')).to.equal(false);
    expect(fs.readdirSync(path.dirname(f))).to.deep.equal(['auth.json']);
    for (const k of ['https://r.io', 'r.io/a:tag', 'r.io/a@sha256:x', '']) expect(() => validateAuthKey(k), k).to.throw(AuthFileError);
    fs.writeFileSync(f, '{not json');
    expect(() => findCredentials([{ path: f }], 'r.io')).to.throw(AuthFileError, 'not valid JSON');
  });

  it('resolves the auth file paths as containers/image does', () => {
    expect(authFiles('/x/a.json', {})).to.deep.equal({ primary: '/x/a.json', fallbacks: [], explicit: true });
    expect(authFiles(undefined, { REGISTRY_AUTH_FILE: '/y/b.json' }).primary).to.equal('/y/b.json');
    const xdg = authFiles(undefined, { XDG_RUNTIME_DIR: '/run/user/7', HOME: '/home/u' });
    expect(xdg.primary).to.equal('/run/user/7/containers/auth.json');
    expect(xdg.fallbacks.map((f) => f.path)).to.deep.equal(['/home/u/.config/containers/auth.json', '/home/u/.docker/config.json', '/home/u/.dockercfg']);
    expect(authFiles(undefined, { HOME: '/root' }).primary).to.equal(`/run/containers/${process.getuid!()}/auth.json`);
  });
});
