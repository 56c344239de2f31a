import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { boundMessage, MAX_MESSAGE_BYTES, MAX_RELAYED_BYTES, quoteInput, relayedText, truncateUtf8, utf8Prefix, utf8Suffix } from '../../src/common/bounded-text';
import { InvalidArgumentError, invalidArgument, notFound } from '../../src/common/errors';
import { checkAnnotations, checkArguments, checkBytes, checkLabels, INPUT_LIMITS } from '../../src/common/input-limits';
import { formatError } from '../../src/cli/errors';
import { InvalidReferenceError, MAX_REFERENCE_LENGTH, parseReference } from '../../src/image-service/reference';
import { CniPluginError } from '../../src/runtime-service/cni/plugin-exec';
import { checkRequestBounds } from '../../src/server/request-bounds';
import { toGrpcStatus } from '../../src/server/status';
import { hostnameProblem } from '../../src/runtime-service/sandbox/etc-files';

const MIB = 1024 * 1024;

/** True when `s` survives a UTF-8 round trip (no lone surrogate from a cut). */
function validUtf8(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s && !/[\uD800-\uDFFF]/.test(s.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
}

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('bounded messages and inputs (issue 17)', () => {
  describe('bounded text (src/common/bounded-text.ts)', () => {
    it('cuts on code point boundaries: 2-, 3- and 4-byte characters are never split', () => {
      for (const ch of ['é', '€', '😀']) {
        const s = ch.repeat(1000);
        for (let max = 0; max < 12; max++) {
          const p = utf8Prefix(s, max);
          expect(Buffer.byteLength(p)).to.be.at.most(max);
          expect(max - Buffer.byteLength(p)).to.be.below(Buffer.byteLength(ch));
          expect(validUtf8(p), `${ch} ${max}`).to.equal(true);
        }
      }
      expect(truncateUtf8('abc', 3)).to.equal('abc');
      expect(truncateUtf8('abcd', 3)).to.equal('…');
      expect(truncateUtf8('abcdefgh', 6)).to.equal('abc…');
    });

    it('quotes a long input with an ellipsis and its length in bytes, a short one whole, control characters escaped', () => {
      expect(quoteInput('busybox')).to.equal('"busybox"');
      expect(quoteInput('a\nb"c')).to.equal('"a\\nb\\"c"');
      const q = quoteInput('a'.repeat(60109));
      expect(q).to.equal(`"${'a'.repeat(256)}…" (60109 bytes)`);
      expect(quoteInput('€'.repeat(100), 10)).to.equal('"€€€…" (300 bytes)');
    });

    it('bounds a message to 4 KiB of valid UTF-8', () => {
      const m = boundMessage('😀'.repeat(MIB));
      expect(Buffer.byteLength(m)).to.be.at.most(MAX_MESSAGE_BYTES);
      expect(m.endsWith('…')).to.equal(true);
      expect(validUtf8(m)).to.equal(true);
      expect(boundMessage('short')).to.equal('short');
    });
  });

  describe("a tool's error text relayed (relayedText)", () => {
    it('keeps short text, trimmed, and drops runc\'s freezer warnings', () => {
      const text = 'time="t" level=warning msg="cannot toggle freezer: cgroups not configured for container"\ntime="t" level=error msg="runc create failed: x"\n';
      expect(relayedText(text)).to.equal('time="t" level=error msg="runc create failed: x"');
    });

    it('keeps the beginning and the end of long text, with its length, within the bound and valid UTF-8', () => {
      const text = `runc create failed: exec: "/${'é'.repeat(50_000)}": stat /${'😀'.repeat(20_000)}: file name too long`;
      const r = relayedText(text);
      expect(Buffer.byteLength(r)).to.be.at.most(MAX_RELAYED_BYTES);
      expect(r.startsWith('runc create failed: exec: "/é')).to.equal(true);
      expect(r.endsWith(': file name too long')).to.equal(true);
      expect(r).to.contain(`(${Buffer.byteLength(text)} bytes)`);
      expect(validUtf8(r)).to.equal(true);
    });

    it('cuts a suffix on a code point boundary (utf8Suffix)', () => {
      expect(utf8Suffix('a😀b', 5)).to.equal('😀b');
      expect(utf8Suffix('a😀b', 4)).to.equal('b');
      expect(utf8Suffix('abc', 0)).to.equal('');
    });
  });

  describe('every gRPC status message is bounded (src/server/status.ts)', () => {
    it('cuts a huge PeapodError, library error or bug message, keeping the code', () => {
      const huge = 'x'.repeat(MIB);
      const cases: Array<[unknown, GrpcStatus]> = [
        [invalidArgument(huge), GrpcStatus.INVALID_ARGUMENT],
        [notFound(huge), GrpcStatus.NOT_FOUND],
        [new CniPluginError('bridge', 'ADD', 7, huge, ''), GrpcStatus.FAILED_PRECONDITION],
        [new Error(huge), GrpcStatus.INTERNAL],
        [huge, GrpcStatus.INTERNAL],
      ];
      for (const [err, code] of cases) {
        const s = toGrpcStatus(err);
        expect(s.code).to.equal(code);
        expect(Buffer.byteLength(s.message)).to.be.at.most(MAX_MESSAGE_BYTES);
        expect(s.message.endsWith('…')).to.equal(true);
      }
    });
  });

  describe('the CLI prints the same bounded messages (src/cli/errors.ts)', () => {
    it('bounds the `Error: …` line of a huge message, also one of whitespace and newlines', () => {
      for (const message of ['n'.repeat(MIB), ` \n`.repeat(MIB / 2)]) {
        const line = formatError(new InvalidArgumentError(message), false);
        expect(line.startsWith('Error: ')).to.equal(true);
        expect(Buffer.byteLength(line)).to.be.at.most(MAX_MESSAGE_BYTES + 'Error: \n'.length);
        expect(line.split('\n').length).to.equal(2);
      }
      // An invalid reference the CLI's pull reports: quoted with its length.
      const line = formatError(thrown(() => parseReference('A'.repeat(MIB))), false);
      expect(line).to.equal(`Error: invalid image reference "${'A'.repeat(256)}…" (${MIB} bytes): longer than ${MAX_REFERENCE_LENGTH} characters\n`);
    });
  });

  describe('input bounds (src/common/input-limits.ts, src/server/request-bounds.ts)', () => {
    it('refuses an image reference longer than the grammar allows before parsing, and accepts the longest valid one', () => {
      const err = thrown(() => parseReference(`x/${'a'.repeat(MIB)}`));
      expect(err).to.be.instanceOf(InvalidReferenceError);
      expect(err.message).to.contain(`(${MIB + 2} bytes)`);
      const name = `r.io/${'a'.repeat(250)}`;
      const longest = `${name}:${'t'.repeat(128)}@sha512:${'f'.repeat(128)}`;
      expect(longest.length).to.equal(MAX_REFERENCE_LENGTH);
      expect(parseReference(longest).tag).to.equal('t'.repeat(128));
    });

    it('names the field and the length, quoting only the start of the value', () => {
      const err = thrown(() => checkBytes('config.metadata.name', 'n'.repeat(MIB), INPUT_LIMITS.name));
      expect(err).to.be.instanceOf(InvalidArgumentError);
      expect(err.message).to.equal(`config.metadata.name: "${'n'.repeat(256)}…" (${MIB} bytes) is longer than 253 bytes`);
      expect(() => checkBytes('f', 'é'.repeat(126), 253)).not.to.throw();
      expect(() => checkBytes('f', 'é'.repeat(127), 253)).to.throw(InvalidArgumentError);
    });

    it('bounds label keys, values and totals, annotation totals, and arguments', () => {
      expect(thrown(() => checkLabels('config.labels', { app: 'v'.repeat(MIB) })).message).to.match(/^config\.labels\["app"\]: "v+…" \(1048576 bytes\) is longer than 1024 bytes$/);
      expect(thrown(() => checkLabels('config.labels', { ['k'.repeat(400)]: 'v' })).message).to.match(/^config\.labels key: /);
      const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'.repeat(1000)]));
      expect(thrown(() => checkLabels('config.labels', many)).message).to.equal('config.labels: keys and values longer than 65536 bytes in all');
      expect(() => checkAnnotations('config.annotations', { big: 'a'.repeat(256 * 1024) })).not.to.throw();
      expect(() => checkAnnotations('config.annotations', { big: 'a'.repeat(MIB) })).to.throw(InvalidArgumentError);
      expect(thrown(() => checkArguments({ 'config.args': ['ok', 'a'.repeat(128 * 1024 + 1)] })).message).to.match(/^config\.args\[1\]: /);
      expect(thrown(() => checkArguments({ 'config.args': new Array<string>(70000).fill('a') })).message).to.equal('config.args: 70000 entries, more than 65536');
    });

    it('checks every request: IDs, filters, image references, ExecSync cmd, the configs of RunPodSandbox and CreateContainer', () => {
      const big = 'z'.repeat(MIB);
      const field = (method: string, req: unknown) => thrown(() => checkRequestBounds(method, req)).message.split(':')[0];
      expect(field('/runtime.v1.RuntimeService/StopContainer', { container_id: big })).to.equal('container_id');
      expect(field('/runtime.v1.RuntimeService/PodSandboxStatus', { pod_sandbox_id: big })).to.equal('pod_sandbox_id');
      expect(field('/runtime.v1.RuntimeService/ListContainers', { filter: { id: big } })).to.equal('filter.id');
      expect(field('/runtime.v1.RuntimeService/ListContainers', { filter: { label_selector: { a: big } } })).to.equal('filter.label_selector["a"]');
      expect(field('/runtime.v1.ImageService/RemoveImage', { image: { image: big } })).to.equal('image.image');
      expect(field('/runtime.v1.RuntimeService/ExecSync', { container_id: 'c', cmd: ['sh', big] })).to.equal('cmd[1]');
      const pod = { metadata: { name: 'p', namespace: 'n', uid: 'u' }, hostname: '', log_directory: '', labels: {}, annotations: {}, port_mappings: [], dns_config: null, linux: null };
      expect(field('/runtime.v1.RuntimeService/RunPodSandbox', { config: { ...pod, annotations: { a: 'b'.repeat(MIB) } } })).to.equal('config.annotations["a"]');
      expect(field('/runtime.v1.RuntimeService/RunPodSandbox', { config: { ...pod, log_directory: big } })).to.equal('config.log_directory');
      const ctr = { metadata: { name: 'c' }, image: { image: 'busybox', annotations: {}, user_specified_image: '' }, command: [], args: [], working_dir: '', envs: [], mounts: [], devices: [], labels: {}, annotations: {}, log_path: '' };
      expect(field('/runtime.v1.RuntimeService/CreateContainer', { config: { ...ctr, envs: [{ key: 'K', value: big }] }, sandbox_config: pod })).to.equal('config.envs[0]');
      expect(field('/runtime.v1.RuntimeService/CreateContainer', { config: { ...ctr, mounts: [{ container_path: '/x', host_path: big }] }, sandbox_config: pod })).to.equal('config.mounts[0].host_path');
      expect(field('/runtime.v1.RuntimeService/CreateContainer', { config: ctr, sandbox_config: { ...pod, metadata: { name: big, namespace: 'n', uid: 'u' } } })).to.equal('sandbox_config.metadata.name');
      expect(() => checkRequestBounds('/runtime.v1.RuntimeService/CreateContainer', { pod_sandbox_id: 'a'.repeat(64), config: ctr, sandbox_config: pod })).not.to.throw();
    });

    it('bounds the fields the fresh-user review found unbounded: runtime_handler, host_ip, PullImage annotations, sandbox_config and auth, pod_cidr', () => {
      const big = 'z'.repeat(MIB);
      const short = (method: string, req: unknown): string => {
        const err = thrown(() => checkRequestBounds(method, req));
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect(Buffer.byteLength(err.message)).to.be.below(1024);
        return err.message.split(':')[0];
      };
      const pod = { metadata: { name: 'p', namespace: 'n', uid: 'u' }, hostname: '', log_directory: '', labels: {}, annotations: {}, port_mappings: [], dns_config: null, linux: null };
      expect(short('/runtime.v1.RuntimeService/RunPodSandbox', { config: pod, runtime_handler: big })).to.equal('runtime_handler');
      expect(short('/runtime.v1.RuntimeService/RunPodSandbox', { config: { ...pod, port_mappings: [{ container_port: 80, host_port: 80, host_ip: big }] } })).to.equal('config.port_mappings[0].host_ip');
      expect(short('/runtime.v1.ImageService/PullImage', { image: { image: 'busybox', annotations: { a: 'b'.repeat(MIB) } } })).to.equal('image.annotations["a"]');
      expect(short('/runtime.v1.ImageService/PullImage', { image: { image: 'busybox' }, sandbox_config: { ...pod, labels: { a: big } } })).to.equal('sandbox_config.labels["a"]');
      for (const f of ['username', 'password', 'auth', 'server_address', 'identity_token', 'registry_token']) {
        const err = thrown(() => checkRequestBounds('/runtime.v1.ImageService/PullImage', { image: { image: 'busybox' }, auth: { [f]: big } }));
        expect(err.message).to.equal(`auth.${f}: ${MIB} bytes, longer than ${f === 'username' ? 253 : f === 'server_address' ? 4096 : 65536} bytes`);
      }
      expect(short('/runtime.v1.RuntimeService/UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: big } } })).to.equal('runtime_config.network_config.pod_cidr');
      expect(() => checkRequestBounds('/runtime.v1.RuntimeService/UpdateRuntimeConfig', { runtime_config: { network_config: { pod_cidr: '10.88.0.0/16,fd00::/64' } } })).not.to.throw();
      expect(() => checkRequestBounds('/runtime.v1.ImageService/PullImage', { image: { image: 'busybox', annotations: { a: 'b' } }, auth: { username: 'u', password: 'p' }, sandbox_config: pod })).not.to.throw();
    });

    it('bounds the nested fields: seccomp and AppArmor localhost_ref, cpusets, security contexts, mounts, CDI devices, Update*Resources, checkpoints, PortForward', () => {
      const big = 'z'.repeat(MIB);
      const short = (method: string, req: unknown): string => {
        const err = thrown(() => checkRequestBounds(method, req));
        expect(err).to.be.instanceOf(InvalidArgumentError);
        expect(Buffer.byteLength(err.message)).to.be.below(1024);
        return err.message.split(':')[0];
      };
      const R = '/runtime.v1.RuntimeService/';
      const pod = { metadata: { name: 'p', namespace: 'n', uid: 'u' }, hostname: '', log_directory: '', labels: {}, annotations: {}, port_mappings: [], dns_config: null, linux: null };
      const podLinux = (linux: object) => ({ config: { ...pod, linux } });
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: big } } }))).to.equal('config.linux.security_context.seccomp.localhost_ref');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { apparmor: { profile_type: 'Localhost', localhost_ref: big } } }))).to.equal('config.linux.security_context.apparmor.localhost_ref');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { seccomp_profile_path: big } }))).to.equal('config.linux.security_context.seccomp_profile_path');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { selinux_options: { user: '', role: '', type: big, level: '' } } }))).to.equal('config.linux.security_context.selinux_options.type');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { supplemental_groups: new Array(70000).fill('1') } }))).to.equal('config.linux.security_context.supplemental_groups');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { namespace_options: { target_id: big } } }))).to.equal('config.linux.security_context.namespace_options.target_id');
      expect(short(`${R}RunPodSandbox`, podLinux({ security_context: { namespace_options: { userns_options: { uids: new Array(341).fill({}), gids: [] } } } }))).to.equal('config.linux.security_context.namespace_options.userns_options.uids');
      expect(short(`${R}RunPodSandbox`, podLinux({ resources: { cpuset_cpus: big } }))).to.equal('config.linux.resources.cpuset_cpus');
      expect(short(`${R}RunPodSandbox`, podLinux({ resources: { cpuset_mems: big } }))).to.equal('config.linux.resources.cpuset_mems');
      expect(short(`${R}RunPodSandbox`, podLinux({ overhead: { unified: { 'memory.high': big } } }))).to.equal('config.linux.overhead.unified["memory.high"]');
      expect(short(`${R}RunPodSandbox`, podLinux({ resources: { hugepage_limits: [{ page_size: big, limit: '1' }] } }))).to.equal('config.linux.resources.hugepage_limits[0].page_size');
      expect(short(`${R}RunPodSandbox`, { config: { ...pod, windows: { security_context: { credential_spec: big } } } })).to.equal('config.windows.security_context.credential_spec');
      const ctr = { metadata: { name: 'c' }, image: { image: 'busybox', annotations: {}, user_specified_image: '' }, command: [], args: [], working_dir: '', envs: [], mounts: [], devices: [], labels: {}, annotations: {}, log_path: '' };
      const create = (config: object) => ({ config: { ...ctr, ...config }, sandbox_config: pod });
      const sc = (security_context: object) => create({ linux: { security_context } });
      expect(short(`${R}CreateContainer`, sc({ seccomp: { profile_type: 'Localhost', localhost_ref: big } }))).to.equal('config.linux.security_context.seccomp.localhost_ref');
      expect(short(`${R}CreateContainer`, sc({ apparmor: { profile_type: 'Localhost', localhost_ref: big } }))).to.equal('config.linux.security_context.apparmor.localhost_ref');
      expect(short(`${R}CreateContainer`, sc({ apparmor_profile: big }))).to.equal('config.linux.security_context.apparmor_profile');
      expect(short(`${R}CreateContainer`, sc({ capabilities: { add_capabilities: [big], drop_capabilities: [], add_ambient_capabilities: [] } }))).to.equal('config.linux.security_context.capabilities.add_capabilities[0]');
      expect(short(`${R}CreateContainer`, sc({ masked_paths: ['/proc/kcore', big] }))).to.equal('config.linux.security_context.masked_paths[1]');
      expect(short(`${R}CreateContainer`, sc({ readonly_paths: new Array(2000).fill('/p') }))).to.equal('config.linux.security_context.readonly_paths');
      expect(short(`${R}CreateContainer`, sc({ run_as_username: big }))).to.equal('config.linux.security_context.run_as_username');
      expect(short(`${R}CreateContainer`, create({ linux: { resources: { cpuset_cpus: big } } }))).to.equal('config.linux.resources.cpuset_cpus');
      expect(short(`${R}CreateContainer`, create({ mounts: [{ container_path: '/x', host_path: '/y', mount_options: [big] }] }))).to.equal('config.mounts[0].mount_options[0]');
      expect(short(`${R}CreateContainer`, create({ mounts: [{ container_path: '/x', host_path: '', image: { image: big } }] }))).to.equal('config.mounts[0].image.image');
      expect(short(`${R}CreateContainer`, create({ mounts: [{ container_path: '/x', host_path: '/y', uidMappings: new Array(341).fill({}) }] }))).to.equal('config.mounts[0].uidMappings');
      expect(short(`${R}CreateContainer`, create({ CDI_devices: [{ name: big }] }))).to.equal('config.CDI_devices[0]');
      expect(short(`${R}UpdateContainerResources`, { container_id: 'c', linux: { cpuset_mems: big } })).to.equal('linux.cpuset_mems');
      expect(short(`${R}UpdateContainerResources`, { container_id: 'c', annotations: { a: 'b'.repeat(MIB) } })).to.equal('annotations["a"]');
      expect(short(`${R}UpdatePodSandboxResources`, { pod_sandbox_id: 'p', resources: { cpuset_cpus: big } })).to.equal('resources.cpuset_cpus');
      expect(short(`${R}UpdatePodSandboxResources`, { pod_sandbox_id: 'p', overhead: { unified: { k: big } } })).to.equal('overhead.unified["k"]');
      expect(short(`${R}CheckpointContainer`, { container_id: 'c', location: big })).to.equal('location');
      expect(short(`${R}CheckpointPod`, { pod_sandbox_id: 'p', output_path: big })).to.equal('output_path');
      expect(short(`${R}CheckpointPod`, { pod_sandbox_id: 'p', container_ids: [big] })).to.equal('container_ids[0]');
      expect(short(`${R}RestorePod`, { checkpoint_path: '/c', container_configs: [{ ...ctr, log_path: big }] })).to.equal('container_configs[0].log_path');
      expect(short(`${R}RestorePod`, { checkpoint_path: '/c', options: { o: big } })).to.equal('options["o"]');
      expect(short(`${R}PortForward`, { pod_sandbox_id: 'p', port: new Array(2000).fill(80) })).to.equal('port');
      // What the kubelet sends passes.
      expect(() =>
        checkRequestBounds(`${R}CreateContainer`, create({ linux: { resources: { cpuset_cpus: '0-3', cpuset_mems: '0', unified: { 'memory.high': '1G' }, hugepage_limits: [{ page_size: '2MB', limit: '0' }] }, security_context: { seccomp: { profile_type: 'Localhost', localhost_ref: '/var/lib/kubelet/seccomp/p.json' }, masked_paths: ['/proc/kcore'], capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['ALL'], add_ambient_capabilities: [] } } } })),
      ).not.to.throw();
    });

    it('words the hostname bound one way, in bytes, in the CRI check and the domain check', () => {
      const pod = { metadata: { name: 'p', namespace: 'n', uid: 'u' }, hostname: 'h'.repeat(MIB), log_directory: '', labels: {}, annotations: {}, port_mappings: [], dns_config: null, linux: null };
      const cri = thrown(() => checkRequestBounds('/runtime.v1.RuntimeService/RunPodSandbox', { config: pod })).message;
      expect(cri).to.equal(`config.hostname: "${'h'.repeat(256)}…" (${MIB} bytes) is longer than 64 bytes`);
      expect(hostnameProblem('h'.repeat(100))).to.equal(`hostname "${'h'.repeat(100)}" is longer than 64 bytes`);
      expect(hostnameProblem(`${'h'.repeat(31)}.${'h'.repeat(32)}`)).to.equal(null);
    });
  });
});
