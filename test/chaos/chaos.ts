/**
 * The crash-consistency test: a mixed workload against a real peapod-cri
 * (pods and containers created, started, stopped, removed, exec'd into,
 * images pulled and removed, by a few concurrent workers), SIGKILLed at a
 * random point of each round, restarted (sometimes killed again during its
 * recovery), and checked:
 *
 * - after each restart (model.ts): nothing acknowledged is lost, nothing
 *   removed comes back, nothing appears unasked, running containers are
 *   still running (and one answers an ExecSync);
 * - every few rounds and at the end, everything is removed through the API
 *   and, once the API lists nothing, nothing is left on the host (host.ts):
 *   no process, mount, namespace pin, link, lease, cgroup, lock or state
 *   directory;
 * - no call answered while the server lived fails (but the refusals the
 *   CRI defines, such as removing an image a container uses).
 *
 * Every choice (operations, their objects, kill delays, restarts) comes from
 * one seeded generator: the seed is printed, and a failing seed replays the
 * same schedule (timing still varies with the machine's load). Each round is
 * bounded in time.
 */
import * as grpc from '@grpc/grpc-js';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ContainerConfig } from '../../src/generated/runtime/v1/ContainerConfig';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { buildImage, busyboxFiles, pushImage } from '../fixtures/image-builder';
import { makeTestCniNetwork, TestCniNetwork } from '../integration/harness/cni-net';
import { connectCri, CriClient, waitForCri } from '../integration/harness/client';
import { startRegistry, TestRegistry } from '../integration/harness/registry';
import { PEAPOD_CRI_MAIN } from '../integration/harness/server';
import { hostLeftovers, HostPlaces, removeCgroupParent } from './host';
import { CtrModel, ImageModel, Known, PodModel, reconcile, World } from './model';
import { Rng } from './rng';

/** How a chaos run goes. */
export interface ChaosOptions {
  rounds: number;
  seed: number;
  /** Remove everything and check the host every this many rounds, and after the last (default 5). */
  drainEvery?: number;
  /** Most a round (workload, kill, restart, checks) may take, in ms (default 120000). */
  roundTimeoutMs?: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** What a run did. */
export interface ChaosReport {
  seed: number;
  rounds: number;
  /** SIGKILLs sent, during the workload and during recovery. */
  kills: number;
  /** Rounds that ended by removing everything and checking the host. */
  drains: number;
  /** Calls answered OK, cut off by a kill, refused as the CRI defines. */
  calls: { acknowledged: number; cutOff: number; refused: number };
  /** Leftovers that went away on their own within the settle time of a drain (not failures; worth a look). */
  notes: string[];
}

/** A run that found a fault: the message names the seed, the round and what broke. */
export class ChaosFailure extends Error {
  constructor(
    message: string,
    readonly seed: number,
    readonly round: number,
  ) {
    super(message);
    this.name = 'ChaosFailure';
  }
}

/** How long the server may take to answer after a start, in ms. */
const START_TIMEOUT_MS = 60_000;
/** Deadline of each call of the workload, in ms. */
const CALL_DEADLINE_MS = 60_000;
/** How long leftovers may take to go after the API removed everything, in ms. */
const SETTLE_MS = 10_000;
/** Limits of the world, so rounds stay short. */
const MAX_PODS = 3;
const MAX_CTRS_PER_POD = 3;
/** A container that runs until stopped (and stops promptly on SIGTERM). */
const LONG_RUNNING = ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'];

/** A peapod-cri process of the run. */
interface Server {
  child: ChildProcess;
  client: CriClient;
  /** The last lines it wrote on stderr. */
  tail: string[];
}

/** Everything one run holds. */
interface Run {
  opts: Required<Omit<ChaosOptions, 'log'>> & { log: (line: string) => void };
  rng: Rng;
  places: HostPlaces;
  configFile: string;
  configDir: string;
  socket: string;
  logDir: string;
  baseImage: string;
  extraImage: string;
  server?: Server;
  world: World;
  /** Every pod and container ID seen. */
  ids: Set<string>;
  report: ChaosReport;
  /** Set when the kill of the current round is sent: errors after it are cut-offs. */
  killed: boolean;
  round: number;
  podCounter: number;
  ctrCounter: number;
  violations: string[];
}

function startServer(run: Run): Server {
  const child = spawn(
    process.execPath,
    [PEAPOD_CRI_MAIN, '--config', run.configFile, '--config-dir', run.configDir, '--socket', run.socket, '--root', run.places.root, '--runroot', run.places.runroot],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const tail: string[] = [];
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    tail.push(...lines);
    if (tail.length > 300) tail.splice(0, tail.length - 300);
  });
  return { child, client: connectCri(run.socket), tail };
}

