import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HOST_ADDON, hostAddonLoaded, syncfs, trimMallocHeap } from '../../src/common/host/host-addon';

describe('host addon: syncfs(2) and malloc_trim(3) (native/host-addon.c)', () => {
  let tmp: string;
  before(function () {
    // The build makes it wherever Node's headers and a C compiler are (scripts/build-native.sh).
    if (!fs.existsSync(HOST_ADDON)) this.skip();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-host-addon-'));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('loads where the build made it', () => {
    expect(hostAddonLoaded()).to.equal(true);
  });

  it('syncs the filesystem of an open directory, and names the errno of a bad descriptor', () => {
    fs.writeFileSync(path.join(tmp, 'f'), 'data');
    const fd = fs.openSync(tmp, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    try {
      expect(syncfs(fd)).to.equal(true);
    } finally {
      fs.closeSync(fd);
    }
    const closed = fs.openSync(path.join(tmp, 'f'), 'r');
    fs.closeSync(closed);
    expect(() => syncfs(closed)).to.throw(/^syncfs: Bad file descriptor$/).with.property('code', 'EBADF');
    expect(() => syncfs(-1)).to.throw(TypeError, /fd must be a non-negative integer/);
  });

  it('trims the malloc heaps off the event loop and says whether it released memory', async () => {
    const released = await trimMallocHeap();
    expect(released).to.be.a('boolean');
  });
});
