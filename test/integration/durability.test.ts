import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestServer } from './harness/server';
import { waitFor } from './helpers/wait';

/** One completed system call of an strace -f log: thread id, name, arguments text, result. */
interface Call {
  tid: number;
  name: string;
  args: string;
  result: string;
}

/** Parses `strace -f -y` output, joining `<unfinished ...>` lines with their `resumed` ends, in completion order. */
function parseStrace(text: string): Call[] {
  const started = new Map<number, string>();
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) +(.*)$/.exec(line);
    if (!m) continue;
    const tid = Number(m[1]);
    let rest = m[2];
    if (rest.endsWith(' <unfinished ...>')) {
      started.set(tid, rest.slice(0, -' <unfinished ...>'.length));
      continue;
    }
    if (rest.startsWith('<... ')) rest = (started.get(tid) ?? '') + rest.replace(/^<\.\.\. \w+ resumed>/, '');
    const c = /^(\w+)\((.*)\)\s+= (.*)$/.exec(rest);
    if (c) calls.push({ tid, name: c[1], args: c[2], result: c[3] });
  }
  return calls;
}

/** The tracer pid of every thread of `pid` is set: strace has attached to all of them. */
function allThreadsTraced(pid: number): boolean {
  return fs.readdirSync(`/proc/${pid}/task`).every((t) => /^TracerPid:\s+[1-9]/m.test(fs.readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8')));
}

describe('durable state without fsync on the event loop (issue 12 item 17, issue 15)', function () {
  this.timeout(180_000);
  let server: TestServer;
  let tracer: ChildProcess | undefined;
  let image: string;
  let logRoot: string;
  let stack: CriStack | undefined;

  before(async () => {
    ({ server, image, logRoot } = stack = await startCriStack({ logPrefix: 'peapod-durable-logs-', pull: true }));
  });

  after(async () => {
    tracer?.kill('SIGKILL');
    await stack?.stop();
  });

  it('fsyncs the new files and directories of a pod and a container before recording them, never on the event-loop thread', async () => {
    const pid = server.child.pid!;
    const trace = path.join(server.dir, 'durable.strace');
    tracer = spawn('strace', ['-f', '-qq', '-y', '-s', '256', '-p', String(pid), '-e', 'trace=fsync,fdatasync,sync_file_range,pwrite64', '-o', trace], { stdio: 'ignore' });
    await waitFor(() => allThreadsTraced(pid), 20_000, 'strace to attach to every thread of peapod-cri');

    const uid = randomBytes(8).toString('hex');
    const podConfig = {
      metadata: { name: 'durable', namespace: 'peapod-test', uid, attempt: 0 },
      hostname: 'durable',
      log_directory: path.join(logRoot, 'durable'),
      linux: { security_context: { namespace_options: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    };
    const podId = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
    const { container_id: id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['sleep', '60'], log_path: 'c/0.log' },
      sandbox_config: podConfig,
    });
    tracer.kill('SIGINT');
    await new Promise((r) => tracer!.once('exit', r));
    tracer = undefined;

    const calls = parseStrace(fs.readFileSync(trace, 'utf8'));
    const syncs = calls.filter((c) => ['fsync', 'fdatasync', 'sync_file_range'].includes(c.name) && c.result === '0');
    // The event loop runs on the main thread, whose thread id is the process id.
    expect(syncs.filter((c) => c.tid === pid).map((c) => `${c.name}(${c.args})`), 'fsyncs on the event loop').to.deep.equal([]);

    /** Index of the completed fsync of `file` (the path strace shows for the fd), or -1. */
    const synced = (file: string): number => calls.findIndex((c) => c.name === 'fsync' && c.result === '0' && c.args.includes(`<${file}>`));
    /** The file of a temp name writeFilesAtomic used for `file`. */
    const syncedTemp = (file: string): number => calls.findIndex((c) => c.name === 'fsync' && c.result === '0' && new RegExp(`<${path.dirname(file)}/\\.${path.basename(file)}\\.\\d+\\.\\d+\\.tmp>`).test(c.args));
    const podDir = path.join(server.root, 'sandboxes', podId);
    const ctrDir = path.join(server.root, 'containers', id);
    for (const [what, at] of [
      ['the sandboxes directory (the new pod entry)', synced(path.join(server.root, 'sandboxes'))],
      ["the pod's state directory", synced(podDir)],
      ['hostname', syncedTemp(path.join(podDir, 'hostname'))],
      ['hosts', syncedTemp(path.join(podDir, 'hosts'))],
      ['resolv.conf', syncedTemp(path.join(podDir, 'resolv.conf'))],
      ['the CNI cache', syncedTemp(path.join(podDir, 'cni.json'))],
      ['the containers directory (the new container entry)', synced(path.join(server.root, 'containers'))],
      ["the container's state directory (upper, work, persist)", synced(ctrDir)],
    ] as const) {
      expect(at, `fsync of ${what}`).to.be.at.least(0);
    }
    // Recorded after: the last write of the state database is CreateContainer's `created` transition.
    const lastRecordWrite = calls.map((c, i) => (c.name === 'pwrite64' && c.args.includes('state.db-wal>') ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    expect(lastRecordWrite).to.be.greaterThan(synced(ctrDir));
    expect(lastRecordWrite).to.be.greaterThan(synced(path.join(server.root, 'containers')));
  });
});