function alive(s: Server): boolean {
  return s.child.exitCode === null && s.child.signalCode === null;
}

async function killServer(run: Run): Promise<void> {
  const s = run.server;
  if (!s) return;
  if (alive(s)) {
    s.child.kill('SIGKILL');
    await new Promise((r) => s.child.once('exit', r));
  }
  s.client.close();
  run.report.kills++;
  run.server = undefined;
}

/** Starts the server and waits until it answers; with probability 0.15 kills it once during its recovery first. */
async function restart(run: Run): Promise<void> {
  if (run.rng.chance(0.15)) {
    const s = startServer(run);
    run.server = s;
    const delay = run.rng.int(0, 400);
    await new Promise((r) => setTimeout(r, delay));
    run.opts.log(`  kill during start-up after ${delay} ms`);
    await killServer(run);
  }
  const s = startServer(run);
  run.server = s;
  const ready = await waitForCri(s.client, () => !alive(s), START_TIMEOUT_MS);
  if (ready !== 'ready') throw new Error(`peapod-cri did not come up (${ready}):\n${s.tail.slice(-30).join('\n')}`);
  run.places.exclude = [s.child.pid!];
}

/** The outcome of one call of the workload. */
type Outcome<T> = { ok: true; value: T } | { ok: false; cut: boolean; code: number; message: string };

async function call<T>(run: Run, what: string, p: (client: CriClient, options: grpc.CallOptions) => Promise<T>, refusals: grpc.status[] = []): Promise<Outcome<T>> {
  const s = run.server;
  if (!s || run.killed) return { ok: false, cut: true, code: grpc.status.UNAVAILABLE, message: 'server down' };
  try {
    const value = await p(s.client, { deadline: Date.now() + CALL_DEADLINE_MS });
    run.report.calls.acknowledged++;
    return { ok: true, value };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (run.killed || !alive(s)) {
      run.report.calls.cutOff++;
      return { ok: false, cut: true, code: e.code, message: e.details ?? e.message };
    }
    if (refusals.includes(e.code)) {
      run.report.calls.refused++;
      return { ok: false, cut: false, code: e.code, message: e.details ?? e.message };
    }
    run.violations.push(`${what} failed while the server ran: ${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}`);
    return { ok: false, cut: false, code: e.code, message: e.details ?? e.message };
  }
}

function podConfig(run: Run, name: string): PodSandboxConfig {
  return {
    metadata: { name, namespace: 'peapod-chaos', uid: run.rng.int(0, 0xffffff).toString(16).padStart(6, '0') + name, attempt: 0 },
    hostname: name,
    log_directory: path.join(run.logDir, name),
    linux: {
      cgroup_parent: run.places.cgroupParent,
      security_context: { namespace_options: { network: 'POD', pid: run.rng.pick(['POD', 'CONTAINER'] as const), ipc: 'POD' } },
    },
  };
}

const definite = (k: Known): boolean => k !== 'maybe';
const idle = (p: PodModel, world: World): boolean => !p.busy && world.ctrs.every((c) => c.pod !== p || !c.busy);

