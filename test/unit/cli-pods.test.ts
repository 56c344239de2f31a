import { expect } from 'chai';
import { parseLabels, parseShare } from '../../src/cli/commands/pod-create';
import { stopTimeout } from '../../src/cli/pod-lifecycle';
import { parseSignal } from '../../src/cli/signal';
import { untilMs } from '../../src/cli/pod-filter';
import { rfc3339Nano } from '../../src/cli/pod-view';
import { findPod, podStatus } from '../../src/cli/pods';
import { parsePublish, portBindings } from '../../src/cli/port-mappings';
import type { ContainerRecord } from '../../src/runtime-service/container/record';
import type { SandboxRecord } from '../../src/runtime-service/sandbox/record';

const pod = (state: 'ready' | 'notready', name = 'p', id = 'a'.repeat(64)): SandboxRecord => ({ id, state, metadata: { name } }) as unknown as SandboxRecord;
const ctr = (state: ContainerRecord['state']): ContainerRecord => ({ state }) as ContainerRecord;

describe('CLI pods: flags and views', () => {
  it('reads -p as Podman: ip, host and container ports, ranges, protocols, IPv6 in brackets', () => {
    expect(parsePublish(['8080:80'])).to.deep.equal([{ hostIP: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish(['127.0.0.1:9090:90/udp'])).to.deep.equal([{ hostIP: '127.0.0.1', hostPort: 9090, containerPort: 90, protocol: 'udp' }]);
    expect(parsePublish(['7000'])).to.deep.equal([{ hostIP: '', hostPort: 0, containerPort: 7000, protocol: 'tcp' }]);
    expect(parsePublish(['127.0.0.1::53/udp'])[0]).to.include({ hostIP: '127.0.0.1', hostPort: 0, containerPort: 53 });
    expect(parsePublish(['[::1]:8443:443'])[0]).to.include({ hostIP: '::1', hostPort: 8443, containerPort: 443 });
    expect(parsePublish(['8000-8002:80-82']).map((m) => [m.hostPort, m.containerPort])).to.deep.equal([
      [8000, 80],
      [8001, 81],
      [8002, 82],
    ]);
    for (const [v, re] of [
      ['80/icmp', /protocol "icmp" is not one of tcp, udp, sctp/],
      ['a:b:c:80', /expected \[\[ip:\]\[hostPort\]:\]containerPort/],
      ['1.2.3:80:80', /"1.2.3" is not an IP address/],
      ['0', /container port 0 is not between 1 and 65535/],
      ['90-80', /ends before it starts/],
      ['8080:', /expected/],
    ] as const) {
      expect(() => parsePublish([v]), v).to.throw(re);
    }
    expect(() => parsePublish(['1-2000'])).to.throw(/more than 1024 port mappings/);
    expect(portBindings([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }])).to.deep.equal({ '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
  });

  it('reads --share: a list replacing the default, +ns adding to it; net, ipc and uts are required', () => {
    expect(parseShare('ipc,net,uts')).to.deep.equal(['uts', 'ipc', 'net']);
    expect(parseShare('+pid')).to.deep.equal(['uts', 'ipc', 'net', 'pid']);
    expect(parseShare('pid,net,ipc,uts')).to.deep.equal(['uts', 'ipc', 'net', 'pid']);
    expect(() => parseShare('pid')).to.throw(/ipc, net, uts left out/);
    expect(() => parseShare('')).to.throw(/left out/);
    expect(() => parseShare('+user')).to.throw(/"user" is not one of/);
    expect(() => parseShare('+cgroup')).to.throw(/cgroup namespace is not supported/);
  });

  it('reads labels from flags and files, and checks signals and timeouts', () => {
    expect(parseLabels(['a=1', 'b', 'c=x=y'], [])).to.deep.equal({ a: '1', b: '', c: 'x=y' });
    expect(() => parseLabels(['=v'], [])).to.throw(/the key is empty/);
    expect(() => parseLabels([], ['/nonexistent/labels'])).to.throw(/--label-file \/nonexistent\/labels/);
    expect(parseSignal('KILL')).to.equal('SIGKILL');
    expect(parseSignal('sigterm')).to.equal('SIGTERM');
    expect(parseSignal('9')).to.equal('9');
    expect(() => parseSignal('NOPE')).to.throw('invalid signal: NOPE');
    expect(() => parseSignal('65')).to.throw('invalid signal: 65');
    expect(stopTimeout(undefined)).to.equal(10);
    expect(stopTimeout('0')).to.equal(0);
    expect(() => stopTimeout('-1')).to.throw(/--time: "-1"/);
    expect(() => stopTimeout('1.5')).to.throw(/--time/);
  });

  it("computes a pod's status as Podman does, the sandbox counted as the infra member", () => {
    expect(podStatus(pod('ready'), [])).to.equal('Running');
    expect(podStatus(pod('notready'), [])).to.equal('Exited');
    expect(podStatus(pod('ready'), [ctr('running'), ctr('running')])).to.equal('Running');
    expect(podStatus(pod('ready'), [ctr('created')])).to.equal('Degraded');
    expect(podStatus(pod('ready'), [ctr('exited')])).to.equal('Degraded');
    expect(podStatus(pod('notready'), [ctr('exited'), ctr('exited')])).to.equal('Exited');
    expect(podStatus(pod('notready'), [ctr('created')])).to.equal('Stopped');
  });

  it('finds a pod by exact name, full ID or unique ID prefix', () => {
    const pods = [pod('ready', 'web', 'ab'.repeat(32)), pod('ready', 'db', 'ac'.repeat(32)), pod('ready', 'abab', 'cd'.repeat(32))];
    expect(findPod(pods, 'web')?.metadata.name).to.equal('web');
    expect(findPod(pods, 'abab')?.metadata.name).to.equal('abab');
    expect(findPod(pods, 'aba')?.metadata.name).to.equal('web');
    expect(findPod(pods, 'cd'.repeat(32))?.metadata.name).to.equal('abab');
    expect(findPod(pods, 'nope')).to.equal(undefined);
    expect(() => findPod(pods, 'a')).to.throw(/more than one result for pod ID a/);
  });

  it('prints times as Go does and reads until= as Unix seconds, a date or a duration', () => {
    expect(rfc3339Nano('1764589876139140737')).to.equal('2025-12-01T11:51:16.139140737Z');
    expect(rfc3339Nano('1764589876000000000')).to.equal('2025-12-01T11:51:16Z');
    expect(rfc3339Nano('1764589876120000000')).to.equal('2025-12-01T11:51:16.12Z');
    const now = Date.UTC(2026, 0, 1);
    expect(untilMs('1700000000', now)).to.equal(1_700_000_000_000);
    expect(untilMs('1h30m', now)).to.equal(now - 5_400_000);
    expect(untilMs('2026-01-01T00:00:00Z', now)).to.equal(now);
    expect(() => untilMs('yesterday', now)).to.throw(/until=yesterday/);
  });
});
