import { expect } from 'chai';
import { PeapodError } from '../../src/common/errors';
import { resolveUser } from '../../src/runtime-service/oci/user';
import { containerSpecOf, userOf } from '../../src/runtime-service/cri/container-config';
import { withCriField } from '../../src/runtime-service/cri/fields';
import { criResourcesOf, resourcesOf } from '../../src/runtime-service/cri/resources';
import { checkSandboxSpec } from '../../src/runtime-service/sandbox/spec';
import { containerConfig, resources, securityContext } from '../integration/helpers/container-config';

function thrown(fn: () => unknown): PeapodError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(PeapodError);
    return err as PeapodError;
  }
  throw new Error('expected a PeapodError');
}

describe('CRI ContainerConfig to ContainerSpec', () => {
  it('translates the fields into peapod terms', () => {
    const cfg = containerConfig('web', {
      command: ['/ep'],
      args: ['a'],
      stop_signal: 'SIGNAL_SIGINT' as never,
      mounts: [{ container_path: '/d', host_path: '/h', readonly: true, propagation: 'PROPAGATION_BIDIRECTIONAL' } as never],
      linux: { resources: resources({ memory_limit_in_bytes: '1024' }), security_context: securityContext({ run_as_username: 'app', seccomp_profile_path: 'runtime/default' }) },
    });
    const { spec } = containerSpecOf(cfg, { logDirectory: '/var/log/pods/x' });
    expect(spec).to.deep.include({ name: 'web', attempt: 0, entrypoint: ['/ep'], cmd: ['a'], stopSignal: 'SIGINT', logPath: '/var/log/pods/x/web/0.log', pidMode: 'POD' });
    expect(spec.mounts).to.deep.equal([{ containerPath: '/d', hostPath: '/h', readonly: true, propagation: 'shared' }]);
    expect(spec.user).to.deep.equal({ name: 'app' });
    expect(spec.security?.seccomp).to.deep.equal({ type: 'runtime-default' });
    expect(spec.resources).to.deep.equal({ memoryLimitBytes: 1024 });
    expect(containerSpecOf(cfg, { logDirectory: '' }).spec.logPath).to.equal(undefined);
  });

  it('keeps CRI resources through the round trip ContainerStatus reports', () => {
    const r = resources({ cpu_shares: '512', cpu_quota: '-1', memory_swap_limit_in_bytes: '2048', unified: { 'memory.high': '9' } });
    expect(criResourcesOf(resourcesOf(r)!)).to.deep.equal(r);
  });

  it('names concepts in domain errors; the translation adds the CRI field path', () => {
    const err = thrown(() => resolveUser(userOf(securityContext({ run_as_username: 'bob' })), undefined, 'root:x:0:0::/:/bin/sh\n', ''));
    expect(err.message).to.equal(`user "bob" not found in the image's /etc/passwd`);
    expect(err.field).to.equal('user.name');
    const { criPath } = containerSpecOf(containerConfig('c'), { logDirectory: '' });
    expect((withCriField(err, criPath) as Error).message).to.equal(`config.linux.security_context.run_as_username: user "bob" not found in the image's /etc/passwd`);
    expect(criPath('mounts[3].hostPath')).to.equal('config.mounts[3].host_path');
    expect(criPath('devices[0].hostPath')).to.equal('config.devices[0].host_path');
  });

  it('needs only a name for a pod: Kubernetes metadata is defaulted in the domain', () => {
    const spec = checkSandboxSpec({ metadata: { name: 'cli-pod' } });
    expect(spec.metadata).to.deep.equal({ name: 'cli-pod', namespace: '', uid: '', attempt: 0 });
    expect(spec.namespaceOptions).to.deep.equal({ network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' });
    const bad = thrown(() => checkSandboxSpec({ metadata: { name: 'p' }, hostname: 'Bad_Name' }));
    expect(bad.field).to.equal('hostname');
    expect(bad.message).to.not.contain('config.');
  });
});