/** One operation of the workload, chosen from what the model allows, run to its answer. */
async function step(run: Run): Promise<void> {
  const { rng, world } = run;
  const pods = world.pods.filter((p) => p.exists === 'yes' && definite(p.ready) && p.id);
  const readyPods = pods.filter((p) => p.ready === 'yes' && !p.busy && world.ctrs.filter((c) => c.pod === p && c.exists !== 'no').length < MAX_CTRS_PER_POD);
  const ctrs = world.ctrs.filter((c) => c.exists === 'yes' && c.state !== 'maybe' && c.id && !c.busy && !c.pod.busy);
  const extra = world.images[0];
  const choices: [number, () => Promise<void>][] = [
    [world.pods.filter((p) => p.exists !== 'no').length < MAX_PODS ? 2 : 0, () => runPod(run)],
    [readyPods.length ? 4 : 0, () => createCtr(run, rng.pick(readyPods))],
    [ctrs.some((c) => c.state === 'CONTAINER_CREATED') ? 4 : 0, () => startCtr(run, rng.pick(ctrs.filter((c) => c.state === 'CONTAINER_CREATED')))],
    [ctrs.some((c) => c.state !== 'CONTAINER_EXITED') ? 2 : 0, () => stopCtr(run, rng.pick(ctrs.filter((c) => c.state !== 'CONTAINER_EXITED')))],
    [ctrs.length ? 2 : 0, () => removeCtr(run, rng.pick(ctrs))],
    [ctrs.some((c) => c.state === 'CONTAINER_RUNNING') ? 2 : 0, () => execSync(run, rng.pick(ctrs.filter((c) => c.state === 'CONTAINER_RUNNING')))],
    [pods.some((p) => p.ready === 'yes' && idle(p, world)) ? 1 : 0, () => stopPod(run, rng.pick(pods.filter((p) => p.ready === 'yes' && idle(p, world))))],
    [pods.some((p) => idle(p, world)) ? 1 : 0, () => removePod(run, rng.pick(pods.filter((p) => idle(p, world))))],
    [!extra.busy && extra.present === 'no' ? 1 : 0, () => pullImage(run, extra)],
    [!extra.busy && extra.present === 'yes' ? 1 : 0, () => removeImage(run, extra)],
    [1, () => list(run)],
  ];
  const total = choices.reduce((n, [w]) => n + w, 0);
  let at = rng.next() * total;
  for (const [w, fn] of choices) {
    if (at < w) return fn();
    at -= w;
  }
}

async function runPod(run: Run): Promise<void> {
  const name = `pod${run.podCounter++}`;
  const config = podConfig(run, name);
  const pod: PodModel = { name, config, exists: 'maybe', ready: 'maybe', busy: true };
  run.world.pods.push(pod);
  const r = await call(run, `RunPodSandbox ${name}`, (c, o) => c.runtime.RunPodSandbox({ config }, o));
  pod.busy = false;
  if (r.ok) {
    Object.assign(pod, { id: r.value.pod_sandbox_id, exists: 'yes', ready: 'yes' });
    run.ids.add(r.value.pod_sandbox_id);
  } else if (!r.cut) pod.exists = 'no';
}

async function createCtr(run: Run, pod: PodModel): Promise<void> {
  const extra = run.world.images[0];
  const useExtra = extra.present === 'yes' && !extra.busy && run.rng.chance(0.4);
  const name = `c${run.ctrCounter++}`;
  const ctr: CtrModel = { name, pod, image: useExtra ? extra.ref : run.baseImage, exists: 'maybe', state: 'maybe', busy: true };
  const config: ContainerConfig = { metadata: { name, attempt: 0 }, image: { image: ctr.image }, command: LONG_RUNNING, log_path: `${name}.log` };
  run.world.ctrs.push(ctr);
  pod.busy = true;
  if (useExtra) extra.busy = true;
  const r = await call(run, `CreateContainer ${name}`, (c, o) => c.runtime.CreateContainer({ pod_sandbox_id: pod.id!, config, sandbox_config: pod.config }, o));
  pod.busy = false;
  ctr.busy = false;
  if (useExtra) extra.busy = false;
  if (r.ok) {
    Object.assign(ctr, { id: r.value.container_id, exists: 'yes', state: 'CONTAINER_CREATED' });
    run.ids.add(r.value.container_id);
  } else if (!r.cut) ctr.exists = 'no';
}

/** Runs a call on one container, marked busy meanwhile; `after` gives the model's state on an acknowledgement. */
async function onCtr(run: Run, ctr: CtrModel, what: string, fn: (c: CriClient, o: grpc.CallOptions) => Promise<unknown>, onAck: () => void): Promise<void> {
  ctr.busy = true;
  const r = await call(run, `${what} ${ctr.name} (${ctr.id})`, fn);
  ctr.busy = false;
  if (r.ok) onAck();
  else if (r.cut) ctr.state = 'maybe';
}

function startCtr(run: Run, ctr: CtrModel): Promise<void> {
  return onCtr(run, ctr, 'StartContainer', (c, o) => c.runtime.StartContainer({ container_id: ctr.id! }, o), () => (ctr.state = 'CONTAINER_RUNNING'));
}

