import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgument, wrongState } from '../../common/errors';
import { readInRoot, resolveUser } from '../oci/user';
import type { OciSpec } from '../oci/types';
import type { ContainerRecord } from './record';
import type { ContainerUser } from './spec';

/** The OCI config written for a container (its bundle's config.json); undefined once the bundle is gone. */
export function readOciSpec(rec: ContainerRecord): OciSpec | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(rec.bundle, 'config.json'), 'utf8')) as OciSpec;
  } catch {
    return undefined;
  }
}

/** The work directory of one exec and the runtime-spec `process` file in it. */
export interface ExecWorkDir {
  /** A unique tag of this exec. */
  tag: string;
  /** `<bundle>/exec-<tag>`; the caller removes it. */
  dir: string;
  /** `<dir>/process.json`. */
  processFile: string;
}

/** How an exec's process differs from the container's main process (the CLI's `exec -e -u -w`). */
export interface ExecOverrides {
  /** Added to the container's environment; a name given here replaces the container's. */
  env?: { name: string; value: string }[];
  /** Who runs it, looked up in the container's /etc/passwd and /etc/group; default the container's user. */
  user?: ContainerUser;
  /** Absolute working directory; default the container's. */
  workingDir?: string;
  /** The terminal's size at start, in character cells (OCI process.consoleSize; terminal only). */
  consoleSize?: { width: number; height: number };
}

/**
 * Prepares an exec in a container: a fresh work directory in its bundle
 * (or `dir`, made by the caller) with a `process.json` that runs `args` as
 * the container's main process runs (same user, env, cwd, capabilities),
 * with or without a terminal (then with TERM=xterm unless its environment
 * has a TERM), changed by `overrides`.
 * @throws WrongStateError when the container has no bundle any more;
 *   InvalidArgumentError (field `workingDir`, `user.name`) for a relative
 *   working directory or a user the container does not know.
 */
export function writeExecProcess(rec: ContainerRecord, args: string[], terminal: boolean, overrides: ExecOverrides = {}, dir?: string): ExecWorkDir {
  const spec = readOciSpec(rec);
  if (!spec) throw wrongState(`container ${rec.id} has no bundle`);
  const proc = { ...spec.process, args, terminal };
  if (overrides.workingDir !== undefined) {
    if (!overrides.workingDir.startsWith('/')) throw invalidArgument(`working directory "${overrides.workingDir}" must be absolute`, { field: 'workingDir' });
    proc.cwd = overrides.workingDir;
  }
  if (overrides.user) {
    const resolved = resolveUser(overrides.user, undefined, readInRoot(rec.rootfs, '/etc/passwd') ?? '', readInRoot(rec.rootfs, '/etc/group') ?? '');
    proc.user = resolved.user;
  }
  if (overrides.env?.length) {
    const env = new Map<string, string>();
    for (const e of proc.env ?? []) {
      const i = e.indexOf('=');
      env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
    }
    for (const kv of overrides.env) env.set(kv.name, kv.value);
    proc.env = [...env].map(([k, v]) => `${k}=${v}`);
  }
  if (terminal && overrides.consoleSize && overrides.consoleSize.width > 0 && overrides.consoleSize.height > 0) {
    (proc as { consoleSize?: { width: number; height: number } }).consoleSize = { width: Math.floor(overrides.consoleSize.width), height: Math.floor(overrides.consoleSize.height) };
  }
  // A terminal needs a TERM to be usable, as for a container with a tty (oci/spec.ts) and as Podman's exec -t gives.
  if (terminal && !(proc.env ?? []).some((e) => e.startsWith('TERM='))) proc.env = [...(proc.env ?? []), 'TERM=xterm'];
  const tag = dir ? path.basename(dir) : randomBytes(8).toString('hex');
  const workDir = dir ?? path.join(rec.bundle, `exec-${tag}`);
  // Owner only, as the bundle: process.json holds the container's env (docs/security.md).
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const processFile = path.join(workDir, 'process.json');
  fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
  return { tag, dir: workDir, processFile };
}
