import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { ContainerEventResponse__Output } from '../../src/generated/runtime/v1/ContainerEventResponse';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { loadCri } from '../../src/server/proto';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { until, waitFor } from './helpers/wait';

/** Everything a server stream sent, and how it ended (0 = OK). */
interface StreamResult<T> {
  messages: T[];
  code: number;
  details: string;
}

/** Reads a server stream to its end. */
function readAll<T>(stream: grpc.ClientReadableStream<T>): Promise<StreamResult<T>> {
  return new Promise((resolve) => {
    const messages: T[] = [];
    stream.on('data', (m: T) => messages.push(m));
    stream.on('error', (e: grpc.ServiceError) => resolve({ messages, code: e.code, details: e.details }));
    stream.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ messages, code: 0, details: '' });
    });
  });
}

/** A GetContainerEvents subscriber that reads every event as it comes. */
class EventReader {
  readonly events: ContainerEventResponse__Output[] = [];
  readonly done: Promise<StreamResult<ContainerEventResponse__Output>>;
  constructor(readonly stream: grpc.ClientReadableStream<ContainerEventResponse__Output>) {
    this.done = new Promise((resolve) => {
      stream.on('data', (m: ContainerEventResponse__Output) => this.events.push(m));
      stream.on('error', (e: grpc.ServiceError) => resolve({ messages: this.events, code: e.code, details: e.details }));
      stream.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) resolve({ messages: this.events, code: 0, details: '' });
      });
    });
  }
  of(id: string): string[] {
    return this.events.filter((e) => e.container_id === id).map((e) => e.container_event_type);
  }
  close(): void {
    this.stream.cancel();
  }
}

const BATCH = 2;
const EVENTS_BUFFER = 8;

