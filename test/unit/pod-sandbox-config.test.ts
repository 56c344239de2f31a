import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import type { PodSandboxConfig__Output } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { PeapodError } from '../../src/common/errors';
import { toGrpcStatus } from '../../src/server/status';
import { hostnameProblem, renderHosts, renderResolvConf } from '../../src/runtime-service/sandbox/etc-files';
import { sysctlNamespace, sysctlsProblem } from '../../src/runtime-service/sandbox/sysctls';
import { sandboxSpecOf } from '../../src/runtime-service/cri/pod-sandbox-config';
import { cgroupfsPodPath, podCgroupParent, systemdSlice } from '../../src/runtime-service/sandbox/cgroups';

/** A decoded PodSandboxConfig as grpc-js hands it to a handler. */
function decoded(extra: Partial<PodSandboxConfig__Output> = {}): PodSandboxConfig__Output {
  return {
    metadata: { name: 'p', uid: 'u1', namespace: 'ns', attempt: 2 },
    hostname: 'p',
    log_directory: '/var/log/pods/ns_p_u1',
    dns_config: null,
    port_mappings: [],
    labels: {},
    annotations: {},
    linux: null,
    windows: null,
    ...extra,
  };
}

function invalid(fn: () => unknown): PeapodError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(PeapodError);
    expect(toGrpcStatus(err).code).to.equal(grpc.status.INVALID_ARGUMENT);
    return err as PeapodError;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('sandbox config checks', () => {
  it('accepts RFC 1123 labels and the kubelet\'s FQDN hostnames (setHostnameAsFQDN) of up to 64 characters', () => {
    expect(hostnameProblem('web-0')).to.equal(null);
    expect(hostnameProblem('a'.repeat(63))).to.equal(null);
    expect(hostnameProblem('web-0.web.default.svc.cluster.local')).to.equal(null);
    // The kubelet's limit (GetNodenameForKernel: 64, the kernel's nodename field).
    const fqdn64 = `${'a'.repeat(30)}.${'b'.repeat(33)}`;
    expect(fqdn64).to.have.length(64);
    expect(hostnameProblem(fqdn64)).to.equal(null);
    expect(hostnameProblem(`${fqdn64}c`)).to.contain('longer than 64');
    expect(hostnameProblem('a'.repeat(64))).to.contain('label "' + 'a'.repeat(64) + '" is longer than 63');
    for (const bad of ['-a', 'a-', 'A', 'a_b', '', 'a..b', '.a', 'a.', 'a.-b', 'a.b-', 'web.Default', 'a b']) expect(hostnameProblem(bad), bad).to.not.equal(null);
    expect(hostnameProblem('a..b')).to.contain('empty label');
  });

  it('renders /etc/hosts with the FQDN and its first label for an FQDN hostname', () => {
    expect(renderHosts('web-0.web.default.svc.cluster.local', ['198.18.0.5'])).to.contain('198.18.0.5\tweb-0.web.default.svc.cluster.local\tweb-0\n');
    expect(renderHosts('web', ['198.18.0.5'])).to.contain('198.18.0.5\tweb\n');
  });

  it('requires metadata name, namespace and uid', () => {
    expect(invalid(() => sandboxSpecOf(null)).message).to.equal('config is required');
    expect(invalid(() => sandboxSpecOf(decoded({ metadata: null }))).message).to.equal('config.metadata is required');
    const m = { name: 'p', uid: '', namespace: 'ns', attempt: 0 };
    expect(invalid(() => sandboxSpecOf(decoded({ metadata: m }))).message).to.equal('config.metadata.uid is required');
  });

  it('defaults namespace modes to POD when no security context is given', () => {
    const spec = sandboxSpecOf(decoded());
    expect(spec.namespaceOptions).to.deep.equal({ network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' });
    expect(spec.metadata).to.deep.equal({ name: 'p', uid: 'u1', namespace: 'ns', attempt: 2 });
  });

  it('keeps only port mappings with a host port, protocol in lowercase', () => {
    const spec = sandboxSpecOf(
      decoded({
        port_mappings: [
          { protocol: 'UDP', container_port: 53, host_port: 5353, host_ip: '127.0.0.1' },
          { protocol: 'TCP', container_port: 80, host_port: 0, host_ip: '' },
        ],
      }),
    );
    expect(spec.portMappings).to.deep.equal([{ hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' }]);
    const err = invalid(() => sandboxSpecOf(decoded({ port_mappings: [{ protocol: 'TCP', container_port: 0, host_port: 1, host_ip: '' }] })));
    expect(err.message).to.contain('config.port_mappings[0].container_port');
  });

  it('turns bandwidth annotations into bits per second', () => {
    const spec = sandboxSpecOf(decoded({ annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '1Mi' } }));
    expect(spec.bandwidth).to.deep.include({ ingressRate: 10_000_000, egressRate: 1_048_576 });
    expect(invalid(() => sandboxSpecOf(decoded({ annotations: { 'kubernetes.io/egress-bandwidth': 'fast' } }))).message).to.contain('egress-bandwidth');
  });

  it('sorts sysctls by namespace and refuses those that do not fit', () => {
    expect(sysctlNamespace('net.ipv4.ip_forward')).to.equal('net');
    expect(sysctlNamespace('net/ipv4/ip_forward')).to.equal('net');
    expect(sysctlNamespace('kernel.shm_rmid_forced')).to.equal('ipc');
    expect(sysctlNamespace('fs.mqueue.msg_max')).to.equal('ipc');
    expect(sysctlNamespace('kernel.pid_max')).to.equal(null);
    expect(sysctlsProblem({ 'net.core.somaxconn': '1' }, true, false)).to.contain('host network');
    expect(sysctlsProblem({ 'kernel.sem': '1 2 3 4' }, false, true)).to.contain('host IPC');
    expect(sysctlsProblem({ 'net.core.somaxconn': '1', 'kernel.msgmax': '1' }, false, false)).to.equal(null);
  });

  it('renders resolv.conf and hosts', () => {
    expect(renderResolvConf({ servers: ['10.0.0.10', '10.0.0.11'], searches: ['a.svc', 'svc'], options: ['ndots:5', 'edns0'] })).to.equal(
      'nameserver 10.0.0.10\nnameserver 10.0.0.11\nsearch a.svc svc\noptions ndots:5 edns0\n',
    );
    expect(renderResolvConf({ servers: ['10.0.0.10'], searches: [], options: [] })).to.equal('nameserver 10.0.0.10\n');
    const hosts = renderHosts('web', ['198.18.0.5', 'fd00::5']);
    expect(hosts.split('\n')[0]).to.equal('127.0.0.1\tlocalhost');
    expect(hosts).to.contain('198.18.0.5\tweb\nfd00::5\tweb\n');
  });

  it('computes pod cgroups for both drivers', () => {
    const id = 'ab'.repeat(32);
    expect(cgroupfsPodPath('', id)).to.equal(`/peapod/pod-${id}`);
    expect(cgroupfsPodPath('/kubepods/besteffort/pod123', id)).to.equal(`/kubepods/besteffort/pod123/pod-${id}`);
    expect(systemdSlice('')).to.equal('peapod.slice');
    expect(systemdSlice('/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice')).to.equal('kubepods-besteffort-pod123.slice');
    expect(() => systemdSlice('/kubepods/pod123')).to.throw('not a systemd slice');
    expect(podCgroupParent('systemd', 'kubepods-besteffort-pod123.slice', id)).to.equal('kubepods-besteffort-pod123.slice');
    expect(podCgroupParent('cgroupfs', '/kubepods/besteffort/pod123', id)).to.equal(`/kubepods/besteffort/pod123/pod-${id}`);
  });

  it('refuses a cgroup parent that does not fit the cgroup driver with INVALID_ARGUMENT naming cgroupParent', () => {
    const id = 'ab'.repeat(32);
    const bad: ['cgroupfs' | 'systemd', string][] = [
      ['systemd', '/kubepods/besteffort/pod123'],
      ['systemd', 'kubepods--pod.slice'],
      ['systemd', '-kubepods.slice'],
      ['systemd', '.slice'],
      ['systemd', 'kube pods.slice'],
      ['systemd', `${'a'.repeat(300)}.slice`],
      ['cgroupfs', '/kubepods.slice/kubepods-besteffort.slice'],
      ['cgroupfs', '/kube\u0000pods'],
      ['cgroupfs', `/${'a'.repeat(5000)}`],
    ];
    for (const [driver, parent] of bad) {
      const err = invalid(() => podCgroupParent(driver, parent, id));
      expect(err.field, `${driver} ${parent}`).to.equal('cgroupParent');
    }
  });
});
