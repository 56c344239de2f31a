/**
 * `peapod unshare [COMMAND [ARG...]]`: runs a command inside the rootless
 * user's user and mount namespace (where peapod's containers, layers and
 * mounts live), as `podman unshare` does: the user is uid 0 there, files of
 * the store show their image owners, and the mounts of running containers
 * are visible. Without a command, $SHELL or /bin/sh. The command sees
 * PEAPOD_ROOT and PEAPOD_RUNROOT (Podman's CONTAINERS_GRAPHROOT and
 * CONTAINERS_RUNROOT). Exit codes: the command's; 126 when it cannot be
 * run, 127 when it is not found; 125 for root, which has no such namespace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnHostProcess } from '../../common/host/command';
import { findProgram } from '../../common/host/programs';
import type { CliContext } from '../context';
import { CliError, EXIT_CANNOT_INVOKE, EXIT_ENGINE, EXIT_NOT_FOUND } from '../errors';
import { insideUserNamespace } from '../rootless-mode';

/** Runs `unshare`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  if (!insideUserNamespace()) throw new CliError('please use unshare with rootless', EXIT_ENGINE);
  const command = args.length > 0 ? args : [process.env.SHELL || '/bin/sh'];
  const file = findProgram(command[0]);
  if (!file) {
    const there = command[0].includes('/') && fs.existsSync(command[0]);
    if (there) throw new CliError(`${command[0]}: permission denied`, EXIT_CANNOT_INVOKE);
    throw new CliError(`exec: "${command[0]}": executable file not found in $PATH`, EXIT_NOT_FOUND);
  }
  const config = ctx.config;
  const { waitForeground } = require('../rootless') as typeof import('../rootless');
  const child = spawnHostProcess(file, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, PEAPOD_ROOT: path.resolve(config.root), PEAPOD_RUNROOT: path.resolve(config.runroot) },
  });
  return waitForeground(child, file);
}
