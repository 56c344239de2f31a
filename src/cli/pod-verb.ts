/**
 * The shape of Podman's pod verbs that act on each pod in turn (`pod start`,
 * `stop`, `kill`, `restart`): the pods named (or `--all`, `--latest`) are
 * found first, so an unknown one is an error before any pod is touched
 * (unless `--ignore`); then each gets the verb, one after another: its ID on
 * stdout when that succeeded, its error on stderr when not, and the pods
 * after it still get theirs.
 */
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import type { CliContext } from './context';
import { CliContainers, openContainers } from './containers/domain';
import { CliError, EXIT_ENGINE, formatError } from './errors';
import { targetPods } from './pods';

/**
 * Runs `action` on each pod the command names (targetPods), in turn.
 * @param names the pods named (arguments and --pod-id-file IDs)
 * @param o the command's --all, --latest and --ignore
 * @param verb the command's verb, for the message when no pod is named
 * @param action the verb for one pod; what it throws is reported for that pod
 * @returns the exit code: 0, or 125 when the verb failed for any pod
 * @throws CliError (125) for --all with names, no pod named, or an unknown pod (without --ignore)
 */
export async function eachTargetPod(
  ctx: CliContext,
  names: string[],
  o: { all?: boolean; latest?: boolean; ignore?: boolean },
  verb: string,
  action: (c: CliContainers, pod: SandboxRecord) => Promise<void>,
): Promise<number> {
  if (o.all && names.length) throw new CliError('--all and pod names cannot be given together');
  const c = await openContainers(ctx);
  const { pods } = targetPods(c.peapod, names, o, verb);
  let code = 0;
  for (const pod of pods) {
    try {
      await action(c, pod);
      ctx.io.stdout.write(`${pod.id}\n`);
    } catch (err) {
      ctx.io.stderr.write(formatError(err, false));
      code = EXIT_ENGINE;
    }
  }
  return code;
}
