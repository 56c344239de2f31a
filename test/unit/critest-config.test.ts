import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { benchmarkParamsYaml } from '../../scripts/critest/benchmark-params';
import { critestArgs } from '../../scripts/critest/critest-args';
import { parseLdd } from '../../scripts/critest/busybox';
import { mountsUnder } from '../../scripts/critest/cleanup';
import { BENCHMARK_IMAGES, goArch, hostnetNginxRef } from '../../scripts/critest/images';
import { formatOfflineList, matchOffline, offlineSkipRegex, OFFLINE_SPECS } from '../../scripts/critest/offline-specs';
import { localRepoFor, registriesDropIn, UPSTREAM_REGISTRIES } from '../../scripts/critest/registries';
import { cniConflist, peapodConfigToml, randomSubnet, schemaHasKey, subnetsInUse } from '../../scripts/critest/runtime-config';
import { TableSpec } from '../../src/common/config-schema';

describe('critest runner: registries drop-in', () => {
  it('maps each upstream registry to <local>/<registry>, insecure', () => {
    const text = registriesDropIn('127.0.0.1:5000');
    const parsed = parseToml(text) as { registry: { prefix: string; location: string; insecure: boolean }[] };
    expect(parsed.registry).to.deep.equal([
      { prefix: 'registry.k8s.io', location: '127.0.0.1:5000/registry.k8s.io', insecure: true },
      { prefix: 'gcr.io', location: '127.0.0.1:5000/gcr.io', insecure: true },
      { prefix: 'public.ecr.aws', location: '127.0.0.1:5000/public.ecr.aws', insecure: true },
    ]);
    expect(text).to.include('[[registry]]\nprefix = "gcr.io"\nlocation = "127.0.0.1:5000/gcr.io"\ninsecure = true\n');
  });

  it('pushes a reference under <registry>/<path>:<tag>', () => {
    expect(localRepoFor('registry.k8s.io/e2e-test-images/busybox:1.29-2')).to.deep.equal({ repo: 'registry.k8s.io/e2e-test-images/busybox', tag: '1.29-2' });
    expect(localRepoFor('gcr.io/k8s-staging-cri-tools/test-image-latest')).to.deep.equal({ repo: 'gcr.io/k8s-staging-cri-tools/test-image-latest', tag: 'latest' });
    expect(() => localRepoFor('gcr.io/x/y@sha256:' + '0'.repeat(64))).to.throw(/digest/);
    expect(() => localRepoFor('docker.io/library/busybox:1')).to.throw(/not one of/);
    expect(UPSTREAM_REGISTRIES).to.include('public.ecr.aws');
  });
});

describe('critest runner: offline list', () => {
  it('lists the digest-pinned spec with its reason, in one skip regex', () => {
    expect(OFFLINE_SPECS.map((s) => s.pattern)).to.deep.equal(['public image with digest should be pulled and removed']);
    const re = new RegExp(offlineSkipRegex()!);
    expect(re.test('[k8s.io] Image Manager public image with digest should be pulled and removed [Conformance]')).to.equal(true);
    expect(re.test('[k8s.io] Image Manager public image with tag should be pulled and removed [Conformance]')).to.equal(false);
    expect(matchOffline('[k8s.io] Image Manager public image with digest should be pulled and removed')?.reason).to.match(/cannot be forged/);
    expect(offlineSkipRegex([])).to.equal(undefined);
  });

  it('formats the list, one line per pattern with its reason', () => {
    const text = formatOfflineList([
      { pattern: 'a', reason: 'ra' },
      { pattern: 'b', reason: 'rb' },
    ]);
    expect(text).to.equal('offline: 2 spec pattern(s) skipped (they need the internet):\n  - a: ra\n  - b: rb\n');
    expect(formatOfflineList([])).to.equal('offline: no spec is skipped\n');
  });
});

const SCHEMA: TableSpec = {
  kind: 'table',
  doc: '',
  fields: {
    root: { kind: 'key', type: 'string', default: '/r', doc: '' },
    network: { kind: 'table', doc: '', fields: { cni_conf_dir: { kind: 'key', type: 'string', default: '/etc/cni/net.d', doc: '' } } },
  },
};

