/**
 * `peapod pod create [NAME]`: makes a pod, as `podman pod create`: a
 * sandbox of owner `cli` through the domain's sandbox code (pinned network,
 * IPC and UTS namespaces; a PID namespace too with `--share +pid`), on the
 * CLI's bridge network (network.ts), none or the host's; prints its ID.
 * The name is unique among pods (the domain's rule); without one a random
 * `adjective_name` is given, as Podman does.
 */
import * as fs from 'node:fs';
import { randomInt } from 'node:crypto';
import type { CliContext } from '../context';
import { CliError } from '../errors';
import { cliNetworkConfDir } from '../config';
import { findPod, listPods, PodRequest, POD_KIND, POD_KIND_ANNOTATION } from '../pods';
import { portMappingsOf } from '../port-mappings';
import type { SandboxSpec } from '../../runtime-service/sandbox/spec';
import { quoteInput } from '../../common/bounded-text';

/** Flags of `pod create`. */
export interface PodCreateOptions {
  cgroupParent?: string;
  dns?: string[];
  dnsOption?: string[];
  dnsSearch?: string[];
  hostname?: string;
  label?: string[];
  labelFile?: string[];
  name?: string;
  network?: string;
  net?: string;
  podIdFile?: string;
  publish?: string[];
  replace?: boolean;
  share?: string;
  sysctl?: string[];
}

/** The namespaces `--share` may name (Podman's), and those a peapod pod always shares. */
const SHAREABLE = ['cgroup', 'ipc', 'net', 'pid', 'uts'];
const ALWAYS_SHARED = ['ipc', 'net', 'uts'];
const DEFAULT_SHARE = 'ipc,net,uts';

/** The longest label file read, and the most labels. */
const MAX_LABEL_FILE_BYTES = 1024 * 1024;
const MAX_LABELS = 1024;

/**
 * `--share`: a comma list replacing the default, or `+ns,…` adding to it.
 * peapod's containers always join their pod's network, IPC and UTS
 * namespaces, so those must be shared; pid is optional.
 * @returns the shared namespaces, sorted as Podman prints them.
 * @throws CliError (125) for an unknown namespace or one of net, ipc, uts left out.
 */
export function parseShare(value: string): string[] {
  const add = value.startsWith('+');
  const listed = (add ? value.slice(1) : value).split(',').map((s) => s.trim()).filter(Boolean);
  for (const ns of listed) if (!SHAREABLE.includes(ns)) throw new CliError(`--share: "${ns}" is not one of ${SHAREABLE.join(', ')}`);
  const shared = new Set(add ? [...DEFAULT_SHARE.split(','), ...listed] : listed);
  const missing = ALWAYS_SHARED.filter((ns) => !shared.has(ns));
  if (missing.length) throw new CliError(`--share: a peapod pod always shares ${ALWAYS_SHARED.join(', ')} (its containers have no such namespaces of their own); ${missing.join(', ')} left out`);
  if (shared.has('cgroup')) throw new CliError('--share: sharing the cgroup namespace is not supported (containers of a pod are in the pod\'s cgroup)');
  const order = ['uts', 'ipc', 'net', 'pid'];
  return order.filter((ns) => shared.has(ns));
}

/** `key=value` (or `key`, value '') lines and flags as labels. @throws CliError (125) for a bad label or file. */
export function parseLabels(flags: string[], files: string[]): Record<string, string> {
  const lines: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      if (fs.statSync(f).size > MAX_LABEL_FILE_BYTES) throw new CliError(`--label-file ${f}: larger than ${MAX_LABEL_FILE_BYTES} bytes`);
      text = fs.readFileSync(f, 'utf8');
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`--label-file ${f}: ${(err as Error).message}`);
    }
    lines.push(...text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
  }
  lines.push(...flags);
  if (lines.length > MAX_LABELS) throw new CliError(`--label: more than ${MAX_LABELS} labels`);
  const labels: Record<string, string> = {};
  for (const l of lines) {
    const eq = l.indexOf('=');
    const key = eq < 0 ? l : l.slice(0, eq);
    if (key === '') throw new CliError(`--label "${l}": the key is empty`);
    labels[key] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return labels;
}