function stopCtr(run: Run, ctr: CtrModel): Promise<void> {
  const timeout = run.rng.int(0, 2);
  return onCtr(run, ctr, `StopContainer(timeout ${timeout})`, (c, o) => c.runtime.StopContainer({ container_id: ctr.id!, timeout }, o), () => (ctr.state = 'CONTAINER_EXITED'));
}

async function removeCtr(run: Run, ctr: CtrModel): Promise<void> {
  ctr.busy = true;
  const r = await call(run, `RemoveContainer ${ctr.name} (${ctr.id})`, (c, o) => c.runtime.RemoveContainer({ container_id: ctr.id! }, o));
  ctr.busy = false;
  if (r.ok) ctr.exists = 'no';
  else if (r.cut) Object.assign(ctr, { exists: 'maybe', state: 'maybe' });
}

async function execSync(run: Run, ctr: CtrModel): Promise<void> {
  ctr.busy = true;
  const r = await call(run, `ExecSync ${ctr.name} (${ctr.id})`, (c, o) => c.runtime.ExecSync({ container_id: ctr.id!, cmd: ['echo', 'hi'], timeout: 30 }, o));
  ctr.busy = false;
  if (r.ok && (r.value.exit_code !== 0 || r.value.stdout.toString() !== 'hi\n')) {
    run.violations.push(`ExecSync echo hi in ${ctr.name} (${ctr.id}) answered exit ${r.value.exit_code}, stdout ${JSON.stringify(r.value.stdout.toString())}, stderr ${JSON.stringify(r.value.stderr.toString())}`);
  }
}

async function stopPod(run: Run, pod: PodModel): Promise<void> {
  pod.busy = true;
  const r = await call(run, `StopPodSandbox ${pod.name} (${pod.id})`, (c, o) => c.runtime.StopPodSandbox({ pod_sandbox_id: pod.id! }, o));
  pod.busy = false;
  const mine = run.world.ctrs.filter((c) => c.pod === pod);
  if (r.ok) {
    pod.ready = 'no';
    for (const c of mine) c.state = 'CONTAINER_EXITED';
  } else if (r.cut) {
    pod.ready = 'maybe';
    for (const c of mine) c.state = 'maybe';
  }
}

async function removePod(run: Run, pod: PodModel): Promise<void> {
  pod.busy = true;
  const r = await call(run, `RemovePodSandbox ${pod.name} (${pod.id})`, (c, o) => c.runtime.RemovePodSandbox({ pod_sandbox_id: pod.id! }, o));
  pod.busy = false;
  const mine = run.world.ctrs.filter((c) => c.pod === pod);
  if (r.ok) {
    // Kept, as facts, until the next reconcile: removed things must not come back.
    pod.exists = 'no';
    for (const c of mine) c.exists = 'no';
  } else if (r.cut) {
    Object.assign(pod, { exists: 'maybe', ready: 'maybe' });
    for (const c of mine) Object.assign(c, { exists: 'maybe', state: 'maybe' });
  }
}

async function pullImage(run: Run, img: ImageModel): Promise<void> {
  img.busy = true;
  const r = await call(run, `PullImage ${img.ref}`, (c, o) => c.image.PullImage({ image: { image: img.ref } }, o));
  img.busy = false;
  if (r.ok) img.present = 'yes';
  else if (r.cut) img.present = 'maybe';
}

async function removeImage(run: Run, img: ImageModel): Promise<void> {
  img.busy = true;
  // An image a container uses is refused (FAILED_PRECONDITION): a CRI refusal, not a fault.
  const r = await call(run, `RemoveImage ${img.ref}`, (c, o) => c.image.RemoveImage({ image: { image: img.ref } }, o), [grpc.status.FAILED_PRECONDITION]);
  img.busy = false;
  if (r.ok) img.present = 'no';
  else if (r.cut) img.present = 'maybe';
}

async function list(run: Run): Promise<void> {
  await call(run, 'ListContainers', (c, o) => c.runtime.ListContainers({}, o));
  await call(run, 'ListPodSandbox', (c, o) => c.runtime.ListPodSandbox({}, o));
}

