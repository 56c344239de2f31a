import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CliError } from '../../src/cli/errors';
import { CLI_MASKED_PATHS, cliSecurity, mergeCapabilities, parseSecurityOpts, PODMAN_DEFAULT_CAPABILITIES, privilegedDevices } from '../../src/cli/containers/security-flags';
import { containerCapabilities, DEFAULT_CAPABILITIES } from '../../src/runtime-service/oci/spec';

const HOST = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_ADMIN', 'CAP_SYS_CHROOT'];
const host = (): readonly string[] => HOST;

/** The message of the CliError `fn` throws (and that it is one, exit 125). */
function cliError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(CliError);
    expect((err as CliError).exitCode).to.equal(125);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('CLI security flags (security-flags.ts): Podman\'s defaults and flags as the domain\'s ContainerSecurity', () => {
  it('defaults: RuntimeDefault seccomp, Podman\'s 11 capabilities as containerCapabilities builds them, the masked paths of both, nothing else', () => {
    const s = cliSecurity({}, host);
    expect(s.seccomp).to.deep.equal({ type: 'runtime-default' });
    expect(s.privileged).to.equal(false);
    expect(s.noNewPrivileges).to.equal(false);
    expect(s.readonlyRootfs).to.equal(false);
    expect(containerCapabilities(s.capabilities!.add!, s.capabilities!.drop!, false, HOST)).to.deep.equal([...PODMAN_DEFAULT_CAPABILITIES].sort());
    expect(PODMAN_DEFAULT_CAPABILITIES).to.have.length(11);
    // containerd's set less the three Podman leaves out.
    expect(DEFAULT_CAPABILITIES.filter((c) => !PODMAN_DEFAULT_CAPABILITIES.includes(c)).sort()).to.deep.equal(['CAP_AUDIT_WRITE', 'CAP_MKNOD', 'CAP_NET_RAW']);
    expect(s.maskedPaths).to.include.members(['/proc/kcore', '/sys/firmware', '/sys/dev/block', '/sys/fs/selinux']);
    expect(new Set(CLI_MASKED_PATHS).size).to.equal(CLI_MASKED_PATHS.length);
  });

  it('--cap-add/--cap-drop with Podman\'s rules: names in any case with or without CAP_, ALL on either side, conflicts refused', () => {
    expect(mergeCapabilities(['net_admin'], ['KILL', 'cap_chown'], host)).to.deep.equal([...PODMAN_DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN'].filter((c) => c !== 'CAP_KILL' && c !== 'CAP_CHOWN').sort());
    expect(mergeCapabilities(['CHOWN'], ['all'], host)).to.deep.equal(['CAP_CHOWN']);
    expect(mergeCapabilities([], ['ALL'], host)).to.deep.equal([]);
    expect(mergeCapabilities(['ALL'], ['SYS_ADMIN'], host)).to.deep.equal(HOST.filter((c) => c !== 'CAP_SYS_ADMIN'));
    expect(cliError(() => mergeCapabilities(['ALL'], ['ALL'], host))).to.match(/^--cap-add ALL and --cap-drop ALL/);
    expect(cliError(() => mergeCapabilities(['NET_RAW'], ['CAP_NET_RAW'], host))).to.match(/^--cap-add CAP_NET_RAW and --cap-drop CAP_NET_RAW/);
    expect(cliError(() => mergeCapabilities(['FLY'], [], host))).to.match(/^--cap-add "FLY": unknown capability/);
    expect(cliError(() => mergeCapabilities([], ['CAP_'], host))).to.match(/^--cap-drop "CAP_": unknown capability/);
    expect(cliError(() => mergeCapabilities(new Array(200).fill('CHOWN'), [], host))).to.match(/more than 128/);
  });

  it('--security-opt: seccomp=unconfined|FILE (checked now, relative to the working directory), no-new-privileges[=BOOL], apparmor, label; anything else refused naming the flag', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-secopt-'));
    try {
      fs.writeFileSync(path.join(dir, 'p.json'), '{"defaultAction":"SCMP_ACT_ALLOW"}');
      fs.writeFileSync(path.join(dir, 'bad.json'), '[1]');
      fs.writeFileSync(path.join(dir, 'big.json'), Buffer.alloc(1024 * 1024 + 1, 32));
      expect(parseSecurityOpts(['seccomp=unconfined'])).to.deep.equal({ seccomp: { type: 'unconfined' } });
      expect(parseSecurityOpts(['seccomp=p.json'], dir)).to.deep.equal({ seccomp: { type: 'localhost', profilePath: path.join(dir, 'p.json') } });
      expect(parseSecurityOpts(['no-new-privileges'])).to.deep.equal({ noNewPrivileges: true });
      expect(parseSecurityOpts(['no-new-privileges=false', 'label=disable', 'apparmor=unconfined'])).to.deep.equal({ noNewPrivileges: false });
      expect(parseSecurityOpts(['apparmor:my-profile'])).to.deep.equal({ apparmorProfile: 'my-profile' });
      expect(cliError(() => parseSecurityOpts(['seccomp=bad.json'], dir))).to.match(/^--security-opt "seccomp=bad.json": not an OCI seccomp profile/);
      expect(cliError(() => parseSecurityOpts(['seccomp=big.json'], dir))).to.match(/larger than 1048576 bytes/);
      expect(cliError(() => parseSecurityOpts(['seccomp=none.json'], dir))).to.match(/cannot read the seccomp profile: ENOENT/);
      expect(cliError(() => parseSecurityOpts(['seccomp='], dir))).to.match(/invalid option/);
      expect(cliError(() => parseSecurityOpts(['no-new-privileges=yes']))).to.match(/no-new-privileges takes true or false/);
      expect(cliError(() => parseSecurityOpts(['mask=/proc/x']))).to.match(/^--security-opt "mask=\/proc\/x": invalid option/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--privileged and --read-only reach the spec\'s knobs; --privileged\'s devices are /dev\'s nodes less console, ptmx, pts, shm (and tty* rootless)', () => {
    const s = cliSecurity({ privileged: true, readOnly: true, securityOpt: ['no-new-privileges'] }, host);
    expect([s.privileged, s.readonlyRootfs, s.noNewPrivileges]).to.deep.equal([true, true, true]);
    const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-dev-'));
    try {
      // Real nodes (mknod needs root, as every test of this suite runs).
      const node = (rel: string, type: 'c' | 'b' = 'c'): void => {
        fs.mkdirSync(path.dirname(path.join(dev, rel)), { recursive: true });
        execFileSync('mknod', [path.join(dev, rel), type, '1', '3']);
      };
      for (const n of ['null', 'console', 'ptmx', 'tty', 'tty1', 'pts/0', 'shm/x', 'net/tun', 'cpu/0/msr']) node(n);
      node('loop0', 'b');
      fs.writeFileSync(path.join(dev, 'plain-file'), '');
      expect(privilegedDevices(false, dev).map((d) => d.containerPath)).to.deep.equal(['/dev/cpu/0/msr', '/dev/loop0', '/dev/net/tun', '/dev/null', '/dev/tty', '/dev/tty1']);
      expect(privilegedDevices(true, dev).map((d) => d.containerPath)).to.deep.equal(['/dev/cpu/0/msr', '/dev/loop0', '/dev/net/tun', '/dev/null']);
    } finally {
      fs.rmSync(dev, { recursive: true, force: true });
    }
  });
});
