/**
 * The CLI's container operations on the shared domain (openPeapod's
 * composition with owner `cli`): making a container with a sandbox of its
 * own or in a pod, starting it (again), removing it with its own sandbox,
 * and recording exits. Every step is a domain call (Sandboxes, Peapod,
 * ContainerEngine); what is the CLI's alone is which sandbox a container
 * gets and the metadata of metadata.ts.
 *
 * Recovery: a short command does not run the domain's full start-up
 * recovery each time. `openContainers` runs it once per boot and runroot
 * (with `runc state` for every container, so containers lost to a reboot
 * are seen exited), marked by `<runroot>/peapod-cli.recovered`; later
 * commands that make or list containers run the light part (interrupted
 * creations of dead CLI processes rolled back, exit files applied) and
 * remove own sandboxes left without their container by a killed CLI.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isProcessAlive, selfIdentity } from '../../common/host/proc';
import type { ImageRecord } from '../../image-service/store/image-store';
import type { CniPortMapping } from '../../runtime-service/cni/runtime-config';
import type { ContainerEngine } from '../../runtime-service/container/engine';
import { ContainerDirs, containerDirs, containerPaths } from '../../runtime-service/container/paths';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { ContainerDevice, ContainerMount, ContainerResources, ContainerSecurity, ContainerSpec, ContainerUser } from '../../runtime-service/container/spec';
import type { Peapod } from '../../runtime-service/peapod';
import type { SandboxRecord } from '../../runtime-service/sandbox/record';
import type { SandboxSpec } from '../../runtime-service/sandbox/spec';
import { cliNetworkConfDir } from '../config';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { findPod, listPods, noSuchPod, OWN_SANDBOX_KIND, POD_KIND_ANNOTATION } from '../pods';
import { exitCommand } from './exit-command';
import { ARGS_ANNOTATION, AUTOREMOVE_ANNOTATION, IMAGE_ANNOTATION, hasOwnSandbox, isAutoremove, isOwnSandbox, SANDBOX_ANNOTATION, STOP_TIMEOUT_ANNOTATION, stopTimeoutOf } from './metadata';
import { quoteInput } from '../../common/bounded-text';

/** The marker of a runroot the CLI has recovered since boot. */
const RECOVERED_MARKER = 'peapod-cli.recovered';

/** The domain as the container commands use it. */
export interface CliContainers {
  peapod: Peapod;
  engine: ContainerEngine;
  dirs: ContainerDirs;
}

/**
 * The domain for container commands, recovered as the module doc says.
 * @param options.recover the light recovery (default true); the once-per-boot one always runs when due
 */
export async function openContainers(ctx: CliContext, options: { recover?: boolean } = {}): Promise<CliContainers> {
  const peapod = ctx.peapod();
  const dirs = containerDirs(ctx.config.root, ctx.config.runroot);
  const marker = path.join(ctx.config.runroot, RECOVERED_MARKER);
  if (!fs.existsSync(marker)) {
    await peapod.recover({ reconcileRuntime: true, watchExits: false });
    await removeOrphanSandboxes(peapod);
    fs.mkdirSync(ctx.config.runroot, { recursive: true });
    fs.writeFileSync(marker, `${process.pid}\n`);
  } else if (options.recover ?? true) {
    await peapod.recover({ reconcileRuntime: false, watchExits: false });
    await removeOrphanSandboxes(peapod);
  }
  return { peapod, engine: peapod.containers, dirs };
}

/**
 * Removes the CLI's own sandboxes that have no container and whose creator
 * is gone: a CLI killed between making a container's sandbox and its
 * container (or between removing the two) left them.
 */
async function removeOrphanSandboxes(peapod: Peapod): Promise<void> {
  const used = new Set(peapod.containers.list().map((c) => c.sandboxId));
  for (const sb of peapod.sandboxes.list()) {
    if (!isOwnSandbox(sb) || used.has(sb.id)) continue;
    if (peapod.state.db.prepare('SELECT 1 FROM containers WHERE pod_id = ?').get(sb.id)) continue; // one being created
    const creator = peapod.sandboxes.store.creator(sb.id);
    if (creator && isProcessAlive(creator)) continue;
    await peapod.sandboxes.remove(sb.id);
  }
}

