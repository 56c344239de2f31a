import * as os from 'node:os';
import { HostCommandError, runHostCommand } from '../../common/host/command';

/**
 * What an OCI runtime says it can do, from `<runtime> features` (the
 * runtime-spec "features" document, features.md; runc 1.1 and later print
 * it): the part peapod reads.
 */
export interface OciRuntimeFeatures {
  /** `mountOptions`: the mount options it understands (runc 1.1 lists `rro`, …). */
  mountOptions: string[];
  /** `linux.namespaces`: the namespace types it can create. */
  namespaces: string[];
  /** `linux.mountExtensions.idmap.enabled`: idmapped mounts (runc 1.2 and later). */
  idmapMounts: boolean;
}

/** Largest `features` document read, in bytes (runc 1.1.5's is about 3 KiB). */
const MAX_FEATURES_BYTES = 256 * 1024;
/** How long the runtime may take to print its features, in ms. */
const FEATURES_TIMEOUT_MS = 10_000;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Parses the JSON a runtime's `features` command prints.
 * @throws SyntaxError when it is not JSON; a document without the fields
 *   gives empty lists and no idmapped mounts.
 */
export function parseRuntimeFeatures(json: string): OciRuntimeFeatures {
  const doc = JSON.parse(json) as {
    mountOptions?: unknown;
    linux?: { namespaces?: unknown; mountExtensions?: { idmap?: { enabled?: unknown } } };
  };
  return {
    mountOptions: strings(doc?.mountOptions),
    namespaces: strings(doc?.linux?.namespaces),
    idmapMounts: doc?.linux?.mountExtensions?.idmap?.enabled === true,
  };
}

/**
 * Whether the kernel can make a bind mount read-only recursively
 * (mount_setattr(2) with AT_RECURSIVE, Linux 5.12), which the runtime's `rro`
 * option needs; containerd and CRI-O check the same.
 * @param release a kernel release as `uname -r` prints it (default this kernel's)
 */
export function kernelSupportsRecursiveReadOnly(release: string = os.release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 5 || (major === 5 && minor >= 12);
}

/** The CRI RuntimeHandlerFeatures of one handler, in peapod's terms. */
export interface HandlerFeatures {
  /** CreateContainer honours `Mount.recursive_read_only` for this handler. */
  recursiveReadOnlyMounts: boolean;
  /** Pods of this handler may have their own user namespace (`userns_options` mode POD). */
  userNamespaces: boolean;
}

/**
 * What a handler supports, from its runtime's features and the kernel,
 * limited to what peapod itself implements:
 * - recursive read-only mounts: the runtime lists `rro` and the kernel has
 *   mount_setattr (as containerd decides it);
 * - user namespaces: peapod's pods run in the node's user namespace only
 *   (RunPodSandbox refuses `userns_options` other than NODE), so false; the
 *   CRI's user namespaces also need idmapped mounts from the runtime, which
 *   runc 1.1 lacks.
 * @param features the runtime's features, or null when it could not say
 *   (then nothing is claimed)
 * @param kernelRro kernelSupportsRecursiveReadOnly()
 */
export function handlerFeatures(features: OciRuntimeFeatures | null, kernelRro: boolean): HandlerFeatures {
  return {
    recursiveReadOnlyMounts: features !== null && kernelRro && features.mountOptions.includes('rro'),
    userNamespaces: false,
  };
}

/**
 * Runs `<runtimePath> features` once per runtime path and keeps the answer
 * for the life of the process (a runtime binary does not change its features
 * under a running server; a failure is kept too, as null, and logged by the
 * caller once).
 */
export class RuntimeFeaturesCache {
  private readonly byPath = new Map<string, Promise<{ features: OciRuntimeFeatures | null; problem?: string }>>();

  /**
   * The features of the runtime at `runtimePath`.
   * @returns the features, or null with `problem` saying why the runtime did
   *   not tell them (not runnable, no `features` command, not JSON).
   */
  get(runtimePath: string): Promise<{ features: OciRuntimeFeatures | null; problem?: string }> {
    let p = this.byPath.get(runtimePath);
    if (!p) {
      p = runHostCommand(runtimePath, ['features'], { timeoutMs: FEATURES_TIMEOUT_MS, maxOutputBytes: MAX_FEATURES_BYTES }).then(
        (out) => {
          try {
            return { features: parseRuntimeFeatures(out) };
          } catch (err) {
            return { features: null, problem: `${runtimePath} features: not JSON (${(err as Error).message})` };
          }
        },
        (err: unknown) => {
          const why = err instanceof HostCommandError ? err.stderr || err.message : (err as Error).message;
          return { features: null, problem: `${runtimePath} features: ${why.trim().split('\n')[0]}` };
        },
      );
      this.byPath.set(runtimePath, p);
    }
    return p;
  }
}
