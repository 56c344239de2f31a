import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  describeIdMap,
  formatIdMap,
  hostIdOf,
  insideIdOf,
  isInitialIdMap,
  isSingleIdMap,
  MAX_ID_MAP_LINES,
  parseIdMap,
  parseSubordinateIds,
  readSubordinateIds,
  rootlessIdMap,
  userNamespaceRefusal,
} from '../../src/common/userns';

describe('user namespaces: subordinate IDs, ID maps, why the kernel refuses', () => {
  let tmp: string;
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-userns-'))));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads the ranges of a user from subuid(5) lines by name or by uid, skipping comments and malformed lines', () => {
    const text = [
      '# comment',
      '',
      'alice:100000:65536',
      'bob:165536:65536',
      '1001:300000:1000',
      'alice:bad:10',
      'alice:5:0',
      'alice:4294967000:1000',
      'alice:1:2:3',
      '  alice:500000:10  ',
    ].join('\n');
    expect(parseSubordinateIds(text, { name: 'alice', id: 1001 })).to.deep.equal([
      { start: 100000, count: 65536 },
      { start: 300000, count: 1000 },
      { start: 500000, count: 10 },
    ]);
    expect(parseSubordinateIds(text, { name: 'carol', id: 1002 })).to.deep.equal([]);
    const file = path.join(tmp, 'subuid');
    fs.writeFileSync(file, 'bob:165536:65536\n');
    expect(readSubordinateIds(file, { name: 'bob', id: 7 })).to.deep.equal([{ start: 165536, count: 65536 }]);
    expect(readSubordinateIds(path.join(tmp, 'absent'), { name: 'bob', id: 7 })).to.deep.equal([]);
  });

  it('maps the user to 0 and its ranges from 1 in turn, skipping a range holding the user itself', () => {
    expect(rootlessIdMap(1001, [{ start: 100000, count: 65536 }])).to.deep.equal([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
    expect(rootlessIdMap(1001, [{ start: 100000, count: 10 }, { start: 1000, count: 5 }, { start: 200000, count: 20 }])).to.deep.equal([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 10 },
      { inside: 11, outside: 200000, count: 20 },
    ]);
    const single = rootlessIdMap(1001, []);
    expect(single).to.deep.equal([{ inside: 0, outside: 1001, count: 1 }]);
    expect(isSingleIdMap(single)).to.equal(true);
    const many = rootlessIdMap(5, Array.from({ length: 500 }, (_v, i) => ({ start: 100000 + i * 10, count: 10 })));
    expect(many).to.have.length(MAX_ID_MAP_LINES);
  });

  it('parses and formats uid_map text, and translates IDs both ways', () => {
    const map = parseIdMap('         0       1001          1\n         1     100000      65536\n');
    expect(map).to.deep.equal([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
    expect(formatIdMap(map)).to.equal('0 1001 1\n1 100000 65536\n');
    expect(hostIdOf(0, map)).to.equal(1001);
    expect(hostIdOf(1000, map)).to.equal(100999);
    expect(hostIdOf(65537, map)).to.equal(undefined);
    expect(insideIdOf(100999, map)).to.equal(1000);
    expect(insideIdOf(0, map)).to.equal(undefined);
    expect(describeIdMap(map)).to.equal('0-65536 (host 1001, 100000-165535)');
    expect(describeIdMap([{ inside: 0, outside: 1001, count: 1 }])).to.equal('0 (host 1001)');
    expect(isInitialIdMap(parseIdMap('0 0 4294967295\n'))).to.equal(true);
    expect(isInitialIdMap(map)).to.equal(false);
  });

  it('names the sysctl that forbids unprivileged user namespaces, and how to change it', () => {
    const proc = (files: Record<string, string>): string => {
      const dir = fs.mkdtempSync(path.join(tmp, 'proc-'));
      fs.mkdirSync(path.join(dir, 'self', 'ns'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'self', 'ns', 'user'), '');
      for (const [name, value] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, 'sys', name)), { recursive: true });
        fs.writeFileSync(path.join(dir, 'sys', name), value);
      }
      return dir;
    };
    expect(userNamespaceRefusal(proc({ 'user/max_user_namespaces': '15000\n', 'kernel/unprivileged_userns_clone': '1\n' }))).to.equal(undefined);
    expect(userNamespaceRefusal(proc({ 'user/max_user_namespaces': '0\n' }))).to.match(/^user namespaces are disabled: sysctl user\.max_user_namespaces is 0 .*sysctl -w user\.max_user_namespaces=/);
    expect(userNamespaceRefusal(proc({ 'kernel/unprivileged_userns_clone': '0\n' }))).to.match(/sysctl kernel\.unprivileged_userns_clone is 0/);
    expect(userNamespaceRefusal(proc({ 'kernel/apparmor_restrict_unprivileged_userns': '1\n' }))).to.match(/AppArmor .*apparmor_restrict_unprivileged_userns is 1/);
    const none = fs.mkdtempSync(path.join(tmp, 'proc-'));
    expect(userNamespaceRefusal(none)).to.match(/no user namespaces \(built without CONFIG_USER_NS\)/);
    // This machine's kernel allows them (shared README: `su nobody -s /bin/sh -c 'unshare -U -r id'` works).
    expect(userNamespaceRefusal()).to.equal(undefined);
  });
});
