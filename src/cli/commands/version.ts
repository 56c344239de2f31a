/** `peapod version`: the versions of peapod and of the Node.js running it (Podman's layout). */
import type { CliContext } from '../context';
import { renderObject } from '../output/write';
import { peapodVersion } from '../package-version';

/** The `Client` block of `version --format json`. */
export function versionInfo(): Record<string, string> {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386' };
  return {
    Version: peapodVersion(),
    NodeVersion: process.version,
    Os: process.platform,
    OsArch: `${process.platform}/${arch[process.arch] ?? process.arch}`,
  };
}

/** Runs `version`. */
export async function run(ctx: CliContext, _args: string[], o: { format?: string }): Promise<number> {
  const client = versionInfo();
  if (o.format !== undefined) {
    ctx.io.stdout.write(renderObject(o.format, { Client: client }));
    return 0;
  }
  ctx.io.stdout.write(`Version:      ${client.Version}\nNode Version: ${client.NodeVersion}\nOS/Arch:      ${client.OsArch}\n`);
  return 0;
}
