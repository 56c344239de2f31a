import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { startServer, TestServer } from './harness/server';

describe('peapod-cri server', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('answers Version with the runtime name and API version', async () => {
    const v = await server.client.runtime.Version({ version: '0.1.0' });
    expect(v.runtime_name).to.equal('peapod');
    expect(v.runtime_api_version).to.equal('v1');
    expect(v.runtime_version).to.equal(require('../../../package.json').version);
  });

  it('answers UNIMPLEMENTED for an RPC not built yet', async () => {
    const err = await server.client.runtime.CheckpointContainer({ container_id: 'x' }).then(
      () => null,
      (e: grpc.ServiceError) => e,
    );
    expect(err).to.not.equal(null);
    expect(err!.code).to.equal(grpc.status.UNIMPLEMENTED);
    expect(err!.details).to.contain('CheckpointContainer');
  });
});
