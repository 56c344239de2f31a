import * as path from 'node:path';

/**
 * Where containers keep their things. Two places, by what must survive what:
 * - under `root` (persistent disk), `<root>/containers/<id>/`: the writable
 *   layer (upper/, work/) and conmon's persist directory (exit and oom
 *   files), so an exit is known after a restart of peapod;
 * - under `runroot` (tmpfs, gone on reboot): the OCI bundle
 *   `<runroot>/containers/<id>/` (config.json, the mounted rootfs/, pid
 *   files, conmon's ctl FIFO, console.log when no log path was given),
 *   conmon's exit files `<runroot>/containers-exits/<id>` (one directory,
 *   watched) and its attach sockets `<runroot>/containers-sockets/<id>/attach`.
 * A removed container's persistent directory is renamed into
 * `<root>/containers-trash/` (same filesystem) and deleted from there in the
 * background.
 */
export interface ContainerDirs {
  /** `<root>/containers`. */
  state: string;
  /** `<runroot>/containers`: one bundle per container. */
  bundles: string;
  /** `<runroot>/containers-exits`. */
  exits: string;
  /** `<runroot>/containers-sockets`. */
  sockets: string;
  /** `<root>/containers-trash`: removed containers' directories, renamed here and deleted in the background (trash.ts). */
  trash: string;
}

/** The directories of all containers. */
export function containerDirs(root: string, runroot: string): ContainerDirs {
  return {
    state: path.join(root, 'containers'),
    bundles: path.join(runroot, 'containers'),
    exits: path.join(runroot, 'containers-exits'),
    sockets: path.join(runroot, 'containers-sockets'),
    trash: path.join(root, 'containers-trash'),
  };
}

/** The paths of one container. */
export interface ContainerPaths {
  /** `<root>/containers/<id>`. */
  stateDir: string;
  upperDir: string;
  workDir: string;
  /** conmon's `--persist-dir`. */
  persistDir: string;
  /** The OCI bundle. */
  bundle: string;
  /** The overlay mount point (the bundle's rootfs/). */
  rootfs: string;
  configJson: string;
  pidFile: string;
  conmonPidFile: string;
  /** The log when the creator gave no log path. */
  consoleLog: string;
}

/** The paths of container `id`. */
export function containerPaths(dirs: ContainerDirs, id: string): ContainerPaths {
  const stateDir = path.join(dirs.state, id);
  const bundle = path.join(dirs.bundles, id);
  return {
    stateDir,
    upperDir: path.join(stateDir, 'upper'),
    workDir: path.join(stateDir, 'work'),
    persistDir: path.join(stateDir, 'persist'),
    bundle,
    rootfs: path.join(bundle, 'rootfs'),
    configJson: path.join(bundle, 'config.json'),
    pidFile: path.join(bundle, 'pid'),
    conmonPidFile: path.join(bundle, 'conmon.pid'),
    consoleLog: path.join(bundle, 'console.log'),
  };
}