/**
 * The container engine alone, for commands that touch no pod and no image
 * (exec, logs -f, wait, kill): no recovery, nothing else loaded.
 */
export function openEngine(ctx: CliContext): ContainerEngine {
  return ctx.containerEngine();
}

/** Which network a container's own sandbox gets (`--network`). */
export type NetworkChoice = 'bridge' | 'none' | 'host';

/** What the CLI makes a container from. */
export interface CliCreateRequest {
  image: ImageRecord;
  /** The image as the user typed it. */
  imageName: string;
  /** Default: a random adjective_surname. */
  name: string;
  /** The command after the image (replaces the image's Cmd). */
  cmd: string[];
  entrypoint?: string[];
  env: { name: string; value: string }[];
  workingDir?: string;
  user?: ContainerUser;
  tty: boolean;
  /** Keep the container's stdin open (`-i`). */
  interactive: boolean;
  mounts: ContainerMount[];
  resources?: ContainerResources;
  labels: Record<string, string>;
  autoremove: boolean;
  /** Seconds `stop` waits by default. */
  stopTimeout?: number;
  /** A pod to join (name or ID); absent: a sandbox of its own. */
  pod?: string;
  /** For a sandbox of its own. */
  network: NetworkChoice;
  hostname?: string;
  ports: CniPortMapping[];
  /** This process handles the container's exit itself (run attached): the exit command skips while it lives. */
  attached: boolean;
  /** Seccomp, capabilities, privileged, read-only root (security-flags.ts: Podman's defaults unless the flags say otherwise). */
  security?: ContainerSecurity;
  /** Host devices handed on (those of --privileged). */
  devices?: ContainerDevice[];
}

/**
 * A pod made with `peapod pod create`, by name, ID or unique ID prefix.
 * @throws CliError (125) when there is none.
 */
function mustFindPod(peapod: Peapod, ref: string): SandboxRecord {
  const pod = findPod(listPods(peapod), ref);
  if (!pod) throw noSuchPod(ref);
  return pod;
}

/**
 * The sandbox spec of a container's own sandbox, and the bridge network's
 * masquerade rule being installed (network.ts prepareCliNetwork: the caller
 * awaits it; it never rejects).
 */
function ownSandboxSpec(ctx: CliContext, c: CliContainers, r: CliCreateRequest, id: string): { spec: SandboxSpec; masquerade: Promise<void> } {
  const spec: SandboxSpec = {
    // The uid keeps it apart from any pod of the same name; the container's name is the one users see.
    metadata: { name: r.name, namespace: '', uid: id },
    hostname: r.hostname ?? id.slice(0, 12),
    namespaceOptions: { network: r.network === 'host' ? 'NODE' : 'POD', pid: 'CONTAINER', ipc: 'POD' },
    annotations: { [POD_KIND_ANNOTATION]: OWN_SANDBOX_KIND },
    portMappings: r.ports,
  };
  let masquerade = Promise.resolve();
  if (r.network === 'none') spec.cniNetwork = null;
  if (r.network === 'bridge') {
    const { prepareCliNetwork } = require('../network') as typeof import('../network');
    const net = prepareCliNetwork(cliNetworkConfDir(ctx.config), r.ports.length > 0, {
      runroot: ctx.config.runroot,
      locks: c.peapod.state.locks,
      warn: (err, msg) => ctx.log.warn({ err }, msg),
    });
    spec.cniNetwork = net.conf;
    masquerade = net.masquerade;
  }
  return { spec, masquerade };
}

/**
 * Makes a container (state created): its own sandbox first unless it joins
 * a pod, then the container with a unique name and the exit command; a
 * failure removes the sandbox made for it.
 * @throws CliError (125) for a bad combination (--pod with --network,
 *   --hostname or -p) or an unknown pod; the domain's errors (e.g. the
 *   name in use, a runtime that cannot run the command).
 */
