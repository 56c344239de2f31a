import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import type { Logger } from '../../src/common/logger';
import { PeapodError } from '../../src/common/errors';
import { readArchiveMetadata } from '../../src/runtime-service/checkpoint/archive';
import { criuCheckReason } from '../../src/runtime-service/checkpoint/criu';
import { Checkpoints } from '../../src/runtime-service/checkpoint/service';
import { ContainerEngine, EngineImage } from '../../src/runtime-service/container/engine';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { CliEnv, makeCliEnv } from './cli/cli-harness';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { tempDir, TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig } from './helpers/container-config';
import { rpcError, until, waitFor } from './helpers/wait';

/** What `criu check` says on this machine: null when CRIU can run. Debian 12's 3.17.1 fails on these kernels. */
function criuProblem(): string | null {
  const r = spawnSync('criu', ['check'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) return `criu is not installed (Debian package criu)`;
  return r.status === 0 ? null : criuCheckReason(`${r.stderr}\n${r.stdout}`);
}

interface TarItem {
  name: string;
  type: string;
  data: Buffer;
}

async function readTar(input: NodeJS.ReadableStream): Promise<TarItem[]> {
  const items: TarItem[] = [];
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        items.push({ name: h.name, type: h.type ?? 'file', data: Buffer.concat(chunks) });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    input.pipe(extract);
  });
  return items;
}

/** PIDs of the processes whose command line names `dir`. */
function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) out.push(Number(pid));
    } catch {
      /* gone */
    }
  }
  return out;
}

const silentLog = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as unknown as Logger;

