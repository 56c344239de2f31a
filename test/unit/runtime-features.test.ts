import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runtimeHandlers, RUNTIME_FEATURES } from '../../src/runtime-service/cri/status';
import { handlerFeatures, kernelSupportsRecursiveReadOnly, parseRuntimeFeatures, RuntimeFeaturesCache } from '../../src/runtime-service/oci/runtime-features';

/** runc 1.1.5's `features`, shortened to the fields read. */
const RUNC_115 = JSON.stringify({ ociVersionMin: '1.0.0', mountOptions: ['bind', 'ro', 'rro', 'rw'], linux: { namespaces: ['mount', 'user'] } });
/** runc 1.2's adds idmapped mounts. */
const RUNC_12 = JSON.stringify({ mountOptions: ['ro'], linux: { namespaces: ['user'], mountExtensions: { idmap: { enabled: true } } } });

describe('runtime handler features (src/runtime-service/oci/runtime-features.ts, Status)', () => {
  it('parses a runtime features document', () => {
    expect(parseRuntimeFeatures(RUNC_115)).to.deep.equal({ mountOptions: ['bind', 'ro', 'rro', 'rw'], namespaces: ['mount', 'user'], idmapMounts: false });
    expect(parseRuntimeFeatures(RUNC_12).idmapMounts).to.equal(true);
    expect(parseRuntimeFeatures('{}')).to.deep.equal({ mountOptions: [], namespaces: [], idmapMounts: false });
    expect(() => parseRuntimeFeatures('runc: unknown command')).to.throw(SyntaxError);
  });

  it('needs Linux 5.12 (mount_setattr) for recursive read-only mounts', () => {
    expect(kernelSupportsRecursiveReadOnly('5.11.22')).to.equal(false);
    expect(kernelSupportsRecursiveReadOnly('5.12.0-1-amd64')).to.equal(true);
    expect(kernelSupportsRecursiveReadOnly('6.1.0-18-amd64')).to.equal(true);
    expect(kernelSupportsRecursiveReadOnly('4.19.0')).to.equal(false);
    expect(kernelSupportsRecursiveReadOnly('weird')).to.equal(false);
  });

  it('claims rro only with the runtime option and the kernel, and never user namespaces', () => {
    const f = parseRuntimeFeatures(RUNC_115);
    expect(handlerFeatures(f, true)).to.deep.equal({ recursiveReadOnlyMounts: true, userNamespaces: false });
    expect(handlerFeatures(f, false).recursiveReadOnlyMounts).to.equal(false);
    expect(handlerFeatures(parseRuntimeFeatures(RUNC_12), true)).to.deep.equal({ recursiveReadOnlyMounts: false, userNamespaces: false });
    expect(handlerFeatures(null, true)).to.deep.equal({ recursiveReadOnlyMounts: false, userNamespaces: false });
  });

  it('lists every handler and the default again as "", running each runtime\'s features once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-features-'));
    try {
      const count = path.join(dir, 'count');
      const good = path.join(dir, 'good-runtime');
      fs.writeFileSync(good, `#!/bin/sh\necho x >> ${count}\ncat <<'J'\n${RUNC_115}\nJ\n`, { mode: 0o755 });
      const bad = path.join(dir, 'old-runtime');
      fs.writeFileSync(bad, '#!/bin/sh\necho "unknown command features" >&2\nexit 1\n', { mode: 0o755 });
      const cache = new RuntimeFeaturesCache();
      const runtimes = { runc: { runtime_path: good }, old: { runtime_path: bad } };
      const first = await runtimeHandlers(runtimes, 'runc', cache, true);
      expect(first.handlers).to.deep.equal([
        { name: 'runc', features: { recursive_read_only_mounts: true, user_namespaces: false } },
        { name: '', features: { recursive_read_only_mounts: true, user_namespaces: false } },
        { name: 'old', features: { recursive_read_only_mounts: false, user_namespaces: false } },
      ]);
      expect(first.problems.old).to.contain('unknown command features');
      await runtimeHandlers(runtimes, 'runc', cache, true);
      expect(fs.readFileSync(count, 'utf8').trim().split('\n')).to.have.length(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports no node-wide feature peapod does not implement', () => {
    expect(RUNTIME_FEATURES).to.deep.equal({ supplemental_groups_policy: false, user_namespaces_host_network: false, mount_options: false });
  });
});