export async function createCliContainer(ctx: CliContext, c: CliContainers, r: CliCreateRequest): Promise<ContainerRecord> {
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const id = randomBytes(32).toString('hex');
  const spec: ContainerSpec = {
    name: r.name,
    image: { name: r.image.id, userSpecified: r.imageName },
    cmd: r.cmd.length ? r.cmd : undefined,
    entrypoint: r.entrypoint,
    env: [{ name: 'container', value: 'peapod' }, ...r.env],
    workingDir: r.workingDir,
    user: r.user,
    tty: r.tty,
    // With a terminal, input goes through it (conmon -t alone, as Podman); without, a pipe closed at the first client's EOF.
    stdin: r.interactive && !r.tty,
    stdinOnce: r.interactive && !r.tty,
    mounts: r.mounts,
    devices: r.devices,
    security: r.security,
    resources: r.resources,
    labels: r.labels,
    annotations: {
      [AUTOREMOVE_ANNOTATION]: r.autoremove ? 'true' : 'false',
      [SANDBOX_ANNOTATION]: r.pod ? 'pod' : 'own',
      [ARGS_ANNOTATION]: JSON.stringify(processArgsFor(r)),
      [IMAGE_ANNOTATION]: displayImageName(r.image, r.imageName),
      ...(r.stopTimeout !== undefined ? { [STOP_TIMEOUT_ANNOTATION]: String(r.stopTimeout) } : {}),
    },
    logPath: undefined,
  };
  const options = {
    id,
    uniqueName: true,
    exitCommand: exitCommand(ctx.config, ctx.globals, id, r.attached ? selfIdentity() : undefined),
  };
  if (r.pod) {
    if (r.network !== 'bridge' || r.hostname !== undefined || r.ports.length > 0) {
      throw new CliError('invalid config provided: --network, --hostname and --publish belong to the pod (set them at pod create) when joining one', EXIT_ENGINE);
    }
    const pod = mustFindPod(c.peapod, r.pod);
    // The pod's own setting (pod create --sysctl) stands.
    if (!pod.hostNetwork && !('net.ipv4.ping_group_range' in pod.sysctls)) spec.sysctls = pingSysctl();
    return c.peapod.createContainer(pod.id, spec, options);
  }
  // The name first, so a taken one fails before a sandbox is made for nothing (creation checks it again, atomically).
  if (c.engine.findByName(r.name).length > 0) throw new CliError(`the container name ${quoteInput(r.name)} is already in use by ${c.engine.findByName(r.name)[0].id}. You have to remove that container to be able to reuse that name: that name is already in use`, EXIT_ENGINE);
  if (r.network !== 'host') spec.sysctls = pingSysctl();
  const own = ownSandboxSpec(ctx, c, r, id);
  try {
    const sb = await c.peapod.sandboxes.create(own.spec, { request: { cli: 'container', network: r.network } });
    try {
      return await c.peapod.createContainer(sb.id, spec, options);
    } catch (err) {
      await c.peapod.sandboxes.remove(sb.id).catch((e) => ctx.log.warn({ sandbox: sb.id, err: e }, 'removing the sandbox of a failed container'));
      throw err;
    }
  } finally {
    // The rule's iptables ran beside the sandbox's set-up; none is left running.
    await own.masquerade;
  }
}

/** Ping without CAP_NET_RAW in a network namespace of the pod's own, as Podman's default_sysctls (set by runc in the container's spec: no process of ours). */
function pingSysctl(): Record<string, string> {
  return { ...(require('./security-flags') as typeof import('./security-flags')).PING_SYSCTL };
}

/** The stored name `typed` resolved to (as Podman shows it: `docker.io/library/busybox:latest`), else the first name, else the ID. */
function displayImageName(img: ImageRecord, typed: string): string {
  const { parseReference, formatReference } = require('../../image-service/reference') as typeof import('../../image-service/reference');
  try {
    const ref = parseReference(typed);
    const full = formatReference(ref);
    if (img.repoTags.includes(full)) return full;
    if (ref.shortName) {
      const tail = `/${ref.path.replace(/^library\//, '')}:${ref.tag}`;
      const hit = img.repoTags.find((t) => t.endsWith(tail));
      if (hit) return hit;
    }
  } catch {
    /* an ID or a prefix */
  }
  return img.repoTags[0] ?? img.id.replace(/^sha256:/, '');
}

/** The process's arguments as the image and the request give them (for ps; the OCI config has the real ones). */
function processArgsFor(r: CliCreateRequest): string[] {
  const cfg = r.image.config.config ?? {};
  const entry = r.entrypoint && r.entrypoint.length ? r.entrypoint : (cfg.Entrypoint ?? []);
  const cmd = r.cmd.length ? r.cmd : r.entrypoint && r.entrypoint.length ? [] : (cfg.Cmd ?? []);
  return [...entry, ...cmd];
}

