/**
 * `run` and `create`: from the command line (IMAGE [COMMAND...] and the
 * flags of flags.ts) to the request domain.ts makes a container from,
 * pulling the image first when the `--pull` policy says so.
 */
import type { ContainerResources } from '../../runtime-service/container/spec';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import type { CliCreateRequest, NetworkChoice } from './domain';
import { portMappingsOf } from '../port-mappings';
import { CreateFlags, parseCpus, parseEntrypoint, parseEnv, parseLabels, parseMemory, parseUser, parseVolume } from './flags';
import { imageForRun, PullPolicy } from './image';
import { randomName } from './names';
import { quoteInput } from '../../common/bounded-text';
import { checkArguments, checkBytes, checkLabels, INPUT_LIMITS } from '../../common/input-limits';
import { cliSecurity, privilegedDevices } from './security-flags';
import { hostCapabilities } from '../../runtime-service/container/host';
import { isRootless } from '../rootless-mode';

/**
 * The request for `IMAGE [COMMAND...]` with `flags`.
 * @param attached this process will follow the container to its exit
 * @throws CliError (125) naming a bad flag value; the pull's error.
 */
export async function createRequest(ctx: CliContext, args: string[], flags: CreateFlags, attached: boolean): Promise<CliCreateRequest> {
  const [imageName, ...cmd] = args;
  let stopTimeout: number | undefined;
  if (flags.stopTimeout !== undefined) {
    if (!/^\d+$/.test(flags.stopTimeout)) throw new CliError(`--stop-timeout ${quoteInput(flags.stopTimeout)}: expected a number of seconds`, EXIT_ENGINE);
    stopTimeout = Number(flags.stopTimeout);
  }
  if (flags.name !== undefined && (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(flags.name) || flags.name.length > INPUT_LIMITS.name)) {
    throw new CliError(`--name ${quoteInput(flags.name)}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most ${INPUT_LIMITS.name} characters: invalid argument`, EXIT_ENGINE);
  }
  const resources: ContainerResources = {};
  if (flags.memory !== undefined) resources.memoryLimitBytes = parseMemory(flags.memory);
  if (flags.cpus !== undefined) Object.assign(resources, parseCpus(flags.cpus));
  const env = parseEnv(flags.env, flags.envFile);
  const mounts = (flags.volume ?? []).map(parseVolume);
  const ports = await portMappingsOf(flags.publish ?? []);
  const user = flags.user !== undefined ? parseUser(flags.user) : undefined;
  const labels = parseLabels(flags.label);
  const security = cliSecurity(flags, hostCapabilities);
  // The CRI's bounds (common/input-limits.ts), so both front ends take the same inputs.
  checkArguments({ COMMAND: cmd, '--env': env.map((e) => `${e.name}=${e.value}`) });
  checkLabels('--label', labels);
  if (flags.hostname !== undefined) checkBytes('--hostname', flags.hostname, INPUT_LIMITS.hostname);
  if (flags.workdir !== undefined) checkBytes('--workdir', flags.workdir, INPUT_LIMITS.path);
  if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) throw new CliError(`--workdir ${quoteInput(flags.workdir)}: the working directory must be absolute`, EXIT_ENGINE);
  const image = await imageForRun(ctx, imageName, (flags.pull ?? 'missing') as PullPolicy);
  return {
    image,
    imageName,
    name: flags.name ?? randomName(),
    cmd,
    entrypoint: flags.entrypoint !== undefined ? parseEntrypoint(flags.entrypoint) : undefined,
    env,
    workingDir: flags.workdir,
    user,
    tty: flags.tty ?? false,
    interactive: flags.interactive ?? false,
    mounts,
    resources: Object.keys(resources).length ? resources : undefined,
    labels,
    autoremove: flags.rm ?? false,
    stopTimeout,
    pod: flags.pod,
    network: (flags.network ?? 'bridge') as NetworkChoice,
    hostname: flags.hostname,
    ports,
    attached,
    security,
    devices: security.privileged ? privilegedDevices(isRootless()) : [],
  };
}
