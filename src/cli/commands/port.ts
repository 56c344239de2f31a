/**
 * `peapod port CONTAINER [PRIVATE_PORT[/PROTO]]` and `port --all`: the host
 * ports the container's sandbox publishes (`80/tcp -> 0.0.0.0:8080`), or the
 * host address of one container port (`0.0.0.0:8080`).
 */
import type { CniPortMapping } from '../../runtime-service/cni/runtime-config';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { mustFindContainer } from '../containers/lookup';

/** Runs `port`. */
export async function run(ctx: CliContext, args: string[], o: { all?: boolean }): Promise<number> {
  const { SandboxStore } = require('../../runtime-service/sandbox/store') as typeof import('../../runtime-service/sandbox/store');
  const sandboxes = new SandboxStore(ctx.stateDb(), ctx.config);
  const store = ctx.containerStore();
  const portsOf = (rec: ContainerRecord): CniPortMapping[] => sandboxes.getAny(rec.sandboxId)?.portMappings ?? [];
  const host = (p: CniPortMapping): string => `${p.hostIP || '0.0.0.0'}:${p.hostPort}`;
  if (o.all) {
    if (args.length > 1) throw new CliError('with --all, give at most a PRIVATE_PORT', EXIT_ENGINE);
    for (const rec of store.list().filter((r) => r.state === 'running')) {
      const ports = portsOf(rec);
      if (ports.length === 0) continue;
      ctx.io.stdout.write(`${rec.id.slice(0, 12)}\t${ports.map((p) => `${p.containerPort}/${p.protocol} -> ${host(p)}`).join('\n\t')}\n`);
    }
    return 0;
  }
  if (args.length === 0) throw new CliError('you must supply a running container name or ID', EXIT_ENGINE);
  const rec = mustFindContainer(store, args[0]);
  const ports = portsOf(rec);
  if (args[1] === undefined) {
    for (const p of ports) ctx.io.stdout.write(`${p.containerPort}/${p.protocol} -> ${host(p)}\n`);
    return 0;
  }
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(args[1]);
  if (!m) throw new CliError(`"${args[1]}" is not a port: expected PORT[/PROTO]`, EXIT_ENGINE);
  const hits = ports.filter((p) => p.containerPort === Number(m[1]) && p.protocol === (m[2] ?? 'tcp'));
  if (hits.length === 0) throw new CliError(`failed to find published port "${args[1]}"`, EXIT_ENGINE);
  for (const p of hits) ctx.io.stdout.write(`${host(p)}\n`);
  return 0;
}