describe('checkpoint/restore with CRIU (real runc, conmon; CRI, CLI)', function () {
  this.timeout(180_000);
  const problem = criuProblem();
  before(() => {
    // Recorded with the results: why CRIU cannot run here (or that it can).
    console.log(`      criu check: ${problem ?? 'passes'}`);
  });

  describe('the archive of a running container from its upper dir (domain, no CRIU images)', () => {
    let dir: string;
    let pod: TestPod;
    let image: EngineImage;
    let engine: ContainerEngine;
    let checkpoints: Checkpoints;
    let lower: string;

    let fixture: BusyboxEngine | undefined;

    before(async () => {
      fixture = await openBusyboxEngine('peapod-ckpt-engine-', { logDirectory: 'logs' });
      ({ dir, pod, image, engine } = fixture);
      const opts = fixture.opts;
      lower = path.join(image.layers.linkDir, image.layers.lowers[0]);
      checkpoints = new Checkpoints({ containers: engine, sandboxes: { get: () => undefined }, root: opts.root, defaultRuntime: 'runc', log: silentLog, lowerDirs: () => [lower] });
    });

    after(() => closeBusyboxEngine(fixture));

    it('carries config.dump, spec.dump with CRI-O annotations, rootfs-diff.tar and deleted.files; a checkpoint answers FAILED_PRECONDITION where CRIU fails', async () => {
      const script = 'echo new > /tmp/new.txt; rm /etc/group; rm -rf /home; mkdir /home; echo b > /home/b; ln -s /tmp/new.txt /tmp/link; touch /tmp/done; exec sleep 1000';
      const config = containerConfig('ckpt', { command: ['/bin/sh', '-c', script], labels: { app: 'ckpt' } });
      const rec = await engine.create(pod.sandbox, containerSpecOf(config, pod.sandbox).spec, image);
      await engine.start(rec.id);
      await waitFor(() => fs.existsSync(path.join(rec.upperDir, 'tmp/done')), 20_000, 'the container script');

      const location = path.join(dir, 'ckpt.tar');
      await checkpoints.exportContainer(rec.id, location);
      const items = await readTar(fs.createReadStream(location));
      const top = items.map((i) => i.name).sort();
      expect(top).to.deep.equal(['config.dump', 'deleted.files', 'rootfs-diff.tar', 'spec.dump']);
      const file = (n: string): Buffer => items.find((i) => i.name === n)!.data;
      const cfg = JSON.parse(file('config.dump').toString());
      expect(cfg).to.include({ id: rec.id, name: 'ckpt', rootfsImageRef: image.id, runtime: 'runc', restored: false });
      expect(cfg.createdTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
      const spec = JSON.parse(file('spec.dump').toString());
      expect(spec.process.args).to.deep.equal(['/bin/sh', '-c', script]);
      expect(spec.annotations).to.include({ 'io.kubernetes.cri-o.ContainerID': rec.id, 'io.kubernetes.cri-o.ContainerName': 'ckpt', 'io.kubernetes.cri-o.ContainerType': 'container' });
      expect(JSON.parse(spec.annotations['io.kubernetes.cri-o.Labels'])).to.deep.equal({ app: 'ckpt' });
      // The image's /etc/group was removed (a whiteout); /home was replaced (an opaque dir hiding the image's /home/app).
      expect(JSON.parse(file('deleted.files').toString())).to.deep.equal(['/etc/group', '/home/app']);
      const diff = await readTar(require('node:stream').Readable.from([file('rootfs-diff.tar')]));
      const byName = Object.fromEntries(diff.map((d) => [d.name, d]));
      expect(byName['tmp/new.txt'].data.toString()).to.equal('new\n');
      expect(byName['home/b'].data.toString()).to.equal('b\n');
      expect(byName['tmp/link'].type).to.equal('symlink');
      expect(byName['etc/group']).to.equal(undefined);

      const later = path.join(dir, 'criu.tar');
      if (problem) {
        const err = await checkpoints.checkpointContainer(rec.id, later).then(() => null, (e: PeapodError) => e);
        expect(err?.code).to.equal('WRONG_STATE');
        expect(err?.message).to.contain(problem);
        expect(fs.existsSync(later)).to.equal(false);
      } else {
        await checkpoints.checkpointContainer(rec.id, later);
        expect((await readArchiveMetadata(later, 'location')).names).to.include('checkpoint');
      }
      expect(engine.get(rec.id).state, 'the container keeps running').to.equal('running');
    });
  });

  describe('over CRI and the CLI', () => {
    let network: TestCniNetwork;
    let registry: TestRegistry;
    let server: TestServer;
    let cli: CliEnv;
    let image: string;
    let dir: string;
    let podId: string;
    let ctrId: string;
    let podConfig: PodSandboxConfig;

    before(async () => {
      dir = tempDir('peapod-ckpt-cri-');
      network = makeTestCniNetwork();
      registry = await startRegistry();
      await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage({ Cmd: ['sh'] }));
      image = `${registry.host}/library/busybox:latest`;
      server = await startServer({ config: network.configToml });
      await server.client.image.PullImage({ image: { image } });
      podConfig = {
        metadata: { name: 'ckpt', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
        log_directory: path.join(dir, 'logs'),
        linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
      };
      podId = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
      ctrId = (await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: { metadata: { name: 'app', attempt: 0 }, image: { image }, command: ['sleep', '1000'], log_path: 'app.log' }, sandbox_config: podConfig })).container_id;
      await server.client.runtime.StartContainer({ container_id: ctrId });
      cli = makeCliEnv();
    });

    after(async () => {
      // Each step runs even when one before it throws, so no server, registry or bridge outlives the suite.
      const steps: Array<() => Promise<void> | void> = [
        async () => {
          if (!cli) return;
          await cli.run(['rm', '-a', '-f', '-t', '0']);
          // conmon's exit command (`peapod container cleanup`) may still be at work in the store after rm: wait for it to end.
          await until(() => processesUsing(cli.dir).length === 0, 20_000);
          cli.cleanup();
        },
        async () => {
          if (!server) return;
          await removeAllPods(server.client);
          await server.cleanup();
        },
        async () => registry?.stop(),
        () => network?.cleanup(),
        () => (dir ? fs.rmSync(dir, { recursive: true, force: true }) : undefined),
      ];
      const errors: unknown[] = [];
      for (const step of steps) await Promise.resolve().then(step).catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw errors[0];
    });

    it('CheckpointContainer and CheckpointPod answer FAILED_PRECONDITION naming what criu check reports, and write nothing', async function () {
      if (!problem) this.skip();
      const location = path.join(dir, 'app.tar');
      let e = await rpcError(server.client.runtime.CheckpointContainer({ container_id: ctrId, location }));
      expect(e.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(e.details).to.equal(`checkpointing container ${ctrId} needs CRIU, and "criu check" fails on this node: ${problem}`);
      e = await rpcError(server.client.runtime.CheckpointPod({ pod_sandbox_id: podId, output_path: path.join(dir, 'pod.tar') }));
      expect(e.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(e.details).to.contain(problem!);
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('app.tar') || n.startsWith('pod.tar')), 'nothing at or beside the locations').to.deep.equal([]);
    });

    it('refuses bad requests before CRIU: unknown IDs, a relative location, an exited container', async () => {
      let e = await rpcError(server.client.runtime.CheckpointContainer({ container_id: 'no-such', location: path.join(dir, 'x.tar') }));
      expect(e.code).to.equal(grpc.status.NOT_FOUND);
      e = await rpcError(server.client.runtime.CheckpointContainer({ container_id: ctrId, location: 'relative.tar' }));
      expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(e.details).to.match(/^location: the archive path "relative.tar" is not absolute/);
      e = await rpcError(server.client.runtime.CheckpointContainer({ container_id: '', location: path.join(dir, 'x.tar') }));
      expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
      e = await rpcError(server.client.runtime.CheckpointPod({ pod_sandbox_id: 'no-such', output_path: path.join(dir, 'x.tar') }));
      expect(e.code).to.equal(grpc.status.NOT_FOUND);
      e = await rpcError(server.client.runtime.CheckpointPod({ pod_sandbox_id: podId, output_path: path.join(dir, 'no-dir', 'x.tar') }));
      expect(e.details).to.match(/^output_path: /);
      const done = (await server.client.runtime.CreateContainer({ pod_sandbox_id: podId, config: { metadata: { name: 'done', attempt: 0 }, image: { image }, command: ['true'] }, sandbox_config: podConfig })).container_id;
      await server.client.runtime.StartContainer({ container_id: done });
      await waitFor(async () => (await server.client.runtime.ContainerStatus({ container_id: done })).status?.state === 'CONTAINER_EXITED', 20_000, 'the container exited');
      e = await rpcError(server.client.runtime.CheckpointContainer({ container_id: done, location: path.join(dir, 'x.tar') }));
      expect(e.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(e.details).to.match(/is exited: checkpoint needs a running container/);
      e = await rpcError(server.client.runtime.CheckpointPod({ pod_sandbox_id: podId, output_path: path.join(dir, 'x.tar'), container_ids: [done] }));
      expect(e.code).to.equal(grpc.status.FAILED_PRECONDITION);
      await server.client.runtime.RemoveContainer({ container_id: done });
    });

    it('RestorePod checks the archive (INVALID_ARGUMENT when not a pod checkpoint), then needs CRIU', async function () {
      let e = await rpcError(server.client.runtime.RestorePod({ checkpoint_path: path.join(dir, 'none.tar') }));
      expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(e.details).to.match(/^checkpoint_path: /);
      const containerArchive = path.join(dir, 'container-only.tar');
      await writeTar(containerArchive, { 'config.dump': '{}', 'spec.dump': '{}' });
      e = await rpcError(server.client.runtime.RestorePod({ checkpoint_path: containerArchive }));
      expect(e.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(e.details).to.contain('is not a pod checkpoint archive: it has no "pod.dump"');
      const podArchive = path.join(dir, 'pod.tar');
      await writeTar(podArchive, {
        'pod.dump': JSON.stringify({ metadata: { name: 'ckpt', uid: 'u', namespace: 'n' }, hostname: 'ckpt' }),
        'pod.options': JSON.stringify({ version: 1, containers: { app: 'c1-app' } }),
        'c1-app/config.dump': '{"id":"c1","name":"app"}',
        'c1-app/spec.dump': '{}',
      });
      e = await rpcError(server.client.runtime.RestorePod({ checkpoint_path: podArchive }));
      if (problem) {
        expect(e.code).to.equal(grpc.status.FAILED_PRECONDITION);
        expect(e.details).to.contain(problem);
      } else {
        expect(e.code).to.equal(grpc.status.INTERNAL);
      }
    });

    it('peapod container checkpoint / restore: the same refusal as one Error line, exit 125', async function () {
      if (!problem) this.skip();
      const run = await cli.run(['run', '-d', '--name', 'web', image, 'sleep', '1000']);
      expect(run.code, run.stderr).to.equal(0);
      const id = run.stdout.trim();
      const archive = path.join(cli.dir, 'web.tar');
      let r = await cli.run(['container', 'checkpoint', '-e', archive, 'web']);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.equal(`Error: checkpointing container ${id} needs CRIU, and "criu check" fails on this node: ${problem}\n`);
      expect(fs.existsSync(archive)).to.equal(false);
      r = await cli.run(['container', 'checkpoint', 'web']);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.match(/^Error: --export is required/);
      const podArchive = path.join(cli.dir, 'c.tar');
      await writeTar(podArchive, { 'config.dump': '{"id":"c1","name":"app"}', 'spec.dump': '{}' });
      r = await cli.run(['container', 'restore', '-i', podArchive]);
      expect(r.code).to.equal(125);
      expect(r.stderr).to.equal(`Error: restoring ${podArchive} needs CRIU, and "criu check" fails on this node: ${problem}\n`);
    });
  });
});

async function writeTar(file: string, entries: Record<string, string>): Promise<void> {
  const pack = tar.pack();
  for (const [name, data] of Object.entries(entries)) pack.entry({ name }, data);
  pack.finalize();
  await new Promise((resolve, reject) => (pack as unknown as NodeJS.ReadableStream).pipe(fs.createWriteStream(file)).on('finish', () => resolve(undefined)).on('error', reject));
}