/** The server's view, for reconcile. */
async function listing(run: Run): Promise<Parameters<typeof reconcile>[1]> {
  const c = run.server!.client;
  const o = (): grpc.CallOptions => ({ deadline: Date.now() + CALL_DEADLINE_MS });
  const pods = (await c.runtime.ListPodSandbox({}, o())).items.map((p) => ({ id: p.id, name: p.metadata?.name ?? '', state: p.state }));
  const ctrs = (await c.runtime.ListContainers({}, o())).containers.map((x) => ({ id: x.id, podId: x.pod_sandbox_id, name: x.metadata?.name ?? '', state: x.state }));
  const imageTags = (await c.image.ListImages({}, o())).images.flatMap((i) => i.repo_tags);
  for (const p of pods) run.ids.add(p.id);
  for (const x of ctrs) run.ids.add(x.id);
  return { pods, ctrs, imageTags };
}

/** After a restart: the facts hold (model.ts), and a running container still answers. */
async function checkAfterRestart(run: Run): Promise<void> {
  run.violations.push(...reconcile(run.world, await listing(run)));
  const running = run.world.ctrs.filter((c) => c.state === 'CONTAINER_RUNNING');
  if (running.length) await execSync(run, run.rng.pick(running));
}

/** Removes everything through the API; once it lists nothing, the host must hold nothing of the run. */
async function drain(run: Run): Promise<void> {
  const c = run.server!.client;
  const o = (): grpc.CallOptions => ({ deadline: Date.now() + CALL_DEADLINE_MS });
  for (const p of (await c.runtime.ListPodSandbox({}, o())).items) await call(run, `drain: RemovePodSandbox ${p.id}`, (cl, opt) => cl.runtime.RemovePodSandbox({ pod_sandbox_id: p.id }, opt));
  for (const x of (await c.runtime.ListContainers({}, o())).containers) {
    run.violations.push(`container ${x.id} outlived the removal of its pod ${x.pod_sandbox_id}`);
    await call(run, `drain: RemoveContainer ${x.id}`, (cl, opt) => cl.runtime.RemoveContainer({ container_id: x.id }, opt));
  }
  const extra = run.world.images[0];
  if (extra.present !== 'no') await call(run, `drain: RemoveImage ${extra.ref}`, (cl, opt) => cl.image.RemoveImage({ image: { image: extra.ref } }, opt));
  extra.present = 'no';
  run.world.pods = [];
  run.world.ctrs = [];
  const after = await listing(run);
  if (after.pods.length || after.ctrs.length) run.violations.push(`after removing everything the API still lists ${after.pods.length} pods and ${after.ctrs.length} containers`);
  // The API lists nothing: the host must hold nothing of the run. A leftover
  // that goes away on its own within the settle time is noted, not failed.
  const first = await hostLeftovers(run.places, run.ids);
  let left = first;
  const deadline = Date.now() + SETTLE_MS;
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = await hostLeftovers(run.places, run.ids);
  }
  for (const l of first) if (!left.includes(l)) run.report.notes.push(`round ${run.round}: went away only after the removal answered: ${l}`);
  for (const l of left) run.violations.push(`left on the host after everything was removed: ${l}`);
  run.report.drains++;
}

/** One round: workers until the kill, the kill, the restart, the checks. */
async function round(run: Run): Promise<void> {
  run.killed = false;
  const killAfter = run.rng.int(20, 3000);
  const workers = run.rng.int(1, 4);
  run.opts.log(`round ${run.round}: ${workers} workers, kill after ${killAfter} ms`);
  const work = Array.from({ length: workers }, async () => {
    while (!run.killed) await step(run);
  });
  await new Promise((r) => setTimeout(r, killAfter));
  run.killed = true;
  await killServer(run);
  await Promise.all(work);
  await restart(run);
  run.killed = false;
  await checkAfterRestart(run);
}

/** Fails the run when a check found something. */
function throwIfViolated(run: Run): void {
  if (run.violations.length === 0) return;
  const tail = run.server ? run.server.tail.slice(-40).join('\n') : '';
  throw new ChaosFailure(
    `chaos seed ${run.report.seed}, round ${run.round}:\n  ${run.violations.join('\n  ')}\n(replay: npm run chaos -- --rounds ${run.round + 1} --seed ${run.report.seed})\nlast lines of peapod-cri:\n${tail}`,
    run.report.seed,
    run.round,
  );
}

