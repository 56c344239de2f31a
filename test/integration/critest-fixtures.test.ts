/**
 * The stand-in images of `npm run critest`: built, pushed to a real
 * docker-registry, read back through the registry API and checked against
 * what critest v1.26.1's specs check; and the static programs run on the host.
 */
import { expect } from 'chai';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { findBusybox } from '../../scripts/critest/busybox';
import {
  BENCHMARK_IMAGES,
  BUSYBOX_REF,
  buildFixtures,
  DISTINCT_TEST_IMAGES,
  HTTPD_REF,
  hostnetNginxRef,
  NGINX_REF,
  NONEWPRIVS_REF,
  PREDEFINED_GROUP_REF,
  pushFixtures,
  SAME_IMAGE_TAGS,
  USER_IMAGES,
} from '../../scripts/critest/images';
import { buildPrograms, Programs } from '../../scripts/critest/programs';
import { localRepoFor } from '../../scripts/critest/registries';
import { freePort, startRegistry, TestRegistry } from './harness/registry';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

interface Manifest {
  config: { digest: string };
  layers: { digest: string }[];
}
interface ImageConfig {
  config: { User?: string; Cmd?: string[]; Entrypoint?: string[]; Env?: string[] };
}
interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  linkname?: string | null;
  content: Buffer;
}

