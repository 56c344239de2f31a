import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { addNetwork, cacheAttachment, delNetwork, podCniArgs, readAttachment, runAdd, versionAtLeast } from '../../src/runtime-service/cni/attachment';
import { CniPluginError, execPlugin } from '../../src/runtime-service/cni/plugin-exec';
import { podIpsOfResult } from '../../src/runtime-service/cni/result';
import { parseQuantity, runtimeConfigFor } from '../../src/runtime-service/cni/runtime-config';

/**
 * A fake CNI plugin (shell script) that appends its stdin and environment to
 * a log and answers ADD with a result naming itself in `dns.domain`.
 */
function fakePlugin(dir: string, name: string, log: string, fail?: string): void {
  const body = fail
    ? `cat >/dev/null; echo '${fail}'; exit 1`
    : `conf=$(cat); printf '%s\\n' "$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_ARGS" >> ${log}; printf '%s\\n' "$conf" >> ${log}
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/x"}],"ips":[{"address":"198.18.9.9/24","interface":0}],"dns":{"domain":"${name}"}}'; fi`;
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

describe('CNI client', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-cni-unit-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('chains ADD through a conflist with prevResult and runtimeConfig, caches it, and DELs in reverse', async () => {
    const log = path.join(dir, 'log');
    fakePlugin(dir, 'one', log);
    fakePlugin(dir, 'two', log);
    const cache = path.join(dir, 'cache.json');
    const list = { cniVersion: '1.0.0', name: 'net1', file: 'x', plugins: [{ type: 'one', capabilities: { portMappings: true } }, { type: 'two' }] };
    const pm = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }];
    const result = await addNetwork(cache, list, { containerId: 'c1', netns: '/run/x/netns', args: podCniArgs({ namespace: 'ns', name: 'p', uid: 'u' }, 'c1'), runtimeConfig: { portMappings: pm }, binDirs: ['/nonexistent', dir] });
    expect((result as { dns: { domain: string } }).dns.domain).to.equal('two');
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines[0]).to.equal('ADD c1 /run/x/netns eth0 IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u');
    const conf1 = JSON.parse(lines[1]);
    expect(conf1).to.deep.include({ name: 'net1', cniVersion: '1.0.0', type: 'one', runtimeConfig: { portMappings: pm } });
    expect(conf1).to.not.have.property('prevResult');
    const conf2 = JSON.parse(lines[3]);
    expect(conf2.prevResult.dns.domain).to.equal('one');
    expect(conf2).to.not.have.property('runtimeConfig');
    expect(readAttachment(cache)!.result).to.deep.equal(result);

    fs.writeFileSync(log, '');
    await delNetwork(cache, [dir], false);
    const del = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(del[0]).to.match(/^DEL c1  eth0 /);
    expect(JSON.parse(del[1]).type).to.equal('two');
    expect(JSON.parse(del[3]).type).to.equal('one');
    expect(JSON.parse(del[3]).prevResult.dns.domain).to.equal('two');
    expect(fs.existsSync(cache)).to.equal(false);
    await delNetwork(cache, [dir], false); // idempotent
  });

  it('caches the attachment ahead of ADD (cacheAttachment): its plugins run once the cache is on disk, and the result is cached after', async () => {
    const seen = path.join(dir, 'seen');
    const cache = path.join(dir, 'cache.json');
    // A plugin that copies the cache as it finds it, then answers ADD.
    fs.writeFileSync(path.join(dir, 'peek'), `#!/bin/sh\ncat >/dev/null; cat ${cache} > ${seen}\necho '{"cniVersion":"1.0.0","ips":[{"address":"198.18.9.8/24"}]}'\n`, { mode: 0o755 });
    const list = { cniVersion: '1.0.0', name: 'net1', file: 'x', plugins: [{ type: 'peek' }] };
    const params = { containerId: 'c2', netns: '/run/x/netns', args: '', runtimeConfig: {}, binDirs: [dir] };
    const cached = cacheAttachment(cache, list, params);
    const { result, resultCached } = await runAdd(cached);
    const before = JSON.parse(fs.readFileSync(seen, 'utf8')) as Record<string, unknown>;
    expect(before).to.deep.include({ containerId: 'c2', netns: '/run/x/netns', ifName: 'eth0' });
    expect(before).to.not.have.property('result');
    await resultCached;
    expect(readAttachment(cache)!.result).to.deep.equal(result);
    expect(podIpsOfResult(result)).to.deep.equal(['198.18.9.8']);

    // A cache that cannot be written: no plugin runs.
    fs.rmSync(seen);
    const failed = cacheAttachment(path.join(dir, 'missing-dir', 'cache.json'), list, params);
    await runAdd(failed).then(
      () => expect.fail('runAdd succeeded without its cache'),
      (err: NodeJS.ErrnoException) => expect(err.code).to.equal('ENOENT'),
    );
    expect(fs.existsSync(seen)).to.equal(false);
  });

  it('surfaces the plugin error object with its code, msg and details', async () => {
    fakePlugin(dir, 'bad', '/dev/null', '{"cniVersion":"1.0.0","code":7,"msg":"invalid network config","details":"no subnet"}');
    const err = await execPlugin('bad', {}, { command: 'ADD', containerId: 'c', netns: '/x', ifName: 'eth0', args: '', binDirs: [dir] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CniPluginError);
    expect(err).to.include({ cniCode: 7, code: 'WRONG_STATE', msg: 'invalid network config', details: 'no subnet', plugin: 'bad' });
    expect((err as Error).message).to.contain('CNI error code 7');
  });

  it('reports a plugin missing from every bin dir', async () => {
    const err = await execPlugin('nope', {}, { command: 'ADD', containerId: 'c', netns: '/x', ifName: 'eth0', args: '', binDirs: [dir] }).catch((e: unknown) => e);
    expect((err as CniPluginError).msg).to.contain('failed to find plugin "nope"');
  });

  it('picks pod IPs from results of every version, IPv4 first', () => {
    expect(
      podIpsOfResult({
        interfaces: [{ name: 'br0' }, { name: 'eth0', sandbox: '/n' }],
        ips: [
          { address: 'fd00::5/64', interface: 1 },
          { address: '198.18.0.1/24', interface: 0 },
          { address: '198.18.0.5/24', interface: 1 },
        ],
      }),
    ).to.deep.equal(['198.18.0.5', 'fd00::5']);
    expect(podIpsOfResult({ ip4: { ip: '10.1.0.2/16' } })).to.deep.equal(['10.1.0.2']);
    expect(podIpsOfResult(undefined)).to.deep.equal([]);
  });

  it('passes only declared capabilities and parses quantities', () => {
    expect(runtimeConfigFor({ capabilities: { bandwidth: true, dns: false } }, { bandwidth: { ingressRate: 1 }, dns: { servers: [], searches: [], options: [] } })).to.deep.equal({ bandwidth: { ingressRate: 1 } });
    expect(runtimeConfigFor({}, { bandwidth: { ingressRate: 1 } })).to.equal(undefined);
    expect(parseQuantity('10M')).to.equal(10_000_000);
    expect(parseQuantity('1Gi')).to.equal(2 ** 30);
    expect(parseQuantity('1.5k')).to.equal(1500);
    expect(parseQuantity('10X')).to.equal(undefined);
    expect(versionAtLeast('1.0.0', [0, 4, 0])).to.equal(true);
    expect(versionAtLeast('0.3.1', [0, 4, 0])).to.equal(false);
    expect(versionAtLeast('0.4.0', [0, 4, 0])).to.equal(true);
  });
});