/** Makes a temp directory. */
function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** After a failed run: removes by force what the run left (mounts, processes, runtime state), so the machine stays usable. */
function forceClean(places: HostPlaces, ids: Iterable<string>): void {
  const mounts = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(places.dir + '/'))
    .reverse();
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      /* gone */
    }
  }
  const runcRoot = path.join(places.runroot, 'runc');
  for (const id of ids) {
    try {
      execFileSync('/usr/sbin/runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
    } catch {
      /* not known */
    }
  }
  for (const p of fs.readdirSync('/proc').filter((n) => /^[0-9]+$/.test(n))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (Number(p) !== process.pid && ([...ids].some((id) => cmdline.includes(id)) || cmdline.includes(places.dir))) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Runs the crash-consistency test (see the module doc).
 * @returns what it did, when every check held.
 * @throws ChaosFailure naming the seed, the round and every violation.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const opts = { drainEvery: 5, roundTimeoutMs: 120_000, log: () => undefined, ...options };
  const dir = tempDir('peapod-chaos-');
  let network: TestCniNetwork | undefined;
  let registry: TestRegistry | undefined;
  const run: Run = {
    opts,
    rng: new Rng(opts.seed),
    places: {
      dir,
      root: path.join(dir, 'root'),
      runroot: path.join(dir, 'runroot'),
      ipamDir: '',
      bridge: '',
      cgroupParent: `/peapod-chaos-${randomBytes(4).toString('hex')}`,
      exclude: [],
    },
    configFile: path.join(dir, 'peapod.conf'),
    configDir: path.join(dir, 'peapod.conf.d'),
    socket: path.join(dir, 'peapod.sock'),
    logDir: tempDir('peapod-chaos-logs-'),
    baseImage: '',
    extraImage: '',
    world: { pods: [], ctrs: [], images: [] },
    ids: new Set(),
    report: { seed: opts.seed, rounds: 0, kills: 0, drains: 0, calls: { acknowledged: 0, cutOff: 0, refused: 0 }, notes: [] },
    killed: false,
    round: 0,
    podCounter: 0,
    ctrCounter: 0,
    violations: [],
  };
  let clean = false;
  try {
    network = makeTestCniNetwork();
    run.places.ipamDir = path.join(path.dirname(network.confDir), 'ipam', network.name);
    run.places.bridge = network.bridge;
    registry = await startRegistry();
    await pushImage(registry.url, 'chaos/base', 'v1', await buildImage({ layers: [{ files: busyboxFiles() }], config: { Cmd: ['sh'] } }));
    await pushImage(
      registry.url,
      'chaos/extra',
      'v1',
      await buildImage({ layers: [{ files: busyboxFiles() }, { files: [{ type: 'file', path: 'extra.txt', content: 'extra\n' }] }], config: { Cmd: ['sh'], Env: ['EXTRA=1'] } }),
    );
    run.baseImage = `${registry.host}/chaos/base:v1`;
    run.extraImage = `${registry.host}/chaos/extra:v1`;
    run.world.images.push({ ref: run.extraImage, present: 'no', busy: false });
    fs.mkdirSync(run.configDir, { recursive: true });
    fs.writeFileSync(run.configFile, network.configToml);
    await restart(run);
    const pulled = await call(run, `PullImage ${run.baseImage}`, (c, o) => c.image.PullImage({ image: { image: run.baseImage } }, o));
    if (!pulled.ok) throw new Error(`cannot pull the base image: ${pulled.message}`);

    for (run.round = 0; run.round < opts.rounds; run.round++) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ChaosFailure(`chaos seed ${opts.seed}, round ${run.round}: the round took longer than ${opts.roundTimeoutMs} ms`, opts.seed, run.round)), opts.roundTimeoutMs);
      });
      try {
        await Promise.race([
          (async () => {
            await round(run);
            throwIfViolated(run);
            if ((run.round + 1) % opts.drainEvery === 0 || run.round === opts.rounds - 1) {
              run.opts.log(`round ${run.round}: removing everything and checking the host`);
              await drain(run);
              throwIfViolated(run);
            }
          })(),
          bound,
        ]);
      } finally {
        clearTimeout(timer);
      }
      run.report.rounds++;
    }
    clean = true;
    return run.report;
  } finally {
    run.killed = true;
    const s = run.server;
    if (s && alive(s)) {
      s.child.kill('SIGTERM');
      await new Promise((r) => s.child.once('exit', r));
      s.client.close();
    }
    if (!clean) forceClean(run.places, run.ids);
    await registry?.stop().catch(() => undefined);
    network?.cleanup();
    removeCgroupParent(run.places.cgroupParent);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(run.logDir, { recursive: true, force: true });
  }
}
