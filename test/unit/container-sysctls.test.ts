import { expect } from 'chai';
import { PeapodError } from '../../src/common/errors';
import { checkContainerSysctls } from '../../src/runtime-service/container/sysctls';
import { buildSpec } from '../../src/runtime-service/oci/spec';

/** The field an INVALID_ARGUMENT error of `fn` names. */
function field(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(PeapodError);
    return (err as PeapodError).field;
  }
  throw new Error('no error');
}

describe('a container\'s own sysctls (ContainerSpec.sysctls: the CLI\'s ping range)', () => {
  const own = { network: '/run/ns/net', ipc: '/run/ns/ipc' };

  it('are checked against the namespaces the container has from its pod', () => {
    checkContainerSysctls({ 'net.ipv4.ping_group_range': '0 0', 'kernel.shmmax': '1' }, own);
    checkContainerSysctls(undefined, {});
    expect(field(() => checkContainerSysctls({ 'net.ipv4.ping_group_range': '0 0' }, { ipc: '/x' }))).to.equal('sysctls["net.ipv4.ping_group_range"]');
    expect(field(() => checkContainerSysctls({ 'kernel.shmmax': '1' }, { network: '/x' }))).to.equal('sysctls["kernel.shmmax"]');
    expect(field(() => checkContainerSysctls({ 'vm.swappiness': '1' }, own))).to.equal('sysctls["vm.swappiness"]');
    expect(field(() => checkContainerSysctls(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`net.x${i}`, '1'])), own))).to.equal('sysctls');
  });

  it('reach the OCI spec over the pod\'s', () => {
    const spec = buildSpec({
      containerId: 'c1',
      spec: { name: 'c', image: { name: 'i' }, cmd: ['true'], sysctls: { 'net.ipv4.ping_group_range': '0 0' } },
      image: {},
      sandbox: { id: 's', namespaces: own, sysctls: { 'net.ipv4.ping_group_range': '1 0', 'net.core.somaxconn': '1024' } },
      rootfsPath: '/r',
      user: { uid: 0, gid: 0 },
      mounts: [],
      devices: [],
      cgroupsPath: '/p/c1',
      minOomScoreAdj: 0,
      allCapabilities: [],
      cgroupV2: false,
      appArmorEnabled: false,
    });
    expect(spec.linux.sysctl).to.deep.equal({ 'net.ipv4.ping_group_range': '0 0', 'net.core.somaxconn': '1024' });
  });
});
