import { expect } from 'chai';
import { attachSocketDir, attachSocketPath } from '../../src/conmon/driver';

/**
 * conmon makes `<socket-dir>/<cuuid>` a symlink to the bundle and binds the
 * attach socket under it; when that link's path would be exactly 107 bytes
 * (one short of sun_path's 108) it cuts the link's name by one byte
 * (containers/conmon src/conn_sock.c, socket_parent_dir). The paths peapod
 * attaches to and removes follow the same rule.
 */
describe('conmon attach socket paths', () => {
  const id = 'a'.repeat(64);

  it('is <socket dir>/<id>/attach when the link path is not 107 bytes', () => {
    expect(attachSocketPath('/run/peapod/containers-sockets', id)).to.equal(`/run/peapod/containers-sockets/${id}/attach`);
    const long = `/tmp/${'x'.repeat(60)}/containers-sockets`;
    expect(attachSocketDir(long, id)).to.equal(`${long}/${id}`);
  });

  it('cuts the link name by one byte when its path would be 107 bytes, as conmon does', () => {
    // 42 bytes of directory + '/' + 64 = 107 (e.g. /tmp/rl/envB/h/r/peapod/containers-sockets).
    const dir = '/tmp/rl/envB/h/r/peapod/containers-sockets';
    expect(dir.length + 1 + id.length).to.equal(107);
    expect(attachSocketDir(dir, id)).to.equal(`${dir}/${id.slice(0, 63)}`);
    expect(attachSocketPath(dir, id)).to.equal(`${dir}/${id.slice(0, 63)}/attach`);
  });
});
