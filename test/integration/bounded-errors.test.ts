import { expect } from 'chai';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { startServer, TestServer } from './harness/server';
import { rpcError } from './helpers/wait';

/** 1 MiB of one character. */
const MIB = 1024 * 1024;
/** What "short" means for a status message here: the server's bound (4 KiB) with room to spare. */
const SHORT = 4096;

/** A protobuf length-delimited field (wire type 2) of field number `n`. */
function lengthDelimited(n: number, payload: Buffer): Buffer {
  const len: number[] = [];
  let v = payload.length;
  while (v > 0x7f) {
    len.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  len.push(v);
  return Buffer.concat([Buffer.from([(n << 3) | 2, ...len]), payload]);
}

/**
 * Issue 17: a call whose error would quote a huge input answers a short,
 * clear INVALID_ARGUMENT, and never holds up other calls on its connection.
 */
describe('bounded error messages and inputs (issue 17)', function () {
  this.timeout(120_000);
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('answers a 1 MiB image reference with a short INVALID_ARGUMENT naming the field and the length', async () => {
    const err = await rpcError(server.client.image.PullImage({ image: { image: 'a'.repeat(MIB) } }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(err.details)).to.be.below(SHORT);
    expect(err.details).to.match(/^image\.image: /);
    expect(err.details).to.contain(`(${MIB} bytes)`);
  });

  it('answers a 1 MiB container name with a short INVALID_ARGUMENT naming the field', async () => {
    const err = await rpcError(
      server.client.runtime.CreateContainer({
        pod_sandbox_id: 'nonexistent',
        config: { metadata: { name: 'n'.repeat(MIB) }, image: { image: 'busybox' } },
        sandbox_config: { metadata: { name: 'p', namespace: 'ns', uid: 'u' } },
      }),
    );
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(err.details)).to.be.below(SHORT);
    expect(err.details).to.contain('config.metadata.name');
  });

  it('answers a 1 MiB label value with a short INVALID_ARGUMENT naming the label, before any work', async () => {
    const err = await rpcError(
      server.client.runtime.RunPodSandbox({
        config: { metadata: { name: 'p', namespace: 'ns', uid: 'u' }, labels: { app: 'v'.repeat(MIB) } },
      }),
    );
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(err.details)).to.be.below(SHORT);
    expect(err.details).to.contain('config.labels');
    expect(err.details).to.contain('"app"');
    expect((await server.client.runtime.ListPodSandbox({})).items).to.deep.equal([]);
  });

  it('serves Version on the same connection right after a call whose error would be huge', async () => {
    const client = server.client;
    const huge = rpcError(client.image.PullImage({ image: { image: `x/${'b'.repeat(MIB)}` } }));
    const deadline = new Date(Date.now() + 30_000);
    const version = new Promise<{ runtime_name: string }>((resolve, reject) =>
      client.raw.runtime.Version({}, new grpc.Metadata(), { deadline }, (e, r) => (e ? reject(e) : resolve(r as { runtime_name: string }))),
    );
    expect((await version).runtime_name).to.equal('peapod');
    const err = await huge;
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(Buffer.byteLength(err.details)).to.be.below(SHORT);
  });

  it('delivers the status to a client whose header-list limit is small (4 KiB)', async () => {
    // grpc-js has no option for SETTINGS_MAX_HEADER_LIST_SIZE: a raw HTTP/2 client speaks gRPC here.
    const session = http2.connect('http://localhost', { createConnection: () => require('node:net').connect(server.socket), settings: { maxHeaderListSize: 4096 } });
    try {
      const request = lengthDelimited(1, lengthDelimited(1, Buffer.from('c'.repeat(MIB))));
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), request]);
      frame.writeUInt32BE(request.length, 1);
      const stream = session.request({ ':method': 'POST', ':path': '/runtime.v1.ImageService/PullImage', 'content-type': 'application/grpc', te: 'trailers' });
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        let headers: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => (headers = h));
        stream.on('trailers', (t) => resolve(t));
        stream.on('end', () => resolve(headers));
        stream.on('error', reject);
        stream.on('close', () => reject(new Error(`stream closed with code ${stream.rstCode} before a status`)));
      });
      stream.on('data', () => undefined);
      stream.end(frame);
      const t = await trailers;
      expect(t['grpc-status']).to.equal(String(grpc.status.INVALID_ARGUMENT));
      expect(decodeURIComponent(String(t['grpc-message']))).to.contain('image.image');
    } finally {
      session.destroy();
    }
  });
});
