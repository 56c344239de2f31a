import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../../src/common/config';
import { openPeapod, Peapod } from '../../../src/runtime-service/peapod';
import { BuiltImage, busyboxFiles, buildImage, pushImage } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { startServer, TestServer } from '../harness/server';
import { CliEnv, CliResult, makeCliEnv, until } from './cli-harness';

describe('peapod CLI beside peapod-cri on one root: images shared, containers apart; pods; attach', function () {
  this.timeout(240_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let server: TestServer;
  const images: Record<string, BuiltImage> = {};
  const ref = (n: string): string => `${registry.host}/shared/${n}:1`;
  /** The CLI on the server's root and runroot (given before the command: after `run IMAGE` they would be the container's arguments). */
  const on = (): string[] => ['--root', server.root, '--runroot', server.runroot];
  const cli = (args: string[], input?: string): Promise<CliResult> => env.run([...on(), ...args], input === undefined ? {} : { input });

  before(async () => {
    registry = await startRegistry();
    for (const n of ['alpha', 'beta', 'gamma']) {
      // Each image has a layer of its own beside the shared busybox layer: pulls write layers at once.
      images[n] = await buildImage({ layers: [{ files: busyboxFiles() }, { files: [{ type: 'file', path: `${n}.txt`, content: `${n}\n`.repeat(5000) }] }], config: { Cmd: ['sh'] } });
      await pushImage(registry.url, `shared/${n}`, '1', images[n]);
    }
    env = makeCliEnv();
    server = await startServer({ config: `[image]\nregistries_conf = "${path.join(env.dir, 'registries.conf')}"\nregistries_conf_dir = "${path.join(env.dir, 'registries.conf.d')}"\n` });
  });
  after(async () => {
    if (server) {
      await cli(['rm', '-a', '-f', '-t', '0']).catch(() => undefined);
      const pods = await server.client.runtime.ListPodSandbox({});
      for (const p of pods.items) {
        await server.client.runtime.StopPodSandbox({ pod_sandbox_id: p.id });
        await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: p.id });
      }
      await server.cleanup();
    }
    env?.cleanup();
    await registry?.stop();
  });

  it('peapod-cri and the CLI pull, use and remove images at once without a lost or damaged image', async () => {
    const names = Object.keys(images);
    const work: Promise<unknown>[] = [];
    for (const n of names) {
      work.push(server.client.image.PullImage({ image: { image: ref(n) } }));
      work.push(cli(['pull', '-q', ref(n)]).then((r) => expect(r.code, r.stderr).to.equal(0)));
    }
    work.push(cli(['run', '--rm', '--network', 'none', ref('alpha'), 'cat', '/alpha.txt']).then((r) => expect(r.stdout).to.equal('alpha\n'.repeat(5000))));
    await Promise.all(work);
    const cliIds = (await cli(['images', '--no-trunc', '--format', '{{.ID}}'])).stdout.trim().split('\n').sort();
    const criIds = (await server.client.image.ListImages({})).images.map((i) => i.id).sort();
    expect(cliIds).to.deep.equal(names.map((n) => images[n].configDigest).sort());
    expect(criIds).to.deep.equal(cliIds);
    // Removals racing: both front ends remove gamma while alpha is in use.
    const both = await Promise.all([cli(['rmi', ref('gamma')]), server.client.image.RemoveImage({ image: { image: ref('gamma') } }).then(() => 'ok', (e: Error) => e.message)]);
    expect([0, 1]).to.include(both[0].code);
    expect((await server.client.image.ListImages({})).images.map((i) => i.id).sort()).to.deep.equal([images.alpha.configDigest, images.beta.configDigest].sort());
    for (const n of ['alpha', 'beta']) {
      const r = await cli(['run', '--rm', '--network', 'none', ref(n), 'sh', '-c', `wc -l < /${n}.txt`]);
      expect(r.stdout.trim(), r.stderr).to.equal('5000');
    }
  });

  it('ps --external shows peapod-cri\'s container; the CLI refuses to stop or remove it, and rmi (even -f) keeps its image', async () => {
    const { pod_sandbox_id } = await server.client.runtime.RunPodSandbox({
      config: { metadata: { name: 'cri-pod', namespace: 'test', uid: 'u1', attempt: 0 }, linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } } },
    });
    const { container_id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id,
      config: { metadata: { name: 'cri-ctr', attempt: 0 }, image: { image: ref('beta') }, command: ['sleep', '1000'] },
      sandbox_config: { metadata: { name: 'cri-pod', namespace: 'test', uid: 'u1', attempt: 0 } },
    });
    await server.client.runtime.StartContainer({ container_id });
    expect((await cli(['ps', '-a', '-q'])).stdout, 'the CLI\'s own list').to.equal('');
    const ext = await cli(['ps', '--external', '--format', '{{.ID}} {{.Names}} {{.Status}}']);
    expect(ext.stdout).to.match(new RegExp(`^${container_id.slice(0, 12)} cri-ctr Up .* \\(peapod-cri\\)\\n$`));
    for (const verb of [['rm', '-f'], ['stop'], ['kill']]) {
      const r = await cli([...verb, container_id.slice(0, 12)]);
      expect(r.code, verb.join(' ')).to.equal(125);
      expect(r.stderr).to.match(/is managed by peapod-cri: the CLI only lists it \(ps --external\); use crictl to change it/);
    }
    const byName = await cli(['rm', 'cri-ctr']);
    expect(byName.stderr).to.contain('managed by peapod-cri');
    for (const args of [['rmi', ref('beta')], ['rmi', '-f', ref('beta')]]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr).to.contain(container_id);
    }
    const st = await server.client.runtime.ContainerStatus({ container_id });
    expect(st.status!.state).to.equal('CONTAINER_RUNNING');
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id });
    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id });
  });

  describe('--pod and attach', () => {
    let peapod: Peapod;
    before(() => {
      const config = loadConfig({ configFile: env.globalArgs[env.globalArgs.indexOf('--config') + 1], configDir: env.globalArgs[env.globalArgs.indexOf('--config-dir') + 1], overrides: { root: server.root, runroot: server.runroot } });
      peapod = openPeapod(config, pino({ level: 'silent' }), { owner: 'cli' });
    });
    after(() => peapod?.close());

    it('run --pod joins a pod\'s namespaces (its hostname and network); --network and -p belong to the pod', async () => {
      const made = await cli(['pod', 'create', '--name', 'mypod', '--hostname', 'podhost', '--network', 'none']);
      expect(made.code, made.stderr).to.equal(0);
      const pod = peapod.sandboxes.get(made.stdout.trim())!;
      try {
        const inPod = await cli(['run', '--rm', '--pod', 'mypod', ref('alpha'), 'sh', '-c', 'hostname; readlink /proc/self/ns/net']);
        expect(inPod.code, inPod.stderr).to.equal(0);
        const [hostname, netns] = inPod.stdout.trim().split('\n');
        expect(hostname).to.equal('podhost');
        expect(netns).to.equal(`net:[${fs.statSync(pod.namespaces.network!).ino}]`);
        const refused = await cli(['run', '--rm', '--pod', 'mypod', '--network', 'none', ref('alpha'), 'true']);
        expect(refused.code).to.equal(125);
        expect(refused.stderr).to.contain('belong to the pod');
        const id = (await cli(['create', '--pod', pod.id.slice(0, 12), '--name', 'podded', ref('alpha'), 'true'])).stdout.trim();
        expect((await cli(['ps', '-a', '--pod', '--format', '{{.Names}} {{.PodName}} {{.Pod}}'])).stdout).to.equal(`podded mypod ${pod.id.slice(0, 12)}\n`);
        expect((await cli(['rm', id])).code).to.equal(0);
        expect(peapod.sandboxes.get(pod.id), 'the pod stays when its container goes').to.not.equal(undefined);
        const none = await cli(['run', '--rm', '--pod', 'nosuchpod', ref('alpha'), 'true']);
        expect(none.stderr).to.equal('Error: no pod with name or ID nosuchpod found: no such pod\n');
      } finally {
        await cli(['pod', 'rm', '-f', '-t', '0', pod.id]);
      }
    });

    it('attach joins a running container\'s output and ends with its exit code', async () => {
      const id = (await cli(['run', '-d', '--network', 'none', ref('alpha'), 'sh', '-c', 'while [ ! -e /go ]; do echo tick; sleep 0.05; done; echo after-attach; exit 5'])).stdout.trim();
      const a = env.start([...on(), 'attach', id]);
      let seen = '';
      a.child.stdout!.on('data', (d: Buffer) => (seen += d.toString()));
      // Once output arrives the attach follows the log: then let the container finish.
      await until(() => seen.includes('tick\n'), 20_000, 'the attach to follow the output');
      expect((await cli(['exec', id, 'touch', '/go'])).code).to.equal(0);
      const r = await a.done;
      expect(r.code, r.stderr).to.equal(5);
      expect(r.stdout).to.match(/^(tick\n)+after-attach\n$/);
      expect((await cli(['rm', id])).code).to.equal(0);
    });
  });
});
