import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BASE_TTL_MS, forgetInsecureBase, knownInsecureBase, rememberInsecureBase } from '../../src/image-service/insecure-bases';
import { RegistryClient } from '../../src/image-service/registry-client';

describe('insecure registries: the probed scheme is remembered per host', function () {
  this.timeout(20_000);

  it('keeps a probe for BASE_TTL_MS, forgets on request, and holds at most 64 hosts', () => {
    rememberInsecureBase('h:1', 'http://h:1', 1000);
    expect(knownInsecureBase('h:1', 1000 + BASE_TTL_MS - 1)).to.equal('http://h:1');
    expect(knownInsecureBase('h:1', 1000 + BASE_TTL_MS)).to.equal(undefined);
    rememberInsecureBase('h:2', 'https://h:2');
    forgetInsecureBase('h:2');
    expect(knownInsecureBase('h:2')).to.equal(undefined);
    for (let i = 0; i < 70; i++) rememberInsecureBase(`many:${i}`, `http://many:${i}`);
    expect(knownInsecureBase('many:0')).to.equal(undefined);
    expect(knownInsecureBase('many:69')).to.equal('http://many:69');
  });

  it('probes https once for a plain-http registry: a second client goes straight to http, and probes again after a connection failure', async () => {
    let tlsAttempts = 0;
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    server.on('clientError', (_err, socket) => {
      tlsAttempts++;
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      forgetInsecureBase(host);
      for (let i = 0; i < 2; i++) {
        const c = new RegistryClient(host, { insecure: true });
        await (await c.get('x/y', 'manifests/v1')).body.dump();
        await c.close();
      }
      expect(tlsAttempts).to.equal(1);
      expect(knownInsecureBase(host)).to.equal(`http://${host}`);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    const gone = new RegistryClient(host, { insecure: true, attempts: 1 });
    const err = await gone.get('x/y', 'manifests/v1').catch((e: Error) => e);
    await gone.close();
    expect(err).to.be.instanceOf(Error);
    expect(knownInsecureBase(host)).to.equal(undefined);
  });
});
