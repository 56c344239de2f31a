import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { BuiltImage, busyboxImage, multiLayerImage, pushImage } from '../../fixtures/image-builder';
import { startTokenServer, TokenServer } from '../../fixtures/token-server';
import { screenOf } from '../../support/terminal-screen';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CLI_MAIN, CliEnv, makeCliEnv } from './cli-harness';
import { GatedProxy, startGatedProxy } from './gated-proxy';

const shq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** Waits for `cond` to hold, polling; throws with `what` after the deadline. */
async function waitFor(cond: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('peapod CLI: pull, login, logout', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let multi: BuiltImage;
  let busybox: BuiltImage;
  let env: CliEnv;

  before(async () => {
    registry = await startRegistry();
    busybox = await busyboxImage();
    multi = await multiLayerImage();
    await pushImage(registry.url, 'library/busybox', 'latest', busybox);
    await pushImage(registry.url, 'test/multi', 'v1', multi);
    env = makeCliEnv();
  });
  after(async () => {
    env?.cleanup();
    await registry?.stop();
  });

  it('pull prints the image ID on stdout and plain progress lines on stderr when not a terminal', async () => {
    const r = await env.run(['pull', `${registry.host}/test/multi:v1`]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${multi.configDigest.slice(7)}\n`);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).to.equal(`Trying to pull ${registry.host}/test/multi:v1...`);
    for (const l of multi.layers) expect(lines).to.include(`Copying blob ${l.digest}`);
    expect(lines[lines.length - 1]).to.match(new RegExp(`^Pulled ${registry.host}/test/multi:v1 \\(${multi.configDigest.slice(7, 19)}\\): 3 layers, [\\d.]+ [kM]B in [\\d.]+ s`));
    expect(r.stderr).to.not.contain('\x1b[');
    // Again: every layer is already stored.
    const again = await env.run(['--log-level', 'debug', 'pull', `${registry.host}/test/multi:v1`]);
    // The debug record is one Podman-style text line (src/cli/log.ts), among the progress lines.
    const record = again.stderr.split('\n').find((l) => /^DEBU\[\d{4}\] image pulled /.test(l));
    expect(record, again.stderr).to.contain(` image=${registry.host}/test/multi:v1 `);
    expect(record).to.match(/ id=sha256:[0-9a-f]{64}( |$)/);
    expect(again.stderr).to.contain(`Copying blob ${multi.layers[0].digest} skipped: already exists`);
    expect(again.stderr).to.contain('3 layers (3 already stored)');
    const images = await env.run(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']);
    expect(images.stdout).to.equal(`${registry.host}/test/multi:v1 ${multi.configDigest.slice(7, 19)}\n`);
  });

  it('pull -q prints only the ID; a missing image or a bad reference exits 125 with one Error line', async () => {
    const q = await env.run(['pull', '-q', `${registry.host}/library/busybox`]);
    expect(q.code).to.equal(0);
    expect(q.stdout).to.equal(`${busybox.configDigest.slice(7)}\n`);
    expect(q.stderr).to.equal('');
    const missing = await env.run(['pull', '-q', `${registry.host}/test/nope:v9`]);
    expect(missing.code).to.equal(125);
    expect(missing.stderr).to.match(/^Error: pulling .*test\/nope:v9.*not found.*\n$/);
    const bad = await env.run(['pull', 'UPPER/Case']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.match(/^Error: invalid image reference "UPPER\/Case"/);
    // A huge reference (an argument may hold 128 KiB): one short Error line quoting its start and length (issue 17).
    const huge = await env.run(['pull', 'a'.repeat(100_000)]);
    expect(huge.code).to.equal(125);
    expect(huge.stderr).to.match(/^Error: invalid image reference "a+…" \(100000 bytes\): longer than 520 characters\n$/);
    expect(huge.stderr.length).to.be.below(1024);
  });

  it('on a terminal, pull draws one bar per layer with bytes and speed, redrawn in place, and a summary', async () => {
    const proxy: GatedProxy = await startGatedProxy(registry.url);
    const tty = makeCliEnv();
    try {
      // Hold the biggest layer half-way, so the terminal must show it in progress.
      const big = [...multi.layers].sort((a, b) => b.size - a.size)[0];
      proxy.gate.add(big.digest);
      const cmd = ['stty cols 120 rows 40;', shq(process.execPath), shq(CLI_MAIN), ...tty.globalArgs.map(shq), 'pull', shq(`${proxy.host}/test/multi:v1`)].join(' ');
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, REGISTRY_AUTH_FILE: tty.authFile } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      const bigId = big.digest.slice(7, 19);
      // Mid-pull: the held layer shows a partial bar with bytes fetched of its size.
      await waitFor(() => screenOf(out).some((l) => l.startsWith(`Copying blob ${bigId} [`) && l.includes('>') && !l.includes('done')), 'a partial progress bar');
      const mid = screenOf(out).find((l) => l.startsWith(`Copying blob ${bigId} [`))!;
      expect(mid).to.match(/\[=*> *\] [\d.]+ (KiB|MiB) \/ [\d.]+ (KiB|MiB)/);
      proxy.release();
      expect(await exited).to.equal(0);
      child.stdin.end();
      expect(out).to.contain('\x1b[3A\x1b[J'); // redrawn in place
      const screen = screenOf(out);
      expect(screen[0]).to.equal(`Trying to pull ${proxy.host}/test/multi:v1...`);
      const layerLines = screen.filter((l) => l.startsWith('Copying blob '));
      expect(layerLines).to.have.length(3);
      for (const l of multi.layers) {
        const line = layerLines.find((x) => x.startsWith(`Copying blob ${l.digest.slice(7, 19)} `));
        expect(line, l.digest).to.match(/\[====================\] [\d.]+ (B|KiB|MiB) \/ [\d.]+ (B|KiB|MiB)( [\d.]+ (B|KiB|MiB|GiB)\/s)? done$/);
      }
      expect(screen).to.satisfy((s: string[]) => s.some((l) => /^Pulled .*test\/multi:v1 \(\w{12}\): 3 layers, [\d.]+ [kM]?B in [\d.]+ s/.test(l)));
      expect(screen[screen.length - 1]).to.equal(multi.configDigest.slice(7));
    } finally {
      proxy.release();
      await proxy.stop();
      tty.cleanup();
    }
  });

  describe('with a registry that requires authentication', () => {
    let basicReg: TestRegistry;
    let tokenReg: TestRegistry;
    let tokens: TokenServer;
    before(async () => {
      basicReg = await startRegistry({ htpasswd: { alice: 's3cret' } });
      tokens = await startTokenServer({ users: { bob: 'hunter2' } });
      tokenReg = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certFile } });
      await pushImage(basicReg.url, 'private/busybox', 'v1', busybox, { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } });
      await pushImage(tokenReg.url, 'private/busybox', 'v1', busybox, { headers: { authorization: `Bearer ${tokens.issue('private/busybox', ['pull', 'push'])}` } });
    });
    after(async () => {
      await basicReg?.stop();
      await tokenReg?.stop();
      await tokens?.stop();
    });

    for (const kind of ['Basic (htpasswd)', 'Bearer (token server)'] as const) {
      it(`login checks the credentials (${kind}), stores them as containers-auth.json, pull uses them, logout removes them`, async () => {
        const reg = kind.startsWith('Basic') ? basicReg : tokenReg;
        const [user, pass] = kind.startsWith('Basic') ? ['alice', 's3cret'] : ['bob', 'hunter2'];
        const e = makeCliEnv();
        try {
          const ref = `${reg.host}/private/busybox:v1`;
          const anon = await e.run(['pull', '-q', ref]);
          expect(anon.code).to.equal(125);
          expect(anon.stderr).to.match(/^Error: .*(401|unauthorized|authentication required)/i);

          const wrong = await e.run(['login', '-u', user, '-p', 'wrong', reg.host]);
          expect(wrong.code).to.equal(125);
          expect(wrong.stderr).to.equal(`Error: logging into "${reg.host}": invalid username/password\n`);
          expect(fs.existsSync(e.authFile)).to.equal(false);

          const ok = await e.run(['login', '-u', user, '--password-stdin', reg.host], { input: `${pass}\n` });
          expect(ok.code, ok.stderr).to.equal(0);
          expect(ok.stdout).to.equal('Login Succeeded!\n');
          const file = JSON.parse(fs.readFileSync(e.authFile, 'utf8'));
          expect(file).to.deep.equal({ auths: { [reg.host]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } });
          expect(fs.statSync(e.authFile).mode & 0o777).to.equal(0o600);
          expect((await e.run(['login', '--get-login', reg.host])).stdout).to.equal(`${user}\n`);

          const pulled = await e.run(['pull', '-q', ref]);
          expect(pulled.code, pulled.stderr).to.equal(0);
          expect(pulled.stdout.trim()).to.equal(busybox.configDigest.slice(7));

          const out = await e.run(['logout', reg.host]);
          expect(out.code).to.equal(0);
          expect(out.stdout).to.equal(`Removed login credentials for ${reg.host}\n`);
          expect(JSON.parse(fs.readFileSync(e.authFile, 'utf8'))).to.deep.equal({ auths: {} });
          const again = await e.run(['logout', reg.host]);
          expect(again.code).to.equal(125);
          expect(again.stderr).to.equal(`Error: not logged into ${reg.host}\n`);
        } finally {
          e.cleanup();
        }
      });
    }

    it('pull --creds works without the auth file; the auth file path follows XDG_RUNTIME_DIR; logout --all', async () => {
      const e = makeCliEnv();
      try {
        const r = await e.run(['pull', '-q', '--creds', 'alice:s3cret', `${basicReg.host}/private/busybox:v1`]);
        expect(r.code, r.stderr).to.equal(0);
        const xdg = `${e.dir}/xdg`;
        fs.mkdirSync(xdg);
        const envNoFile = { ...process.env, XDG_RUNTIME_DIR: xdg, REGISTRY_AUTH_FILE: '' };
        const login = await e.run(['login', '-u', 'alice', '-p', 's3cret', basicReg.host], { env: envNoFile });
        expect(login.code, login.stderr).to.equal(0);
        expect(JSON.parse(fs.readFileSync(`${xdg}/containers/auth.json`, 'utf8')).auths).to.have.key(basicReg.host);
        const all = await e.run(['logout', '--all'], { env: envNoFile });
        expect(all.stdout).to.equal('Removed login credentials for all registries\n');
        expect(JSON.parse(fs.readFileSync(`${xdg}/containers/auth.json`, 'utf8')).auths).to.deep.equal({});
      } finally {
        e.cleanup();
      }
    });
  });
});
