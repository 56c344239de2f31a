import { expect } from 'chai';
import { CLONE_NAMESPACE_FLAGS, defaultSeccompProfile } from '../../src/runtime-service/oci/seccomp';
import type { OciSeccomp } from '../../src/runtime-service/oci/types';

/**
 * What a profile answers to `name(args…)`, evaluated as libseccomp does for
 * a default-allow filter whose rules all fail the call: the errno of the
 * first rule naming the call whose comparisons all hold, else 'allow'.
 * Only the comparisons the RuntimeDefault profile uses are known here.
 */
function answer(profile: OciSeccomp, name: string, args: number[] = []): number | 'allow' {
  for (const rule of profile.syscalls ?? []) {
    if (!rule.names.includes(name)) continue;
    const holds = (rule.args ?? []).every((c) => {
      const a = BigInt(args[c.index] ?? 0);
      if (c.op === 'SCMP_CMP_MASKED_EQ') return (a & BigInt(c.value)) === BigInt(c.valueTwo ?? 0);
      if (c.op === 'SCMP_CMP_EQ') return a === BigInt(c.value);
      throw new Error(`comparison ${c.op} not modelled`);
    });
    if (holds) return rule.errnoRet ?? 1;
  }
  return 'allow';
}

const EPERM = 1;
const ENOSYS = 38;

describe('RuntimeDefault seccomp profile (oci/seccomp.ts): the gaps found against moby\'s and containers-common\'s profiles', () => {
  const plain = defaultSeccompProfile(['CAP_CHOWN', 'CAP_KILL']);
  const admin = defaultSeccompProfile(['CAP_SYS_ADMIN']);

  it('is a deny-list: default allow, one comparison per argument in each rule (libseccomp does not AND a second)', () => {
    expect(plain.defaultAction).to.equal('SCMP_ACT_ALLOW');
    for (const rule of plain.syscalls ?? []) {
      const indexes = (rule.args ?? []).map((a) => a.index);
      expect(new Set(indexes).size, rule.names.join(',')).to.equal(indexes.length);
      expect(rule.action).to.equal('SCMP_ACT_ERRNO');
    }
    expect(answer(plain, 'read')).to.equal('allow');
  });

  it('clone: a namespace flag fails with EPERM without CAP_SYS_ADMIN, a thread or fork passes; clone3 answers ENOSYS so libc falls back to clone', () => {
    const SIGCHLD = 17;
    const THREAD = 0x3d0f00; // glibc's pthread_create flags
    expect(answer(plain, 'clone', [SIGCHLD])).to.equal('allow');
    expect(answer(plain, 'clone', [THREAD])).to.equal('allow');
    for (const flag of CLONE_NAMESPACE_FLAGS) expect(answer(plain, 'clone', [flag | SIGCHLD]), flag.toString(16)).to.equal(EPERM);
    expect(answer(plain, 'clone3')).to.equal(ENOSYS);
    expect(answer(admin, 'clone', [0x10000000 | SIGCHLD])).to.equal('allow');
    expect(answer(admin, 'clone3')).to.equal('allow');
  });

  it('personality: only moby\'s values (0, 8, 0x20000, 0x20008 and the 0xffffffff query) pass', () => {
    for (const v of [0, 8, 0x20000, 0x20008, 0xffffffff]) expect(answer(plain, 'personality', [v]), v.toString(16)).to.equal('allow');
    // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, PER_SVR4, the top bit with another, all but the lowest bit.
    for (const v of [0x40000, 0x400000, 0x100000, 0x1, 0x80040000, 0x80000000, 0xfffffffe, 0x40008]) expect(answer(plain, 'personality', [v]), v.toString(16)).to.equal(EPERM);
    expect(answer(admin, 'personality', [0x40000])).to.equal(EPERM);
  });

  it('blocks io_uring, the new mount API with mount_setattr, keyctl and pidfd_getfd; a capability unblocks what it governs', () => {
    for (const call of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'keyctl', 'add_key', 'mount_setattr', 'fsopen', 'open_tree', 'pidfd_getfd', 'process_madvise', 'unshare', 'setns', 'vhangup', 'quotactl_fd']) {
      expect(answer(plain, call), call).to.equal(EPERM);
    }
    for (const call of ['mount_setattr', 'fsopen', 'unshare', 'quotactl_fd']) expect(answer(admin, call), call).to.equal('allow');
    // io_uring and the keyring stay blocked whatever the capabilities.
    for (const call of ['io_uring_setup', 'keyctl']) expect(answer(admin, call), call).to.equal(EPERM);
    expect(answer(defaultSeccompProfile(['CAP_SYS_PTRACE']), 'pidfd_getfd')).to.equal('allow');
  });

  it('leaves clone to the capability checks where its flags are not the first argument (an architecture it does not know)', () => {
    const other = defaultSeccompProfile([], 's390x');
    expect(answer(other, 'clone', [0x10000000])).to.equal('allow');
    expect(answer(other, 'clone3')).to.equal(ENOSYS);
  });
});
