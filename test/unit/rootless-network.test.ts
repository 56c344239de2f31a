import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processStartTime, selfIdentity } from '../../src/common/host/proc';
import { sandboxPaths } from '../../src/runtime-service/sandbox/paths';
import { pinsBringLoopbackUp, restartRootlessPodNetwork, rootlessPodNetworkDown, slirpStateFile } from '../../src/runtime-service/sandbox/rootless-network';

describe('rootless pod network: which pods bring loopback up by their pins, and a dead slirp4netns', () => {
  let dir: string;
  const id = 'a'.repeat(64);
  let paths: ReturnType<typeof sandboxPaths>;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rootless-net-'));
    paths = sandboxPaths({ root: path.join(dir, 'root'), runroot: path.join(dir, 'run') }, id);
    fs.mkdirSync(paths.runDir, { recursive: true });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the pins bring lo up except for a slirp4netns network (its --configure does)', () => {
    expect(pinsBringLoopbackUp({ rootless: true, podNetwork: true })).to.equal(false);
    expect(pinsBringLoopbackUp({ rootless: true, podNetwork: false })).to.equal(true);
    expect(pinsBringLoopbackUp({ rootless: false, podNetwork: true })).to.equal(true);
    expect(pinsBringLoopbackUp({ rootless: false, podNetwork: false })).to.equal(true);
  });

  it('a pod with no slirp4netns recorded is not down, and nothing is started for it', async () => {
    expect(rootlessPodNetworkDown(paths, id)).to.equal(false);
    expect(await restartRootlessPodNetwork(paths, path.join(dir, 'run'), id, [])).to.equal(false);
  });

  it('a recorded slirp4netns that still runs is not down; one that exited (or whose pid was reused) is', () => {
    fs.writeFileSync(slirpStateFile(paths), JSON.stringify({ ...selfIdentity(), apiSocket: path.join(dir, 's.sock') }));
    expect(rootlessPodNetworkDown(paths, id)).to.equal(false);
    // A process that has exited: its pid names nothing now (or a process of another start time).
    const gone = spawnSync('sh', ['-c', 'echo $$']).stdout.toString().trim();
    fs.writeFileSync(slirpStateFile(paths), JSON.stringify({ pid: Number(gone), startTime: '1', apiSocket: path.join(dir, 's.sock') }));
    expect(rootlessPodNetworkDown(paths, id)).to.equal(true);
    fs.writeFileSync(slirpStateFile(paths), JSON.stringify({ pid: process.pid, startTime: String(Number(processStartTime(process.pid)) + 1), apiSocket: path.join(dir, 's.sock') }));
    expect(rootlessPodNetworkDown(paths, id)).to.equal(true);
  });

  it('a dead slirp4netns that cannot be started again fails naming slirp4netns and the pod, and leaves no record', async () => {
    fs.writeFileSync(slirpStateFile(paths), JSON.stringify({ pid: process.pid, startTime: '1', apiSocket: path.join(dir, 's.sock') }));
    // paths.netnsPin is no namespace here: slirp4netns, when installed, cannot join it; without it, its absence is the error.
    const err = await restartRootlessPodNetwork(paths, path.join(dir, 'run'), id, []).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/^the network of pod aaaaaaaaaaaa \(slirp4netns, pid \d+\) has exited and could not be started again: /);
    expect(fs.existsSync(slirpStateFile(paths))).to.equal(false);
  });
});