/** `name=value` sysctls. @throws CliError (125) for one without `=`. */
function parseSysctls(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new CliError(`--sysctl "${v}": expected name=value`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

const ADJECTIVES = ['admiring', 'brave', 'busy', 'clever', 'cool', 'eager', 'festive', 'gentle', 'happy', 'jolly', 'keen', 'kind', 'lucid', 'merry', 'nifty', 'quirky', 'relaxed', 'serene', 'sharp', 'stoic', 'sweet', 'tender', 'vibrant', 'wizardly', 'zealous'];
const NAMES = ['archimedes', 'babbage', 'curie', 'darwin', 'euclid', 'fermat', 'galileo', 'hopper', 'hypatia', 'kepler', 'lamarr', 'lovelace', 'mendel', 'newton', 'noether', 'pascal', 'ptolemy', 'raman', 'ritchie', 'shannon', 'tesla', 'torvalds', 'turing', 'wozniak', 'yonath'];

/** A random `adjective_name` no pod has (Podman's naming), or a longer one when the first tries are taken. */
function randomName(taken: Set<string>): string {
  for (let i = 0; i < 20; i++) {
    const n = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}`;
    if (!taken.has(n)) return n;
  }
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}${randomInt(1000, 10000)}`;
}

/** Runs `pod create`; prints the pod ID. @throws CliError (125) for bad flags or a failure of the domain. */
export async function run(ctx: CliContext, args: string[], o: PodCreateOptions): Promise<number> {
  if (args[0] !== undefined && o.name !== undefined && args[0] !== o.name) throw new CliError(`cannot specify the pod name both as an argument (${args[0]}) and with --name (${o.name})`);
  const network = o.net ?? o.network ?? 'bridge';
  if (!['bridge', 'none', 'host', 'private'].includes(network)) throw new CliError(`--network: "${network}" is not one of bridge, none, host`);
  const share = parseShare(o.share ?? DEFAULT_SHARE);
  const labels = parseLabels(o.label ?? [], o.labelFile ?? []);
  const portMappings = await portMappingsOf(o.publish ?? []);
  if (network === 'host' && o.hostname !== undefined) throw new CliError('--hostname: a pod on the host network has the host\'s UTS namespace and hostname');
  if (network !== 'bridge' && network !== 'private' && portMappings.length) throw new CliError(`--publish: ports are published through the bridge network, not with --network ${network}`);
  const peapod = ctx.peapod();
  await peapod.recover({ reconcileRuntime: false, watchExits: false });
  const pods = listPods(peapod);
  let name = o.name ?? args[0];
  if (name !== undefined) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 253) throw new CliError(`--name ${quoteInput(name)}: names are letters, digits, '_', '.' and '-', starting with a letter or digit, at most 253 characters`);
    const existing = findPod(pods, name);
    if (existing && existing.metadata.name === name) {
      if (!o.replace) throw new CliError(`adding pod to state: name "${name}" is in use: pod already exists`);
      await peapod.sandboxes.remove(existing.id);
    }
  } else name = randomName(new Set(pods.map((p) => p.metadata.name)));
  const hostname = network === 'host' ? undefined : (o.hostname ?? name.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63));
  const net =
    network === 'bridge' || network === 'private'
      ? (require('../network') as typeof import('../network')).prepareCliNetwork(cliNetworkConfDir(ctx.config), portMappings.length > 0, { runroot: ctx.config.runroot, locks: peapod.state.locks, warn: (err, msg) => ctx.log.warn({ err }, msg) })
      : undefined;
  const bridge = net?.conf;
  const dns = o.dns?.length || o.dnsSearch?.length || o.dnsOption?.length ? { servers: o.dns ?? [], searches: o.dnsSearch ?? [], options: o.dnsOption ?? [] } : undefined;
  const spec: SandboxSpec = {
    metadata: { name },
    ...(hostname ? { hostname } : {}),
    namespaceOptions: { network: network === 'host' ? 'NODE' : 'POD', ipc: 'POD', pid: share.includes('pid') ? 'POD' : 'CONTAINER' },
    cniNetwork: bridge ?? null,
    portMappings,
    ...(dns ? { dns } : {}),
    sysctls: parseSysctls(o.sysctl ?? []),
    ...(o.cgroupParent ? { cgroupParent: o.cgroupParent } : {}),
    labels,
    annotations: { [POD_KIND_ANNOTATION]: POD_KIND },
  };
  const request: PodRequest = { kind: 'pod', createCommand: ['peapod', ...process.argv.slice(2)], network: network === 'private' ? 'bridge' : network, share };
  let pod;
  try {
    pod = await peapod.sandboxes.create(spec, { request });
  } catch (err) {
    const e = err as Error & { field?: string };
    throw new CliError(`creating pod ${name}: ${e.message}`);
  } finally {
    await net?.masquerade;
  }
  if (o.podIdFile) {
    try {
      fs.writeFileSync(o.podIdFile, pod.id, { flag: 'wx' });
    } catch (err) {
      await peapod.sandboxes.remove(pod.id);
      throw new CliError(`--pod-id-file ${o.podIdFile}: ${(err as Error).message}`);
    }
  }
  ctx.io.stdout.write(`${pod.id}\n`);
  return 0;
}