describe('critest stand-in images', function () {
  this.timeout(60_000);
  let dir: string;
  let registry: TestRegistry;
  let programs: Programs;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-critest-fixtures-'));
    programs = buildPrograms(path.join(dir, 'bin'));
    const busybox = findBusybox(() => undefined);
    const fixtures = await buildFixtures({ busybox, programs, benchmark: true, pauseRef: 'registry.k8s.io/pause:3.10', arch: 'amd64' });
    registry = await startRegistry();
    await pushFixtures(registry.url, fixtures);
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (registry) await registry.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function manifestOf(ref: string): Promise<{ digest: string; manifest: Manifest }> {
    const { repo, tag } = localRepoFor(ref);
    const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: ACCEPT } });
    expect(res.status, `GET manifest of ${ref}`).to.equal(200);
    return { digest: res.headers.get('docker-content-digest')!, manifest: (await res.json()) as Manifest };
  }

  async function blob(ref: string, digest: string): Promise<Buffer> {
    const res = await fetch(`${registry.url}/v2/${localRepoFor(ref).repo}/blobs/${digest}`);
    expect(res.status).to.equal(200);
    return Buffer.from(await res.arrayBuffer());
  }

  async function configOf(ref: string): Promise<ImageConfig> {
    const { manifest } = await manifestOf(ref);
    return JSON.parse((await blob(ref, manifest.config.digest)).toString()) as ImageConfig;
  }

  /** Every entry of every layer of `ref`, by path (upper layers win). */
  async function filesOf(ref: string): Promise<Map<string, TarEntry>> {
    const { manifest } = await manifestOf(ref);
    const files = new Map<string, TarEntry>();
    for (const l of manifest.layers) {
      const raw = zlib.gunzipSync(await blob(ref, l.digest));
      await new Promise<void>((resolve, reject) => {
        const ex = tar.extract();
        ex.on('entry', (h, stream, next) => {
          const chunks: Buffer[] = [];
          stream.on('data', (c: unknown) => chunks.push(c as Buffer));
          stream.on('end', () => {
            files.set(h.name.replace(/\/$/, ''), { name: h.name, type: h.type ?? 'file', mode: h.mode ?? 0, uid: h.uid ?? 0, linkname: h.linkname, content: Buffer.concat(chunks) });
            next();
          });
        });
        ex.on('finish', resolve);
        ex.on('error', reject);
        ex.end(raw);
      });
    }
    return files;
  }

  it('sets USER 1002, www-data, 1003:1004 and www-data:1004 in the image-user images', async () => {
    const users: Record<string, string | undefined> = {};
    for (const ref of Object.keys(USER_IMAGES)) users[ref] = (await configOf(ref)).config.User;
    expect(users).to.deep.equal({
      'gcr.io/k8s-staging-cri-tools/test-image-user-uid:latest': '1002',
      'gcr.io/k8s-staging-cri-tools/test-image-user-username:latest': 'www-data',
      'gcr.io/k8s-staging-cri-tools/test-image-user-uid-group:latest': '1003:1004',
      'gcr.io/k8s-staging-cri-tools/test-image-user-username-group:latest': 'www-data:1004',
    });
    const passwd = (await filesOf('gcr.io/k8s-staging-cri-tools/test-image-user-username:latest')).get('etc/passwd')!.content.toString();
    expect(passwd).to.match(/^www-data:x:33:33:/m);
  });

  it('puts user 1000 in the predefined group 50000 of the image', async () => {
    expect((await configOf(PREDEFINED_GROUP_REF)).config.User).to.equal('1000');
    const files = await filesOf(PREDEFINED_GROUP_REF);
    expect(files.get('etc/passwd')!.content.toString()).to.match(/^default-user:x:1000:1000:/m);
    expect(files.get('etc/group')!.content.toString()).to.match(/^group-defined-in-image:x:50000:default-user$/m);
  });

  it('gives test-image-1, -2 and -3 three distinct image IDs, and the other test images their own', async () => {
    const configs = new Set<string>();
    for (const ref of DISTINCT_TEST_IMAGES) configs.add((await manifestOf(ref)).manifest.config.digest);
    expect(configs.size).to.equal(DISTINCT_TEST_IMAGES.length);
    expect(DISTINCT_TEST_IMAGES).to.include.members([1, 2, 3].map((n) => `gcr.io/k8s-staging-cri-tools/test-image-${n}:latest`));
  });

  it('serves one image under the 3 tags of test-image-tags', async () => {
    const digests = new Set<string>();
    for (const ref of SAME_IMAGE_TAGS) digests.add((await manifestOf(ref)).digest);
    expect(SAME_IMAGE_TAGS).to.have.length(3);
    expect(digests.size).to.equal(1);
  });

  it('does not pretend to serve the digest-pinned image', async () => {
    const res = await fetch(`${registry.url}/v2/gcr.io/k8s-staging-cri-tools/test-image-digest/tags/list`);
    await res.arrayBuffer();
    expect(res.status).to.equal(404);
  });

  it('makes the default busybox image root by default, with nobody, hard-linked applets, pgrep and ipcs', async () => {
    const cfg = await configOf(BUSYBOX_REF);
    expect(cfg.config.User ?? '').to.equal('');
    expect(cfg.config.Cmd).to.deep.equal(['sh']);
    const files = await filesOf(BUSYBOX_REF);
    expect(files.get('etc/passwd')!.content.toString()).to.match(/^nobody:x:65534:65534:/m);
    for (const applet of ['sh', 'ls', 'echo', 'sleep', 'top', 'cat', 'hostname', 'id', 'pidof', 'netstat', 'ping', 'brctl', 'mount', 'mkdir', 'touch', 'chmod', 'grep']) {
      const e = files.get(`bin/${applet}`);
      expect(e, applet).to.not.equal(undefined);
      expect(e!.type, applet).to.equal('link');
      expect(e!.linkname, applet).to.equal('bin/busybox');
    }
    expect(files.get('bin/pgrep')!.type).to.equal('file');
    expect(files.get('bin/ipcs')!.type).to.equal('file');
  });

  it('gives nginx, hostnet-nginx, httpd and nonewprivs their programs and config', async () => {
    expect((await configOf(NGINX_REF)).config.Cmd).to.deep.equal(['nginx', '-g', 'daemon off;']);
    expect((await filesOf(NGINX_REF)).has('usr/sbin/nginx')).to.equal(true);
    const hostnet = await configOf(hostnetNginxRef('amd64'));
    expect(hostnet.config.Env).to.include('PEAPOD_HTTP_PORT=12003');
    expect((await configOf(HTTPD_REF)).config.Cmd).to.deep.equal(['httpd', '-D', 'FOREGROUND']);
    const nnp = (await filesOf(NONEWPRIVS_REF)).get('usr/local/bin/nnp')!;
    expect(nnp.uid).to.equal(0);
    expect(nnp.mode & 0o4000, 'setuid bit').to.equal(0o4000);
    expect((await configOf(NONEWPRIVS_REF)).config.Cmd).to.deep.equal(['nnp']);
  });

  it('serves the pause stand-in and the 5 benchmark busybox tags', async () => {
    expect((await configOf('registry.k8s.io/pause:3.10')).config.Entrypoint).to.deep.equal(['/pause']);
    const res = await fetch(`${registry.url}/v2/public.ecr.aws/docker/library/busybox/tags/list`);
    const tags = ((await res.json()) as { tags: string[] }).tags;
    expect([...tags].sort()).to.deep.equal(BENCHMARK_IMAGES.map((r) => localRepoFor(r).tag).sort());
  });

  it('builds static programs', () => {
    for (const bin of Object.values(programs)) {
      const r = spawnSync('ldd', [bin], { encoding: 'utf8' });
      expect(r.stdout + r.stderr, bin).to.match(/not a dynamic executable|statically linked/);
    }
  });

  it('nnp prints "Effective uid: 0" when run as root', function () {
    if (process.getuid!() !== 0) this.skip();
    expect(spawnSync(programs.nnp, { encoding: 'utf8' }).stdout).to.equal('Effective uid: 0\n');
  });

  async function get200(port: number): Promise<number> {
    for (let i = 0; i < 50; i++) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        await res.arrayBuffer();
        return res.status;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`nothing answered on 127.0.0.1:${port}`);
  }

  it('nginx answers HTTP 200, writes its pid file and shows "master process" in its command line', async () => {
    const port = await freePort();
    const pidFile = path.join(dir, 'nginx.pid');
    const child = spawn(programs.nginx, ['-g', 'daemon off;'], { env: { PEAPOD_HTTP_PORT: String(port), PEAPOD_NGINX_PID_FILE: pidFile }, stdio: 'ignore' });
    children.push(child);
    expect(await get200(port)).to.equal(200);
    expect(fs.readFileSync(pidFile, 'utf8').trim()).to.equal(String(child.pid));
    expect(fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').replace(/\0/g, ' ')).to.include('nginx: master process nginx -g daemon off;');
    expect(fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim()).to.equal('nginx');
    child.kill('SIGTERM');
  });

  it('httpd answers HTTP 200 and logs "httpd -D FOREGROUND"', async () => {
    const port = await freePort();
    const child = spawn(programs.httpd, ['--port', String(port), '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await get200(port)).to.equal(200);
    expect(stderr).to.include("Command line: 'httpd -D FOREGROUND'");
    child.kill('SIGTERM');
  });

  it('pgrep finds a process by name; ipcs lists System V shared memory', () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(sleeper);
    const out = spawnSync(programs.pgrep, ['^sleep$'], { encoding: 'utf8' });
    expect(out.status).to.equal(0);
    expect(out.stdout.split('\n')).to.include(String(sleeper.pid));
    sleeper.kill('SIGKILL');
    expect(spawnSync(programs.pgrep, ['^no-such-process-name$']).status).to.equal(1);
    expect(spawnSync(programs.ipcs, ['-m'], { encoding: 'utf8' }).stdout).to.include('------ Shared Memory Segments --------');
  });
});
