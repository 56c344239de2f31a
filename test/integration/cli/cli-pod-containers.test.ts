import { expect } from 'chai';
import { busyboxImage, pushImage } from '../../fixtures/image-builder';
import { freePort, startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, CliResult, fetchTcp, makeCliEnv, until } from './cli-harness';

/** `pod` commands over containers made by `run --pod` / `create --pod`: one domain, the two command families together. */
describe('peapod CLI: pods with their containers (run --pod, pod start/stop/restart/rm, pod create -p)', function () {
  this.timeout(240_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let image: string;

  const ok = async (...args: string[]): Promise<string> => {
    const r = await env.run(args);
    expect(r.code, `peapod ${args.join(' ')}: ${r.stderr}`).to.equal(0);
    return r.stdout;
  };
  const states = async (pod: string): Promise<string> => (await ok('ps', '-a', '--filter', `pod=${pod}`, '--format', '{{.Names}}={{.State}}')).trim().split('\n').filter(Boolean).sort().join(' ');
  const podStatus = async (pod: string): Promise<string> => (await ok('pod', 'ps', '--filter', `name=^${pod}$`, '--format', '{{.Status}}')).trim();
  const httpd = (text: string, port: number): string[] => ['sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p ${port} -h /www`];

  before(async () => {
    registry = await startRegistry();
    await pushImage(registry.url, 'library/busybox', 'latest', await busyboxImage());
    image = `${registry.host}/library/busybox:latest`;
    env = makeCliEnv();
    await ok('pull', '-q', image);
  });
  after(async () => {
    if (env) await env.run(['pod', 'rm', '-a', '-f', '-t', '0']);
    if (env) await env.run(['rm', '-a', '-f', '-t', '0']);
    env?.cleanup();
    await registry?.stop();
  });

  it('two containers of a pod talk over localhost (its network namespace); the pod lists both', async () => {
    const pod = (await ok('pod', 'create', '--name', 'duo')).trim();
    await ok('run', '-d', '--pod', 'duo', '--name', 'srv', image, ...httpd('from-srv', 8080));
    // The client retries inside the container until the server listens (a deadline of 10 s, not a sleep to synchronise).
    const client: CliResult = await env.run(['run', '--rm', '--pod', pod.slice(0, 12), image, 'sh', '-c', 'i=0; while [ $i -lt 100 ]; do wget -qO- http://127.0.0.1:8080/ && exit 0; i=$((i+1)); sleep 0.1; done; exit 1']);
    expect(client.code, client.stderr).to.equal(0);
    expect(client.stdout).to.equal('from-srv\n');
    expect(await states('duo'), 'the --rm client is gone').to.equal('srv=running');
    expect(await ok('pod', 'ps', '--filter', 'name=^duo$', '--ctr-names', '--noheading', '--format', '{{.ContainerNames}}')).to.equal('srv\n');
    await ok('pod', 'rm', '-f', '-t', '0', 'duo');
  });

  it('pod create -p publishes a port of the pod: a container of the pod serves it to the host', async () => {
    const hostPort = await freePort();
    await ok('pod', 'create', '--name', 'pub', '-p', `${hostPort}:80`);
    await ok('run', '-d', '--pod', 'pub', '--name', 'web', image, ...httpd('hello-from-pod', 80));
    let page = '';
    await until(
      async () => {
        page = await fetchTcp('127.0.0.1', hostPort, 'GET / HTTP/1.0\r\n\r\n').catch(() => '');
        return page.includes('hello-from-pod');
      },
      20_000,
      'the pod\'s published port',
    );
    expect(page).to.match(/^HTTP\/1\.[01] 200/);
    const inspect = JSON.parse(await ok('pod', 'inspect', 'pub')) as { InfraConfig: { PortBindings: Record<string, unknown> } };
    expect(inspect.InfraConfig.PortBindings).to.deep.equal({ '80/tcp': [{ HostIp: '', HostPort: String(hostPort) }] });
    await ok('pod', 'rm', '-f', '-t', '0', 'pub');
    expect(await fetchTcp('127.0.0.1', hostPort).then(() => 'open', () => 'closed'), 'the port after pod rm').to.equal('closed');
  });

  it('pod stop stops the containers run in it (a --rm one is removed), pod start starts them again, pod restart restarts them, pod rm -f removes them', async () => {
    await ok('pod', 'create', '--name', 'life', '--network', 'none');
    const loop = 'trap "exit 7" TERM; while :; do sleep 0.1; done';
    await ok('run', '-d', '--pod', 'life', '--name', 'keep', image, 'sh', '-c', loop);
    await ok('run', '-d', '--rm', '--pod', 'life', '--name', 'temp', image, 'sh', '-c', loop);
    await ok('create', '--pod', 'life', '--name', 'later', image, 'sh', '-c', loop);
    expect(await states('life')).to.equal('keep=running later=created temp=running');
    expect(await podStatus('life')).to.equal('Degraded');

    await ok('pod', 'stop', '-t', '5', 'life');
    expect(await podStatus('life')).to.equal('Exited');
    // The --rm container is removed by its exit command (no CLI left watching it).
    await until(async () => !(await states('life')).includes('temp='), 30_000, 'the --rm container to be removed');
    // The sandbox's stop ends every container of the pod, a created one too (as StopPodSandbox does).
    expect(await states('life')).to.equal('keep=exited later=exited');
    expect((await ok('inspect', 'keep', '--format', '{{.State.ExitCode}}')).trim(), 'its TERM trap ran').to.equal('7');

    await ok('pod', 'start', 'life');
    expect(await podStatus('life')).to.equal('Running');
    expect(await states('life')).to.equal('keep=running later=running');
    const started = (await ok('inspect', 'keep', '--format', '{{.State.StartedAt}}')).trim();

    await ok('pod', 'restart', 'life');
    expect(await states('life')).to.equal('keep=running later=running');
    expect((await ok('inspect', 'keep', '--format', '{{.State.StartedAt}}')).trim(), 'started again').to.not.equal(started);

    const refused = await env.run(['pod', 'rm', 'life']);
    expect(refused.code).to.equal(125);
    await ok('pod', 'rm', '-f', '-t', '0', 'life');
    expect(await ok('ps', '-a', '-q')).to.equal('');
    expect((await env.run(['pod', 'exists', 'life'])).code).to.equal(1);
  });
});