describe('server-streaming RPCs: Stream* lists and GetContainerEvents (real runc, conmon, registry)', function () {
  this.timeout(240_000);
  let registry: TestRegistry;
  let server: TestServer;
  let images: string[];
  let LOG_ROOT = '';
  const pods: string[] = [];
  const containers: string[] = [];

  function hostPod(name: string, annotations: Record<string, string> = {}): PodSandboxConfig {
    return {
      metadata: { name, namespace: 'streams', uid: randomBytes(8).toString('hex'), attempt: 0 },
      hostname: name,
      log_directory: path.join(LOG_ROOT, name),
      labels: { app: name, suite: 'streams' },
      annotations,
      linux: { security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
    };
  }

  function ctr(name: string, script: string, image = images[0]): ContainerConfig {
    return { metadata: { name, attempt: 0 }, image: { image }, command: ['/bin/sh', '-c', script], log_path: `${name}.log`, labels: { c: name } };
  }

  before(async () => {
    LOG_ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-streams-logs-'));
    registry = await startRegistry();
    images = [];
    for (let i = 0; i < 3; i++) {
      await pushImage(registry.url, `test/streams${i}`, 'v1', await busyboxImage({ Env: [`N=${i}`] }));
      images.push(`${registry.host}/test/streams${i}:v1`);
    }
    server = await startServer({ config: `list_stream_batch_size = ${BATCH}\ncontainer_events_buffer = ${EVENTS_BUFFER}\n` });
    for (const image of images) await server.client.image.PullImage({ image: { image } });
    for (let i = 0; i < 3; i++) {
      const config = hostPod(`list${i}`);
      const id = (await server.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
      pods.push(id);
      if (i === 0) {
        for (let j = 0; j < 3; j++) {
          containers.push((await server.client.runtime.CreateContainer({ pod_sandbox_id: id, config: ctr(`c${j}`, 'sleep 1000'), sandbox_config: config })).container_id);
        }
      }
    }
  });

  after(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    if (LOG_ROOT) fs.rmSync(LOG_ROOT, { recursive: true, force: true });
  });

  /** Every response has at most BATCH items, and more than one response came. */
  function expectChunked<T>(r: StreamResult<T>, items: (m: T) => unknown[]): void {
    expect(r.code, r.details).to.equal(0);
    expect(r.messages.length).to.be.greaterThan(1);
    for (const m of r.messages) expect(items(m).length).to.be.within(1, BATCH);
  }

  it('StreamPodSandboxes sends what ListPodSandbox answers, in chunks, with the same filters', async () => {
    const r = await readAll(server.client.raw.runtime.StreamPodSandboxes({}));
    expectChunked(r, (m) => m.pod_sandboxes);
    const streamed = r.messages.flatMap((m) => m.pod_sandboxes);
    const listed = (await server.client.runtime.ListPodSandbox({})).items;
    expect(streamed).to.deep.equal(listed);
    expect(streamed.map((p) => p.id)).to.include.members(pods);
    const one = await readAll(server.client.raw.runtime.StreamPodSandboxes({ filter: { label_selector: { app: 'list1' } } }));
    expect(one.messages.flatMap((m) => m.pod_sandboxes).map((p) => p.id)).to.deep.equal([pods[1]]);
  });

  it('StreamContainers sends what ListContainers answers, in chunks, with the same filters', async () => {
    const r = await readAll(server.client.raw.runtime.StreamContainers({ filter: { pod_sandbox_id: pods[0] } }));
    expectChunked(r, (m) => m.containers);
    const streamed = r.messages.flatMap((m) => m.containers);
    expect(streamed).to.deep.equal((await server.client.runtime.ListContainers({ filter: { pod_sandbox_id: pods[0] } })).containers);
    expect(streamed.map((c) => c.id).sort()).to.deep.equal([...containers].sort());
    const none = await readAll(server.client.raw.runtime.StreamContainers({ filter: { pod_sandbox_id: pods[2] } }));
    expect(none).to.deep.equal({ messages: [], code: 0, details: '' });
    // The request bounds of the unary lists hold for the streams too.
    const tooLong = await readAll(server.client.raw.runtime.StreamContainers({ filter: { label_selector: { ['k'.repeat(400)]: 'v' } } }));
    expect(tooLong.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(tooLong.messages).to.deep.equal([]);
  });

  it('StreamContainerStats sends the stats of every container ListContainerStats reports, in chunks', async () => {
    const r = await readAll(server.client.raw.runtime.StreamContainerStats({}));
    expectChunked(r, (m) => m.container_stats);
    const streamed = r.messages.flatMap((m) => m.container_stats).map((s) => s.attributes?.id);
    const listed = (await server.client.runtime.ListContainerStats({})).stats.map((s) => s.attributes?.id);
    expect(streamed).to.deep.equal(listed);
    expect(streamed).to.include.members(containers);
    const one = await readAll(server.client.raw.runtime.StreamContainerStats({ filter: { id: containers[1] } }));
    expect(one.messages.flatMap((m) => m.container_stats).map((s) => s.attributes?.id)).to.deep.equal([containers[1]]);
  });

  it('StreamPodSandboxStats sends the stats of every pod ListPodSandboxStats reports, in chunks', async () => {
    const r = await readAll(server.client.raw.runtime.StreamPodSandboxStats({}));
    expectChunked(r, (m) => m.pod_sandbox_stats);
    const streamed = r.messages.flatMap((m) => m.pod_sandbox_stats).map((s) => s.attributes?.id);
    const listed = (await server.client.runtime.ListPodSandboxStats({})).stats.map((s) => s.attributes?.id);
    expect(streamed).to.deep.equal(listed);
    expect(streamed).to.include.members(pods);
  });

  it('StreamImages sends what ListImages answers, in chunks, with the same filter', async () => {
    const r = await readAll(server.client.raw.image.StreamImages({}));
    expectChunked(r, (m) => m.images);
    const streamed = r.messages.flatMap((m) => m.images);
    expect(streamed).to.deep.equal((await server.client.image.ListImages({})).images);
    expect(streamed.flatMap((i) => i.repo_tags)).to.include.members(images);
    const one = await readAll(server.client.raw.image.StreamImages({ filter: { image: { image: images[2] } } }));
    expect(one.messages.flatMap((m) => m.images).flatMap((i) => i.repo_tags)).to.deep.equal([images[2]]);
  });

  it("GetContainerEvents sends a container's life in order, each event with its pod's status and its containers' statuses", async () => {
    const reader = new EventReader(server.client.raw.runtime.GetContainerEvents({}));
    try {
      const config = hostPod('events');
      const pod = (await server.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
      const id = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('life', 'sleep 1; exit 3'), sandbox_config: config })).container_id;
      await server.client.runtime.StartContainer({ container_id: id });
      await waitFor(async () => (await server.client.runtime.ContainerStatus({ container_id: id })).status?.state === 'CONTAINER_EXITED', 60_000, 'the container to exit');
      await server.client.runtime.RemoveContainer({ container_id: id });
      await server.client.runtime.StopPodSandbox({ pod_sandbox_id: pod });
      await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
      await waitFor(() => reader.of(pod).length >= 4 && reader.of(id).length >= 4, 30_000, 'the events of the container and its pod');
      expect(reader.of(id)).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      // The pod's own events carry its ID as the container ID, as containerd sends them.
      expect(reader.of(pod)).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      const mine = reader.events.filter((e) => e.container_id === id);
      for (const e of mine) expect(e.pod_sandbox_status?.id).to.equal(pod);
      const stateAt = (e: ContainerEventResponse__Output) => e.containers_statuses.find((s) => s.id === id);
      expect(stateAt(mine[0])?.state).to.equal('CONTAINER_CREATED');
      expect(stateAt(mine[2])?.state).to.equal('CONTAINER_EXITED');
      expect(stateAt(mine[2])?.exit_code).to.equal(3);
      expect(stateAt(mine[3])).to.equal(undefined);
      const times = mine.map((e) => BigInt(e.created_at));
      for (let i = 1; i < times.length; i++) expect(times[i] >= times[i - 1]).to.equal(true);
      expect(reader.events.filter((e) => e.container_id === pod).at(-1)?.pod_sandbox_status).to.equal(null);
    } finally {
      reader.close();
    }
  });

  it('GetContainerEvents gives a never-started container CREATED and DELETED only (as containerd), removed in a ready pod or after its pod stopped; a pod stopped sends its containers\' STOPPED before its own', async () => {
    const reader = new EventReader(server.client.raw.runtime.GetContainerEvents({}));
    try {
      const config = hostPod('stop-order');
      const pod = (await server.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
      const running = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('running', 'sleep 1000'), sandbox_config: config })).container_id;
      await server.client.runtime.StartContainer({ container_id: running });
      const idle = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('idle', 'sleep 1000'), sandbox_config: config })).container_id;
      const lone = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('lone', 'sleep 1000'), sandbox_config: config })).container_id;
      // Removed while created, in a ready pod.
      await server.client.runtime.RemoveContainer({ container_id: lone });
      await server.client.runtime.StopPodSandbox({ pod_sandbox_id: pod });
      await server.client.runtime.RemoveContainer({ container_id: idle });
      await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
      await waitFor(() => reader.of(pod).includes('CONTAINER_DELETED_EVENT'), 30_000, 'the pod to be deleted');
      expect(reader.of(lone)).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_DELETED_EVENT']);
      expect(reader.of(idle)).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_DELETED_EVENT']);
      expect(reader.of(running)).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
      // StopPodSandbox stops the running container before the pod (containerd's order): its STOPPED comes
      // first, and the pod's STOPPED already shows it exited.
      const stopped = (id: string): number => reader.events.findIndex((e) => e.container_id === id && e.container_event_type === 'CONTAINER_STOPPED_EVENT');
      expect(stopped(running)).to.be.greaterThan(-1);
      expect(stopped(running)).to.be.lessThan(stopped(pod));
      expect(reader.events[stopped(pod)].containers_statuses.find((c) => c.id === running)?.state).to.equal('CONTAINER_EXITED');
    } finally {
      reader.close();
    }
  });

  it('ends a GetContainerEvents call whose deadline passed with DEADLINE_EXCEEDED, and keeps serving others', async () => {
    const r = await readAll(server.client.raw.runtime.GetContainerEvents({}, { deadline: Date.now() + 500 }));
    expect(r.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    const after = await readAll(server.client.raw.runtime.StreamPodSandboxes({}));
    expect(after.code).to.equal(0);
  });

  it('cuts off a subscriber that reads nothing with RESOURCE_EXHAUSTED while another still gets every event', async () => {
    // Large events (a 256 KiB annotation on the pod, in every event's pod status) fill the transport's windows quickly.
    const config = hostPod('slow', { filler: 'x'.repeat(256 * 1024) });
    const pod = (await server.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
    const reader = new EventReader(server.client.raw.runtime.GetContainerEvents({}));
    // Its own connection, as a second kubelet would have: a stalled stream must not hold up the connection of the reading one.
    const slowClient = new (loadCri().runtime.v1.RuntimeService)(`unix:${server.socket}`, grpc.credentials.createInsecure(), { 'grpc.primary_user_agent': 'slow-subscriber' });
    const slow = slowClient.GetContainerEvents({});
    let slowEnd: grpc.ServiceError | undefined;
    slow.on('error', (e: grpc.ServiceError) => (slowEnd = e));
    // It reads its first event, then nothing (grpc-js applies backpressure only once a call has read).
    let stalled = true;
    slow.on('data', () => {
      if (stalled) slow.pause();
    });
    const made: string[] = [];
    try {
      // 80 events of 256 KiB: more than the transport holds (about 32 messages once the client stopped reading) plus the buffer of 8.
      for (let i = 0; i < 40; i++) {
        const id = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr(`s${i}`, 'true'), sandbox_config: config })).container_id;
        made.push(id);
        await server.client.runtime.RemoveContainer({ container_id: id });
      }
      // The error status is behind the messages already in the transport: let the client read them to see it.
      stalled = false;
      slow.resume();
      const cut = await until(() => slowEnd !== undefined, 30_000);
      expect(cut, 'the slow subscriber to be cut off').to.equal(true);
      expect(slowEnd?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(slowEnd?.details).to.contain('behind');
      const readerEnd = Promise.race([reader.done, new Promise<'open'>((r) => setImmediate(() => r('open')))]);
      expect(await readerEnd).to.equal('open');
      await waitFor(() => reader.of(made.at(-1)!).length === 2, 30_000, 'the last event to reach the reading subscriber');
      // A container removed before it started was never stopped: created, then deleted (as containerd).
      for (const id of made) expect(reader.of(id), id).to.deep.equal(['CONTAINER_CREATED_EVENT', 'CONTAINER_DELETED_EVENT']);
      const end = await Promise.race([reader.done, new Promise<'open'>((r) => setImmediate(() => r('open')))]);
      expect(end).to.equal('open');
    } finally {
      reader.close();
      slow.cancel();
      slowClient.close();
      await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: pod });
    }
  });

  it('sends the exits recovery finds at start to the first subscriber, and ends streams with UNAVAILABLE at shutdown', async () => {
    const config = hostPod('recovered');
    const pod = (await server.client.runtime.RunPodSandbox({ config })).pod_sandbox_id;
    const id = (await server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: ctr('dies', 'sleep 1000'), sandbox_config: config })).container_id;
    await server.client.runtime.StartContainer({ container_id: id });
    const verbose = await server.client.runtime.ContainerStatus({ container_id: id, verbose: true });
    const pid = (JSON.parse(verbose.info.info) as { pid: number }).pid;
    const open = new EventReader(server.client.raw.runtime.GetContainerEvents({}));
    await server.stop();
    const ended = await open.done;
    expect(ended.code).to.equal(grpc.status.UNAVAILABLE);
    // While no server runs, the container dies; its monitor records the exit.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !fs.existsSync(`/proc/${pid}`), 30_000, 'the container process to be gone');
    server = await startServer({ config: `list_stream_batch_size = ${BATCH}\ncontainer_events_buffer = ${EVENTS_BUFFER}\n`, dir: server.dir });
    const reader = new EventReader(server.client.raw.runtime.GetContainerEvents({}));
    try {
      await waitFor(() => reader.of(id).length > 0, 30_000, 'the recovered exit');
      expect(reader.of(id)).to.deep.equal(['CONTAINER_STOPPED_EVENT']);
      const status = reader.events.find((e) => e.container_id === id)?.containers_statuses.find((s) => s.id === id);
      expect(status?.state).to.equal('CONTAINER_EXITED');
      expect(status?.exit_code).to.equal(137);
    } finally {
      reader.close();
    }
  });
});
