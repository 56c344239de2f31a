import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { loadCliConfig } from '../../../src/cli/config';
import { isNamespaceFile } from '../../../src/runtime-service/sandbox/namespaces';
import { Peapod, openPeapod } from '../../../src/runtime-service/peapod';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { run as hostRun } from '../harness/netns-tools';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, makeCliEnv, until } from './cli-harness';

const ID = /^[0-9a-f]{64}\n$/;

describe('peapod CLI: pods (pod create, ps, inspect, start, stop, kill, restart, rm, exists)', function () {
  this.timeout(180_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let image: string;

  /** The domain on the CLI's root, owner cli, to read the records the commands leave. */
  const domain = (): Peapod => {
    const config = loadCliConfig({ root: env.root, runroot: env.runroot, config: path.join(env.dir, 'peapod.conf'), configDir: path.join(env.dir, 'peapod.conf.d') });
    return openPeapod(config, pino({ level: 'silent' }), { owner: 'cli' });
  };
  /** Creates a container in a pod with `peapod create --pod` (the script runs `sh -c`), then `peapod start`s it when asked. */
  const addContainer = async (podId: string, name: string, script: string, start: boolean): Promise<string> => {
    const id = (await ok('create', '--pod', podId, '--name', name, image, 'sh', '-c', script)).trim();
    if (start) await ok('start', id);
    return id;
  };
  const ok = async (...args: string[]): Promise<string> => {
    const r = await env.run(args);
    expect(r.code, `peapod ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const inspect = async (pod: string): Promise<Record<string, unknown>> => JSON.parse(await ok('pod', 'inspect', pod)) as Record<string, unknown>;
  const status = async (pod: string): Promise<string> => (await ok('pod', 'ps', '--filter', `name=^${pod}$`, '--format', '{{.Status}}')).trim();

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage());
    image = `${registry.host}/library/busybox:latest`;
    env = makeCliEnv();
    await ok('pull', '-q', image);
  });
  after(async () => {
    if (env) await env.run(['pod', 'rm', '-a', '-f', '-t', '0']);
    env?.cleanup();
    await registry?.stop();
  });

  it('pod create makes a Running pod on the bridge network with the flags given; pod ps and pod inspect show it as Podman does', async () => {
    const id = await ok('pod', 'create', '--name', 'web', '--label', 'tier=front', '-l', 'solo', '-p', '127.0.0.1:18081:80', '--hostname', 'webhost');
    expect(id).to.match(ID);
    const ps = await ok('pod', 'ps');
    const [header, row] = ps.split('\n');
    // CREATED is as wide as its widest value ("Less than a second ago", or "N seconds ago" on a loaded machine).
    expect(header).to.match(/^POD ID {8}NAME {8}STATUS {6}CREATED {2,}INFRA ID {4}# OF CONTAINERS$/);
    expect(row).to.match(new RegExp(`^${id.slice(0, 12)}  web         Running     (Less than a second|\\d+ seconds?) ago +0$`));
    const j = await inspect('web');
    expect(j).to.include({ Id: id.trim(), Name: 'web', State: 'Running', Hostname: 'webhost', CreateInfra: false, NumContainers: 0 });
    expect(j.Labels).to.deep.equal({ tier: 'front', solo: '' });
    expect(j.SharedNamespaces).to.deep.equal(['uts', 'ipc', 'net']);
    const infra = j.InfraConfig as Record<string, unknown>;
    expect(infra.PortBindings).to.deep.equal({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18081' }] });
    expect(infra.Networks).to.deep.equal(['peapod-cli']);
    expect(infra.IP).to.match(/^198\.19\.\d+\.\d+$/);
    // The pod's network namespace has the IP on eth0 and the hostname in its UTS namespace.
    const pins = path.join(env.runroot, 'sandboxes', id.trim());
    expect(await hostRun('nsenter', [`--net=${pins}/netns`, 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).to.contain(String(infra.IP));
    expect((await hostRun('nsenter', [`--uts=${pins}/utsns`, 'hostname'])).trim()).to.equal('webhost');
    // The CLI wrote its default network into its own CNI directory.
    expect(fs.readdirSync(env.cniConfDir)).to.include('87-peapod-cli.conflist');
    // ps --format json (Podman's ListPodsReport, indented by 2), -q (full IDs), --no-trunc, --noheading.
    const json = JSON.parse(await ok('pod', 'ps', '--format', 'json')) as Record<string, unknown>[];
    expect(json.find((p) => p.Name === 'web')).to.deep.include({ Id: id.trim(), Status: 'Running', InfraId: '', Networks: ['peapod-cli'], Labels: { tier: 'front', solo: '' }, Containers: [] });
    expect(await ok('pod', 'ps', '-q')).to.contain(id);
    expect(await ok('pod', 'ps', '--no-trunc', '--noheading', '--format', 'table {{.ID}} {{.Name}}')).to.contain(`${id.trim()}  web`);
    expect(await ok('pod', 'inspect', '--format', '{{.Name}} {{.State}} {{.NumContainers}}', 'web')).to.equal('web Running 0\n');
  });

  it('names are unique among pods (--replace replaces); no name gets a random adjective_name; pod exists answers 0 or 1', async () => {
    const again = await env.run(['pod', 'create', '--name', 'web']);
    expect(again.code).to.equal(125);
    expect(again.stderr).to.equal('Error: adding pod to state: name "web" is in use: pod already exists\n');
    const old = (await inspect('web')).Id;
    const replaced = (await ok('pod', 'create', '--replace', 'web')).trim();
    expect(replaced).to.not.equal(old);
    expect((await inspect('web')).Id).to.equal(replaced);
    const anon = (await ok('pod', 'create', '--network', 'none')).trim();
    const name = String((await inspect(anon.slice(0, 12))).Name);
    expect(name).to.match(/^[a-z]+_[a-z]+\d*$/);
    expect((await env.run(['pod', 'exists', name])).code).to.equal(0);
    expect((await env.run(['pod', 'exists', anon])).code).to.equal(0);
    const missing = await env.run(['pod', 'exists', 'nosuchpod']);
    expect(missing).to.include({ code: 1, stdout: '', stderr: '' });
    await ok('pod', 'rm', name);
  });

  it('--network none gives loopback only, host the host network; --share +pid shares a PID namespace; bad flags exit 125 naming them', async () => {
    const none = (await ok('pod', 'create', '--name', 'quiet', '--network', 'none')).trim();
    const links = await hostRun('nsenter', [`--net=${env.runroot}/sandboxes/${none}/netns`, 'ip', '-o', 'link', 'show']);
    expect(links.trim().split('\n')).to.have.length(1);
    expect(((await inspect('quiet')).InfraConfig as Record<string, unknown>).Networks).to.deep.equal([]);
    await ok('pod', 'create', '--name', 'onhost', '--network', 'host');
    expect(((await inspect('onhost')).InfraConfig as Record<string, unknown>).HostNetwork).to.equal(true);
    await ok('pod', 'create', '--name', 'pids', '--network', 'none', '--share', '+pid');
    expect((await inspect('pids')).SharedNamespaces).to.deep.equal(['uts', 'ipc', 'net', 'pid']);
    expect(((await inspect('pids')).InfraConfig as Record<string, unknown>).pid_ns).to.equal('pod');
    const cases: [string[], RegExp][] = [
      [['--share', 'ipc'], /^Error: --share: a peapod pod always shares ipc, net, uts .*net, uts left out\n$/],
      [['--share', 'net,ipc,uts,mnt'], /--share: "mnt" is not one of/],
      [['--network', 'slirp'], /--network: "slirp" is not one of bridge, none, host/],
      [['--network', 'none', '-p', '8080:80'], /--publish: ports are published through the bridge network/],
      [['-p', '80:70-71'], /--publish "80:70-71": the host range has 1 ports and the container range 2/],
      [['-p', '99999'], /container port 99999 is not between 1 and 65535/],
      [['--network', 'host', '--hostname', 'x'], /--hostname: a pod on the host network/],
      [['--name', 'a/b'], /--name "a\/b": names are letters/],
    ];
    for (const [flags, re] of cases) {
      const r = await env.run(['pod', 'create', ...flags]);
      expect(r.code, flags.join(' ')).to.equal(125);
      expect(r.stderr, flags.join(' ')).to.match(re);
    }
    await ok('pod', 'rm', 'quiet', 'onhost', 'pids');
  });

  it('a pod with containers: ps shows them and Podman\'s status; start starts the created ones; kill signals; stop gives -t seconds, then kills', async () => {
    const id = (await ok('pod', 'create', '--name', 'app', '--network', 'none')).trim();
    const loop = 'while :; do sleep 0.1; done';
    const a = await addContainer(id, 'a', `trap "exit 4" USR1; ${loop}`, true);
    const b = await addContainer(id, 'b', `trap "exit 3" TERM; ${loop}`, false);
    const c = await addContainer(id, 'c', `trap "" TERM; ${loop}`, false);
    expect(await status('app')).to.equal('Degraded');
    expect(await ok('pod', 'ps', '--filter', 'name=^app$', '--ctr-names', '--ctr-status', '--ctr-ids', '--noheading')).to.match(
      new RegExp(`^${id.slice(0, 12)}  app +Degraded .* ${a.slice(0, 12)},${b.slice(0, 12)},${c.slice(0, 12)}  a,b,c +running,created,created\\n$`),
    );
    expect(await ok('pod', 'start', 'app')).to.equal(`${id}\n`);
    expect(await status('app')).to.equal('Running');
    expect((await inspect('app')).Containers).to.deep.equal([
      { Id: a, Name: 'a', State: 'running' },
      { Id: b, Name: 'b', State: 'running' },
      { Id: c, Name: 'c', State: 'running' },
    ]);
    // kill -s USR1: a exits 4 by its trap; b and c, PID 1 of their PID namespaces without a handler for it, are not touched.
    expect(await ok('pod', 'kill', '-s', 'USR1', 'app')).to.equal(`${id}\n`);
    await until(async () => (await status('app')) === 'Degraded', 30_000, 'a to exit');
    expect(await ok('pod', 'ps', '--filter', 'ctr-status=exited', '--format', '{{.Name}} {{.ContainerStatuses}}')).to.match(/^app exited,/);
    const badSignal = await env.run(['pod', 'kill', '-s', 'NOPE', 'app']);
    expect(badSignal).to.include({ code: 125, stderr: 'Error: invalid signal: NOPE\n' });
    // stop -t 3: each container gets its stop signal (SIGTERM) first: b exits 3 by its trap, c ignores it and is killed after the 3 s.
    expect(await ok('pod', 'stop', '-t', '3', 'app')).to.equal(`${id}\n`);
    expect(await status('app')).to.equal('Exited');
    const p = domain();
    const codes = [a, b, c].map((x) => p.containers.get(x)).map((r) => [r.state, r.exitCode]);
    p.close();
    expect(codes).to.deep.equal([
      ['exited', 4],
      ['exited', 3],
      ['exited', 137],
    ]);
  });

  it('pod start of a stopped pod sets its network up again and starts its exited containers; pod restart restarts running ones', async function () {
    const id = (await ok('pod', 'create', '--name', 'again')).trim();
    const c = await addContainer(id, 'loop', 'while :; do sleep 0.1; done', true);
    await ok('pod', 'stop', '-t', '0', 'again');
    expect(await status('again')).to.equal('Exited');
    await ok('pod', 'start', 'again');
    expect(await status('again')).to.equal('Running');
    const ip = String(((await inspect('again')).InfraConfig as Record<string, unknown>).IP);
    expect(await hostRun('nsenter', [`--net=${env.runroot}/sandboxes/${id}/netns`, 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).to.contain(ip);
    const p = domain();
    const before = p.containers.get(c).startedAt;
    p.close();
    await ok('pod', 'restart', 'again');
    const q = domain();
    const after = q.containers.get(c);
    q.close();
    expect(after.state).to.equal('running');
    expect(BigInt(after.startedAt) > BigInt(before), 'started again').to.equal(true);
    await ok('pod', 'rm', '-f', '-t', '0', 'again');
  });

  it('pod ps reads without writing: a pod whose infra process died shows Exited while its record still says ready; pod start sets it up again', async () => {
    const id = (await ok('pod', 'create', '--name', 'orphan', '--network', 'none', '--share', '+pid')).trim();
    expect(await status('orphan')).to.equal('Running');
    const p = domain();
    const pid = p.sandboxes.get(id)?.infraPid;
    p.close();
    expect(pid, 'infra pid').to.be.a('number');
    process.kill(pid as number, 'SIGKILL');
    await until(async () => (await status('orphan')) === 'Exited', 30_000, 'the pod to show Exited');
    expect(JSON.parse(await ok('pod', 'inspect', 'orphan')).State).to.equal('Exited');
    const q = domain();
    expect(q.sandboxes.list().find((r) => r.id === id)?.state, 'the record as written').to.equal('ready');
    q.close();
    await ok('pod', 'start', 'orphan');
    expect(await status('orphan')).to.equal('Running');
    await ok('pod', 'rm', '-f', '-t', '0', 'orphan');
  });

  it('pod rm refuses a pod with running containers unless -f; removes the pod with its containers and namespaces; exit 1 for a missing pod, -i ignores it', async () => {
    const id = (await ok('pod', 'create', '--name', 'gone', '--network', 'none')).trim();
    const c = await addContainer(id, 'busy', 'while :; do sleep 0.1; done', true);
    const refused = await env.run(['pod', 'rm', 'gone']);
    expect(refused.code).to.equal(125);
    expect(refused.stderr).to.equal('Error: pod gone has running containers (busy): stop it first, or remove it with --force\n');
    expect((await env.run(['pod', 'exists', 'gone'])).code).to.equal(0);
    expect(await ok('pod', 'rm', '-f', '-t', '0', 'gone')).to.equal(`${id}\n`);
    expect((await env.run(['pod', 'exists', 'gone'])).code).to.equal(1);
    const p = domain();
    expect(p.containers.find(c)).to.equal(undefined);
    p.close();
    expect(isNamespaceFile(path.join(env.runroot, 'sandboxes', id, 'netns'))).to.equal(false);
    expect(fs.existsSync(path.join(env.root, 'sandboxes', id))).to.equal(false);
    const missing = await env.run(['pod', 'rm', 'nosuchpod']);
    expect(missing).to.include({ code: 1, stdout: '', stderr: 'Error: no pod with name or ID nosuchpod found: no such pod\n' });
    expect((await env.run(['pod', 'rm', '-i', 'nosuchpod'])).code).to.equal(0);
    const stop = await env.run(['pod', 'stop', 'nosuchpod']);
    expect(stop).to.include({ code: 125, stderr: 'Error: no pod with name or ID nosuchpod found: no such pod\n' });
    expect((await env.run(['pod', 'stop', '-i', 'nosuchpod'])).code).to.equal(0);
    const start = await env.run(['pod', 'start', 'nosuchpod']);
    expect(start.code).to.equal(125);
  });

  it('pod ps --filter (name, id, label, status, ctr-number, until), --sort, and --pod-id-file', async () => {
    await ok('pod', 'rm', '-a', '-f', '-t', '0');
    const idFile = path.join(env.dir, 'pod.id');
    const one = (await ok('pod', 'create', '--name', 'f-one', '--network', 'none', '--label', 'env=prod', '--pod-id-file', idFile)).trim();
    expect(fs.readFileSync(idFile, 'utf8')).to.equal(one);
    const two = (await ok('pod', 'create', '--name', 'f-two', '--network', 'none', '--label', 'env=dev')).trim();
    await addContainer(two, 'x', 'sleep 1000', false);
    const names = async (...args: string[]): Promise<string[]> => (await ok('pod', 'ps', '--format', '{{.Name}}', ...args)).trim().split('\n').filter(Boolean);
    expect(await names()).to.deep.equal(['f-two', 'f-one']);
    expect(await names('--sort', 'name')).to.deep.equal(['f-one', 'f-two']);
    expect(await names('--filter', 'name=one')).to.deep.equal(['f-one']);
    expect(await names('--filter', `id=^${two.slice(0, 6)}`)).to.deep.equal(['f-two']);
    expect(await names('--filter', 'label=env=prod')).to.deep.equal(['f-one']);
    expect(await names('--filter', 'label!=env=prod')).to.deep.equal(['f-two']);
    expect(await names('--filter', 'status=degraded')).to.deep.equal(['f-two']);
    expect(await names('--filter', 'ctr-number=0')).to.deep.equal(['f-one']);
    expect(await names('--filter', 'name=f-one', '--filter', 'name=f-two')).to.have.length(2);
    expect(await names('--filter', 'name=f-one', '--filter', 'label=env=dev')).to.deep.equal([]);
    expect(await names('--filter', 'until=1h')).to.deep.equal([]);
    expect(await names('--filter', `until=${Math.ceil(Date.now() / 1000) + 60}`)).to.have.length(2);
    const bad = await env.run(['pod', 'ps', '--filter', 'color=blue']);
    expect(bad.code).to.equal(125);
    expect(bad.stderr).to.match(/"color" is not a valid filter/);
    // The ID file names the pod for rm.
    expect(await ok('pod', 'rm', '--pod-id-file', idFile)).to.equal(`${one}\n`);
    await ok('pod', 'rm', '-f', 'f-two');
  });
});
