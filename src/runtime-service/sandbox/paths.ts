import * as path from 'node:path';

/**
 * Where one sandbox keeps its things. Two places, by what must survive what:
 * - the state directory under `root` (persistent disk) holds the record, the
 *   files bound into containers and the CNI cache, so a restart of
 *   peapod-cri, and even a reboot, still knows the sandbox and can run CNI DEL;
 * - the run directory under `runroot` (tmpfs, gone on reboot) holds what
 *   cannot outlive the kernel: the namespace pins (network, IPC, UTS and,
 *   with an infra process, PID) and the /dev/shm tmpfs.
 */
export interface SandboxPaths {
  /** `<root>/sandboxes/<id>`. */
  stateDir: string;
  /** The JSON record. */
  recordFile: string;
  hostnameFile: string;
  hostsFile: string;
  resolvConfFile: string;
  /** The CNI cache: the network configuration used by ADD and its result. */
  cniCacheFile: string;
  /** `<runroot>/sandboxes/<id>`. */
  runDir: string;
  /** Bind-mount pins of the network, IPC and UTS namespaces. */
  netnsPin: string;
  ipcnsPin: string;
  utsnsPin: string;
  /** Bind-mount pin of the PID namespace of the pod's infra process (pid mode POD). */
  pidnsPin: string;
  /** Mount point of the pod's /dev/shm tmpfs. */
  shmDir: string;
}

/** Directory of all sandbox state directories under `root`. */
export function sandboxesStateDir(root: string): string {
  return path.join(root, 'sandboxes');
}

/** Directory of all sandbox run directories under `runroot`. */
export function sandboxesRunDir(runroot: string): string {
  return path.join(runroot, 'sandboxes');
}

/**
 * The paths of sandbox `id`.
 * @param dirs the configured `root` and `runroot`
 */
export function sandboxPaths(dirs: { root: string; runroot: string }, id: string): SandboxPaths {
  const stateDir = path.join(sandboxesStateDir(dirs.root), id);
  const runDir = path.join(sandboxesRunDir(dirs.runroot), id);
  return {
    stateDir,
    recordFile: path.join(stateDir, 'sandbox.json'),
    hostnameFile: path.join(stateDir, 'hostname'),
    hostsFile: path.join(stateDir, 'hosts'),
    resolvConfFile: path.join(stateDir, 'resolv.conf'),
    cniCacheFile: path.join(stateDir, 'cni.json'),
    runDir,
    netnsPin: path.join(runDir, 'netns'),
    ipcnsPin: path.join(runDir, 'ipcns'),
    utsnsPin: path.join(runDir, 'utsns'),
    pidnsPin: path.join(runDir, 'pidns'),
    shmDir: path.join(runDir, 'shm'),
  };
}
