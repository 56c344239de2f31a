import { expect } from 'chai';
import * as path from 'node:path';
import pino from 'pino';
import { loadCliConfig } from '../../../src/cli/config';
import type { Owner } from '../../../src/runtime-service/state-db';
import { Peapod, openPeapod } from '../../../src/runtime-service/peapod';
import { buildImage, busyboxFiles, pushImage } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, makeCliEnv, until } from './cli-harness';

describe('peapod CLI: system df, system prune, info (pods)', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let env: CliEnv;
  const ref = (name: string): string => `${registry.host}/test/${name}:v1`;

  /** The domain on the CLI's root as a fixture (`run --pod` is the containers branch's); owner cli unless told. */
  const domain = (owner: Owner = 'cli'): Peapod => {
    const config = loadCliConfig({ root: env.root, runroot: env.runroot, config: path.join(env.dir, 'peapod.conf'), configDir: path.join(env.dir, 'peapod.conf.d') });
    return openPeapod(config, pino({ level: 'silent' }), { owner });
  };
  const withDomain = async <T>(fn: (p: Peapod) => Promise<T>, owner: Owner = 'cli'): Promise<T> => {
    const p = domain(owner);
    try {
      return await fn(p);
    } finally {
      p.close();
    }
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await env.run(args);
    expect(r.code, `peapod ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const imageSize = async (name: string): Promise<number> => Number((await ok('image', 'inspect', '--format', '{{.Size}}', name)).trim());
  const df = async (): Promise<Record<string, { Total: number; Active: number; RawSize: number; RawReclaimable: number }>> =>
    Object.fromEntries((JSON.parse(await ok('system', 'df', '--format', 'json')) as { Type: string; Total: number; Active: number; RawSize: number; RawReclaimable: number }[]).map((r) => [r.Type, r]));
  const container = (podId: string, name: string, image: string, script: string, start: boolean): Promise<string> =>
    withDomain(async (p) => {
      const c = await p.createContainer(podId, { name, image: { name: image }, cmd: ['sh', '-c', script] });
      if (start) await p.containers.start(c.id);
      return c.id;
    });

  before(async () => {
    registry = await startRegistry();
    const base = { files: busyboxFiles() };
    const images = {
      base: await buildImage({ layers: [base], config: { Cmd: ['sh'] } }),
      extra: await buildImage({ layers: [base, { files: [{ type: 'file', path: 'extra.bin', content: Buffer.alloc(200_000, 7) }] }], config: { Cmd: ['sh'] } }),
      spare: await buildImage({ layers: [base, { files: [{ type: 'file', path: 'spare.txt', content: 'spare' }] }], config: { Cmd: ['sh'], Labels: { keep: 'yes' } } }),
      dangling: await buildImage({ layers: [base, { files: [{ type: 'file', path: 'd.txt', content: 'd' }] }], config: { Cmd: ['sh'] } }),
    };
    for (const [name, img] of Object.entries(images)) await pushImage(registry.url, `test/${name}`, 'v1', img);
    env = makeCliEnv();
    for (const name of Object.keys(images)) await ok('pull', '-q', ref(name));
  });
  after(async () => {
    if (env) await env.run(['pod', 'rm', '-a', '-f', '-t', '0']);
    if (env) await withDomain(async (p) => { for (const s of p.sandboxes.list()) await p.sandboxes.remove(s.id); }, 'cri').catch(() => undefined);
    env?.cleanup();
    await registry?.stop();
  });

  it("system df: images with shared layers counted once, what containers use, the CLI's containers' writable layers, Podman's table", async () => {
    const [base, extra] = [await imageSize(ref('base')), await imageSize(ref('extra'))];
    const before = await df();
    expect(before.Images).to.include({ Total: 4, Active: 0 });
    // Four images on one busybox layer: the total is far below the sum of their sizes, and none is used.
    expect(before.Images.RawSize).to.be.below(base + extra);
    expect(before.Images.RawSize).to.be.at.least(extra);
    expect(before.Images.RawReclaimable).to.equal(before.Images.RawSize);
    expect(before.Containers).to.include({ Total: 0, Active: 0, RawSize: 0 });
    expect(before['Local Volumes']).to.include({ Total: 0, RawSize: 0 });

    const pod = (await ok('pod', 'create', '--name', 'dfpod', '--network', 'none')).trim();
    const c = await container(pod, 'writer', ref('extra'), 'dd if=/dev/zero of=/data.bin bs=1000 count=300 2>/dev/null; touch /done; while :; do sleep 0.1; done', true);
    const after = await df();
    expect(after.Images).to.include({ Total: 4, Active: 1 });
    // What stays needed is exactly the image in use: its layers and config.
    expect(after.Images.RawSize - after.Images.RawReclaimable).to.equal(extra);
    await until(async () => (await df()).Containers.RawSize >= 300_000, 30_000, 'the container to write its file');
    const running = await df();
    expect(running.Containers).to.include({ Total: 1, Active: 1, RawReclaimable: 0 });
    const table = await ok('system', 'df');
    expect(table.split('\n')[0]).to.equal('TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE');
    expect(table).to.match(/\nImages +4 +1 +[\d.]+[kM]B +[\d.]+[kM]?B \(\d+%\)\nContainers +1 +1 +[\d.]+kB +0B \(0%\)\nLocal Volumes +0 +0 +0B +0B \(0%\)\n$/);
    const verbose = await ok('system', 'df', '-v');
    expect(verbose).to.match(/^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/);
    expect(verbose).to.contain(`\nContainers space usage:\n\nCONTAINER ID  IMAGE         COMMAND`);
    expect(verbose).to.match(new RegExp(`\\n${c.slice(0, 12)}  [0-9a-f]{12}  sh -c dd .* running +writer\\n`));
    expect(verbose).to.contain('\nLocal Volumes space usage:\n\nVOLUME NAME  LINKS       SIZE\n');
    expect(await ok('system', 'df', '--format', '{{.Type}}={{.Total}}')).to.equal('Images=4\nContainers=1\nLocal Volumes=0\n');
    const bad = await env.run(['system', 'df', '-v', '--format', 'json']);
    expect(bad).to.include({ code: 125, stderr: 'Error: cannot combine --format and --verbose flags\n' });
    await ok('pod', 'stop', '-t', '0', 'dfpod');
    const stopped = await df();
    expect(stopped.Containers.Active).to.equal(0);
    expect(stopped.Containers.RawReclaimable).to.equal(stopped.Containers.RawSize);
    await ok('pod', 'rm', 'dfpod');
  });

  it("info counts the CLI's pods", async () => {
    await ok('pod', 'create', '--name', 'i1', '--network', 'none');
    await ok('pod', 'create', '--name', 'i2', '--network', 'none');
    await ok('pod', 'stop', 'i2');
    expect(await ok('info', '--format', '{{.Store.PodStore.Number}} {{.Store.PodStore.Running}} {{.Store.PodStore.Stopped}}')).to.equal('2 1 1\n');
    await ok('pod', 'rm', 'i1', 'i2');
  });

  it("system prune removes stopped pods, stopped containers and dangling images (with -a every unused image), never peapod-cri's, never an image in use", async () => {
    // The CLI: a stopped pod with an exited container; a running pod with one running and one exited container.
    const stoppedPod = (await ok('pod', 'create', '--name', 'old', '--network', 'none')).trim();
    const oldCtr = await container(stoppedPod, 'o', ref('base'), 'exit 0', true);
    await ok('pod', 'stop', 'old');
    const livePod = (await ok('pod', 'create', '--name', 'live', '--network', 'none', '--label', 'keep=1')).trim();
    const liveCtr = await container(livePod, 'runs', ref('extra'), 'while :; do sleep 0.1; done', true);
    const doneCtr = await container(livePod, 'done', ref('base'), 'exit 0', true);
    // peapod-cri: a stopped pod with a container made from the spare image.
    const criPod = await withDomain(async (p) => {
      const s = await p.sandboxes.create({ metadata: { name: 'cri-pod', namespace: 'default', uid: 'u1' }, namespaceOptions: { pid: 'CONTAINER' }, cniNetwork: null });
      await p.createContainer(s.id, { name: 'cri-ctr', image: { name: ref('spare') }, cmd: ['true'] });
      await p.sandboxes.stop(s.id);
      return s.id;
    }, 'cri');
    await ok('untag', ref('dangling'));
    const danglingId = (await ok('images', '-q', '--no-trunc', '--filter', 'dangling=true')).trim().replace(/^sha256:/, '');
    expect(danglingId).to.match(/^[0-9a-f]{64}$/);

    // Asked first: "n" keeps everything.
    const no = await env.run(['system', 'prune'], { input: 'n\n' });
    expect(no.code).to.equal(0);
    expect(no.stderr).to.contain('Are you sure you want to continue? [y/N] ');
    expect((await env.run(['pod', 'exists', 'old'])).code).to.equal(0);

    const yes = await env.run(['system', 'prune'], { input: 'y\n' });
    expect(yes.code, yes.stderr).to.equal(0);
    expect(yes.stdout).to.equal(`Deleted Pods\n${stoppedPod}\nDeleted Containers\n${doneCtr}\nDeleted Images\n${danglingId}\n${yes.stdout.split('\n').slice(-2)[0]}\n`);
    expect(yes.stdout).to.match(/Total reclaimed space: [\d.]+[kM]?B\n$/);
    expect((await env.run(['pod', 'exists', 'old'])).code).to.equal(1);
    await withDomain(async (p) => {
      expect(p.containers.find(oldCtr)).to.equal(undefined);
      expect(p.containers.find(doneCtr)).to.equal(undefined);
      expect(p.containers.find(liveCtr)?.state).to.equal('running');
    });
    const names = async (): Promise<string[]> => (await ok('images', '--format', '{{.Repository}}')).trim().split('\n').sort();
    expect(await names()).to.deep.equal([`${registry.host}/test/base`, `${registry.host}/test/extra`, `${registry.host}/test/spare`]);

    // -a: every image no container uses goes; extra (the live pod's) and spare (peapod-cri's container's) stay.
    const all = await ok('system', 'prune', '-a', '-f');
    expect(all).to.match(/^Deleted Images\n[0-9a-f]{64}\nTotal reclaimed space: /);
    expect(await names()).to.deep.equal([`${registry.host}/test/extra`, `${registry.host}/test/spare`]);
    await withDomain(async (p) => {
      expect(p.sandboxes.get(criPod)?.state).to.equal('notready');
      expect(p.containers.list().map((c) => c.metadata.name)).to.deep.equal(['cri-ctr']);
    }, 'cri');
    // Filters: only what matches is pruned (the live pod is running anyway; a stopped pod with another label goes).
    await ok('pod', 'stop', '-t', '0', 'live');
    await ok('pod', 'create', '--name', 'other', '--network', 'none', '--label', 'keep=0');
    await ok('pod', 'stop', 'other');
    const filtered = await ok('system', 'prune', '-f', '--filter', 'label=keep=0');
    expect(filtered).to.match(/^Deleted Pods\n[0-9a-f]{64}\nTotal reclaimed space: /);
    expect((await env.run(['pod', 'exists', 'live'])).code).to.equal(0);
    expect((await env.run(['pod', 'exists', 'other'])).code).to.equal(1);
    const badFilter = await env.run(['system', 'prune', '-f', '--filter', 'dangling=true']);
    expect(badFilter.code).to.equal(125);
    expect(badFilter.stderr).to.match(/only label=KEY\[=VALUE\], label!=KEY\[=VALUE\] and until=TIME/);
  });
});
