import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { DEFERRED_EXTRA_CA_ENV, deferredExtraCa, envDeferringExtraCa } from '../../src/common/extra-ca-certs';
import { RegistryClient } from '../../src/image-service/registry-client';

const LAUNCHER = path.resolve(__dirname, '..', '..', '..', 'bin', 'peapod');

/** A CA and a server certificate for IP 127.0.0.1 signed by it (openssl, EC keys). */
function makeCertificates(dir: string): { caFile: string; key: string; cert: string } {
  const f = (n: string): string => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=peapod-test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  fs.writeFileSync(f('ext'), 'subjectAltName=IP:127.0.0.1\n');
  execFileSync('openssl', ['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('leaf.pem'), '-days', '2', '-extfile', f('ext')], { stdio: 'ignore' });
  return { caFile: f('ca.pem'), key: fs.readFileSync(f('leaf.key'), 'utf8'), cert: fs.readFileSync(f('leaf.pem'), 'utf8') };
}

describe('extra CA certificates deferred from Node\'s start (common/extra-ca-certs.ts, bin/peapod)', () => {
  let dir: string;
  let certs: { caFile: string; key: string; cert: string };
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-extra-ca-'));
    certs = makeCertificates(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the bundled roots and the file\'s certificates, nothing when none was deferred', () => {
    expect(deferredExtraCa({})).to.equal(undefined);
    const ca = deferredExtraCa({ [DEFERRED_EXTRA_CA_ENV]: certs.caFile });
    expect(ca).to.have.length(tls.rootCertificates.length + 1);
    expect(ca!.slice(0, -1)).to.deep.equal([...tls.rootCertificates]);
    expect(ca![ca!.length - 1].trim()).to.equal(fs.readFileSync(certs.caFile, 'latin1').trim());
  });

  it('warns and keeps the default trust for a missing file or one without a certificate', () => {
    const warnings: string[] = [];
    const warn = (m: string): void => void warnings.push(m);
    expect(deferredExtraCa({ [DEFERRED_EXTRA_CA_ENV]: path.join(dir, 'absent.pem') }, warn)).to.equal(undefined);
    fs.writeFileSync(path.join(dir, 'empty.pem'), 'not a certificate\n');
    expect(deferredExtraCa({ [DEFERRED_EXTRA_CA_ENV]: path.join(dir, 'empty.pem') }, warn)).to.equal(undefined);
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.include('absent.pem');
    expect(warnings[1]).to.include('holds no PEM certificate');
  });

  it('drops NODE_EXTRA_CA_CERTS from a Node child\'s environment only when it is the deferred file', () => {
    expect(envDeferringExtraCa({ NODE_EXTRA_CA_CERTS: '/a', [DEFERRED_EXTRA_CA_ENV]: '/a', X: '1' })).to.deep.equal({ [DEFERRED_EXTRA_CA_ENV]: '/a', X: '1' });
    expect(envDeferringExtraCa({ NODE_EXTRA_CA_CERTS: '/a', [DEFERRED_EXTRA_CA_ENV]: '/b' })).to.deep.equal({ NODE_EXTRA_CA_CERTS: '/a', [DEFERRED_EXTRA_CA_ENV]: '/b' });
    expect(envDeferringExtraCa({ NODE_EXTRA_CA_CERTS: '/a' })).to.deep.equal({ NODE_EXTRA_CA_CERTS: '/a' });
  });

  it('lets the registry client verify a registry signed by the deferred CA, and only then', async () => {
    const server = https.createServer({ key: certs.key, cert: certs.cert }, (_req, res) => {
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const saved = process.env[DEFERRED_EXTRA_CA_ENV];
    try {
      delete process.env[DEFERRED_EXTRA_CA_ENV];
      const plain = new RegistryClient(host, { insecure: false, attempts: 1 });
      const refused = await plain.checkLogin().then(
        () => undefined,
        (e: Error) => e,
      );
      await plain.close();
      expect(refused, 'a CA not trusted is refused').to.be.instanceOf(Error);
      process.env[DEFERRED_EXTRA_CA_ENV] = certs.caFile;
      const trusted = new RegistryClient(host, { insecure: false, attempts: 1 });
      await trusted.checkLogin();
      await trusted.close();
    } finally {
      if (saved === undefined) delete process.env[DEFERRED_EXTRA_CA_ENV];
      else process.env[DEFERRED_EXTRA_CA_ENV] = saved;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('bin/peapod moves NODE_EXTRA_CA_CERTS aside unless NODE_OPTIONS is set', () => {
    // A `node` first on PATH that prints the two variables instead of running the CLI.
    const fake = path.join(dir, 'fakebin');
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, 'node'), '#!/bin/sh\necho "node=${NODE_EXTRA_CA_CERTS-unset} peapod=${PEAPOD_EXTRA_CA_CERTS-unset}"\n', { mode: 0o755 });
    const run = (env: NodeJS.ProcessEnv): string => {
      const r = spawnSync('/bin/sh', [LAUNCHER, 'version'], { encoding: 'utf8', env: { PATH: `${fake}:/usr/bin:/bin`, ...env } });
      expect(r.status, r.stderr).to.equal(0);
      return r.stdout.trim();
    };
    expect(run({ NODE_EXTRA_CA_CERTS: certs.caFile })).to.equal(`node=unset peapod=${certs.caFile}`);
    expect(run({ NODE_EXTRA_CA_CERTS: certs.caFile, NODE_OPTIONS: '--use-openssl-ca' })).to.equal(`node=${certs.caFile} peapod=unset`);
    expect(run({})).to.equal('node=unset peapod=unset');
  });
});