/**
 * Makes a container runnable and runs it: a created one is started, an
 * exited one made again first (with a fresh exit command), a running one
 * is left alone.
 * @param attached this process handles the exit (start -a, run): the exit command skips while it lives
 * @param beforeStart run (and awaited) just before the start, with the record about to start (attach there)
 * @returns the record after the start.
 */
export async function startCliContainer(ctx: CliContext, c: CliContainers, rec: ContainerRecord, attached: boolean, beforeStart?: (rec: ContainerRecord) => void | Promise<void>): Promise<ContainerRecord> {
  let cur = (await c.engine.refresh(rec.id)) ?? rec;
  if (cur.state === 'running') return cur;
  if (cur.state === 'exited') {
    if (hasOwnSandbox(cur)) await ensureSandboxReady(c, cur);
    cur = await c.engine.recreate(cur.id, { exitCommand: exitCommand(ctx.config, ctx.globals, cur.id, attached ? selfIdentity() : undefined) });
  }
  // A rootless pod network (slirp4netns) that died since is started again first.
  await c.peapod.sandboxes.ensureNetwork(cur.sandboxId);
  await beforeStart?.(cur);
  await c.engine.start(cur.id);
  return c.engine.get(cur.id);
}

/** A container's own sandbox must still be ready to run it again. */
async function ensureSandboxReady(c: CliContainers, rec: ContainerRecord): Promise<void> {
  const sb = c.peapod.sandboxes.get(rec.sandboxId);
  const now = sb ? c.peapod.sandboxes.refresh(sb) : undefined;
  if (!now || now.state !== 'ready') throw new CliError(`container ${rec.metadata.name} lost its network and namespaces (the host rebooted?): remove it and run a new one`, EXIT_ENGINE);
}

/**
 * Stops a container: its stop signal, `timeoutSec` of grace (default its
 * --stop-timeout, else 10), then SIGKILL; a warning on stderr when SIGKILL
 * was needed, as Podman's.
 */
export async function stopCliContainer(ctx: CliContext, c: CliContainers, rec: ContainerRecord, timeoutSec?: number): Promise<void> {
  const t = timeoutSec ?? stopTimeoutOf(rec);
  c.engine.watch();
  const started = Date.now();
  await c.engine.stop(rec.id, t);
  if (t > 0 && Date.now() - started >= t * 1000) {
    ctx.io.stderr.write(`time="${new Date().toISOString().slice(0, 19)}Z" level=warning msg="StopSignal ${rec.stopSignal} failed to stop container ${rec.metadata.name} in ${t} seconds, resorting to SIGKILL"\n`);
  }
}

/**
 * Removes a container and, when it was its own, its sandbox (network, namespaces).
 * A created or running container is stopped first (`timeoutSec` of grace).
 */
export async function removeCliContainer(ctx: CliContext, c: CliContainers, rec: ContainerRecord, timeoutSec?: number): Promise<void> {
  const now = c.engine.find(rec.id);
  if (now && now.state !== 'exited') await stopCliContainer(ctx, c, now, timeoutSec);
  // Its own sandbox goes with it, the network and pins while the container is torn down (remove-exited.ts).
  if (hasOwnSandbox(rec)) await c.peapod.sandboxes.removeWithExitedContainers(rec.sandboxId);
  await c.engine.remove(rec.id);
}

/**
 * After an exit (the exit command, or the attached CLI): records it from
 * conmon's exit file and removes an autoremove container.
 * @returns the record as it ended (exited, or still running when it was
 *   not), and whether it was removed now; undefined when it was already gone.
 */
export async function cleanupCliContainer(ctx: CliContext, c: CliContainers, id: string): Promise<{ rec: ContainerRecord; removed: boolean } | undefined> {
  const found = c.engine.find(id);
  if (!found) return undefined;
  const rec = await c.engine.refresh(found.id);
  if (rec.state !== 'exited' || !isAutoremove(rec)) return { rec, removed: false };
  await removeCliContainer(ctx, c, rec, 0);
  return { rec, removed: true };
}

/** The paths of a CLI container (log file, bundle). */
export function pathsOf(c: CliContainers, rec: ContainerRecord): ReturnType<typeof containerPaths> {
  return containerPaths(c.dirs, rec.id);
}
