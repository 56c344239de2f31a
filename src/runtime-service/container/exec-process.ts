import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { wrongState } from '../../common/errors';
import type { OciSpec } from '../oci/types';
import type { ContainerRecord } from './record';

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

/**
 * Prepares an exec in a container: a fresh work directory in its bundle
 * (or `dir`, made by the caller) with a `process.json` that runs `args` as
 * the container's main process runs (same user, env, cwd, capabilities),
 * with or without a terminal.
 * @throws WrongStateError when the container has no bundle any more.
 */
export function writeExecProcess(rec: ContainerRecord, args: string[], terminal: boolean, dir?: string): ExecWorkDir {
  const spec = readOciSpec(rec);
  if (!spec) throw wrongState(`container ${rec.id} has no bundle`);
  const tag = dir ? path.basename(dir) : randomBytes(8).toString('hex');
  const workDir = dir ?? path.join(rec.bundle, `exec-${tag}`);
  // Owner only, as the bundle: process.json holds the container's env (docs/security.md).
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const processFile = path.join(workDir, 'process.json');
  fs.writeFileSync(processFile, JSON.stringify({ ...spec.process, args, terminal }), { mode: 0o600 });
  return { tag, dir: workDir, processFile };
}