describe('critest runner: peapod config', () => {
  it('writes only the keys the schema has and reports the others', () => {
    const { toml, missing } = peapodConfigToml(SCHEMA, { 'network.cni_conf_dir': '/tmp/cni', 'image.registries_conf': '/tmp/r.conf', root: '/x' }, '[runtime.runtimes.runc]\nruntime_root = "/tmp/runc"');
    expect(missing).to.deep.equal(['image.registries_conf']);
    expect(parseToml(toml)).to.deep.equal({ root: '/x', network: { cni_conf_dir: '/tmp/cni' }, runtime: { runtimes: { runc: { runtime_root: '/tmp/runc' } } } });
    expect(schemaHasKey(SCHEMA, 'network')).to.equal(false);
    expect(schemaHasKey(SCHEMA, 'network.cni_conf_dir')).to.equal(true);
  });

  it('builds a bridge + host-local + portmap network inside 198.18.0.0/15 with hairpinMode alone', () => {
    const conf = JSON.parse(cniConflist({ name: 'n1', bridge: 'ppct123456', subnet: '198.19.7.0/24', ipamDataDir: '/tmp/ipam' }));
    expect(conf.name).to.equal('n1');
    expect(conf.plugins.map((p: { type: string }) => p.type)).to.deep.equal(['bridge', 'portmap']);
    expect(conf.plugins[0]).to.include({ bridge: 'ppct123456', hairpinMode: true, isGateway: true });
    expect(conf.plugins[0]).to.not.have.property('promiscMode');
    expect(conf.plugins[0].ipam).to.deep.equal({ type: 'host-local', ranges: [[{ subnet: '198.19.7.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/tmp/ipam' });
    expect(conf.plugins[1].capabilities).to.deep.equal({ portMappings: true });
    expect(() => cniConflist({ name: 'n', bridge: 'b', subnet: '10.0.0.0/24', ipamDataDir: '/x' })).to.throw(/198\.18\.0\.0\/15/);
    expect(() => cniConflist({ name: 'n', bridge: 'a-very-long-bridge', subnet: '198.18.1.0/24', ipamDataDir: '/x' })).to.throw(/15 characters/);
  });

  it('picks random /24 subnets inside 198.18.0.0/15, never 198.18.0.0/24', () => {
    expect(randomSubnet(() => 0)).to.equal('198.18.1.0/24');
    expect(randomSubnet(() => 0.999999)).to.equal('198.19.255.0/24');
    for (let i = 0; i < 200; i++) expect(randomSubnet()).to.match(/^198\.(18\.([1-9]|[1-9]\d|1\d\d|2[0-4]\d|25[0-5])|19\.\d{1,3})\.0\/24$/);
  });

  it('skips /24s that host interfaces use', () => {
    const used = subnetsInUse('1: lo    inet 127.0.0.1/8 scope host lo\n5: br-a    inet 198.18.1.1/24 brd 198.18.1.255 scope global br-a\n6: br-b    inet 198.19.3.1/24 scope global br-b\n');
    expect([...used]).to.deep.equal(['198.18.1.0/24', '198.19.3.0/24']);
    const seq = [0, 0, 0.5];
    expect(randomSubnet(() => seq.shift()!, used)).to.equal('198.19.0.0/24');
  });
});

describe('critest runner: helpers', () => {
  it('parses ldd output into loader paths', () => {
    const ldd = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibresolv.so.2 => /lib/x86_64-linux-gnu/libresolv.so.2 (0x00007f9b)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f9b)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f9b)\n';
    expect(parseLdd(ldd)).to.deep.equal(['/lib/x86_64-linux-gnu/libresolv.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    expect(parseLdd('\tnot a dynamic executable\n')).to.deep.equal([]);
  });

  it('finds mounts below a directory, deepest first, decoding octal escapes', () => {
    const mi = [
      '22 1 0:21 / / rw - ext4 /dev/sda rw',
      '30 22 0:30 / /tmp/w/root/overlay/abc/merged rw - overlay overlay rw',
      '31 30 0:31 / /tmp/w/root/overlay/abc/merged/proc rw - proc proc rw',
      '32 22 0:32 / /tmp/w\\040x rw - tmpfs tmpfs rw',
      '33 22 0:33 / /tmp/wx rw - tmpfs tmpfs rw',
    ].join('\n');
    expect(mountsUnder('/tmp/w', mi)).to.deep.equal(['/tmp/w/root/overlay/abc/merged/proc', '/tmp/w/root/overlay/abc/merged']);
    expect(mountsUnder('/tmp/w x', mi)).to.deep.equal(['/tmp/w x']);
  });

  it('names hostnet-nginx after Go\'s GOARCH', () => {
    expect(goArch('x64')).to.equal('amd64');
    expect(goArch('arm64')).to.equal('arm64');
    expect(hostnetNginxRef('amd64')).to.equal('gcr.io/k8s-staging-cri-tools/hostnet-nginx-amd64:latest');
  });

  it('writes small benchmark parameters naming the busybox stand-ins', () => {
    const yaml = benchmarkParamsYaml();
    expect(yaml).to.include('containersNumber: 5\n');
    expect(yaml).to.include('imagesNumber: 5\n');
    expect(yaml).to.include(`imagePullingBenchmarkImage: "${BENCHMARK_IMAGES[0]}"`);
    for (const img of BENCHMARK_IMAGES) expect(yaml).to.include(`  - "${img}"\n`);
  });
});

describe('critest runner: without critest', () => {
  it('stops with exit 2 and says where critest v1.26.1 is published', () => {
    const main = path.resolve(__dirname, '..', '..', 'scripts', 'critest', 'main.js');
    const r = spawnSync(process.execPath, [main], { encoding: 'utf8', env: { ...process.env, CRITEST: '/nonexistent/critest' }, timeout: 20_000 });
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('critest not found');
    expect(r.stderr).to.include('https://github.com/kubernetes-sigs/cri-tools/releases');
    expect(r.stderr).to.include('v1.26.1');
  });
});

describe('critest runner: critest command line', () => {
  it('passes both endpoints, the images file, a JSON report, focus, skip and benchmark flags', () => {
    expect(critestArgs({ socket: '/tmp/s.sock', testImagesFile: '/r/critest.yaml', jsonReport: '/o/r.json', logDir: '/o', focus: ['A', 'B'], skip: ['C'] })).to.deep.equal([
      '--runtime-endpoint=unix:///tmp/s.sock',
      '--image-endpoint=unix:///tmp/s.sock',
      '--test-images-file=/r/critest.yaml',
      '--ginkgo.json-report=/o/r.json',
      '--ginkgo.no-color',
      '--log_dir=/o',
      '--ginkgo.focus=A',
      '--ginkgo.focus=B',
      '--ginkgo.skip=C',
    ]);
    expect(critestArgs({ socket: '/s', testImagesFile: '/i', jsonReport: '/j', logDir: '/l', benchmark: { paramsFile: '/p.yaml', outputDir: '/b' } }).slice(6)).to.deep.equal([
      '--benchmark',
      '--benchmarking-params-file=/p.yaml',
      '--benchmarking-output-dir=/b',
    ]);
  });
});
