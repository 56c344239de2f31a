import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { notFound } from '../../src/common/errors';
import type { ContainerEventResponse } from '../../src/generated/runtime/v1/ContainerEventResponse';
import { loadCri } from '../../src/server/proto';
import { buildHandlers, InFlight, ServerStreamImpl } from '../../src/server/rpc';
import { waitFor } from '../integration/helpers/wait';

describe('buildHandlers: server-streaming methods (in-process grpc-js server and client)', () => {
  const cri = loadCri();
  const service = cri.runtime.v1.RuntimeService.service;
  let dir: string;
  let server: grpc.Server;
  let client: InstanceType<typeof cri.runtime.v1.RuntimeService>;
  const inFlight = new InFlight();
  let impl: ServerStreamImpl<unknown, ContainerEventResponse>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-rpc-stream-'));
    server = new grpc.Server();
    server.addService(service, buildHandlers(service, {}, pino({ level: 'silent' }), inFlight, { GetContainerEvents: (req, sink, ctx) => impl(req, sink, ctx) }));
    const sock = path.join(dir, 's.sock');
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    client = new cri.runtime.v1.RuntimeService(`unix:${sock}`, grpc.credentials.createInsecure());
  });

  after(() => {
    client?.close();
    server?.forceShutdown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds the handler back while the client reads nothing, then delivers every response in order', async () => {
    const TOTAL = 200;
    const big = 'x'.repeat(64 * 1024);
    let resolved = 0;
    let blocked = false;
    impl = async (_req, sink) => {
      for (let i = 0; i < TOTAL; i++) {
        let done = false;
        const p = sink.send({ container_id: `${i}:${big}` }).then(() => (done = true));
        await Promise.resolve();
        if (!done) blocked = true;
        await p;
        resolved++;
      }
    };
    const stream = client.GetContainerEvents({});
    const got: number[] = [];
    let stalled = true;
    const ended = new Promise<number>((resolve) => {
      stream.on('status', (s: grpc.StatusObject) => resolve(s.code));
      stream.on('error', () => undefined);
    });
    stream.on('data', (m: { container_id: string }) => {
      got.push(Number(m.container_id.split(':')[0]));
      if (stalled) stream.pause();
    });
    await waitFor(() => blocked, 30_000, 'a send to wait for the client');
    expect(resolved).to.be.lessThan(TOTAL);
    stalled = false;
    stream.resume();
    expect(await ended).to.equal(grpc.status.OK);
    expect(got).to.deep.equal(Array.from({ length: TOTAL }, (_, i) => i));
    await waitFor(() => inFlight.size === 0, 30_000, 'the call to leave the in-flight count');
  });

  it("aborts the sink's signal when the client cancels, and ends a failing handler with its error's status", async () => {
    let aborted = false;
    impl = (_req, sink) =>
      new Promise<void>((resolve) => {
        sink.signal.addEventListener('abort', () => {
          aborted = true;
          resolve();
        });
      });
    const stream = client.GetContainerEvents({});
    stream.on('error', () => undefined);
    await waitFor(() => inFlight.size === 1, 30_000, 'the call to start');
    stream.cancel();
    await waitFor(() => aborted && inFlight.size === 0, 30_000, 'the handler to see the cancel');
    impl = async () => {
      throw notFound('pod sandbox p1 not found');
    };
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const s = client.GetContainerEvents({});
      s.on('data', () => undefined);
      s.on('error', (e: grpc.ServiceError) => resolve(e));
    });
    expect(err.code).to.equal(grpc.status.NOT_FOUND);
    expect(err.details).to.equal('pod sandbox p1 not found');
  });
});
