/**
 * A local registry for trying peapod offline: starts Debian's docker-registry
 * on 127.0.0.1 (a free port), pushes a busybox image built from the host's
 * busybox-static, and maps `docker.io/library/busybox` onto it with a
 * registries.conf drop-in, so `crictl pull busybox` works without a network.
 *
 * Usage (root, after scripts/setup.sh): node dist/scripts/demo-registry.js
 * It runs until SIGINT/SIGTERM, then stops the registry and removes the drop-in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { busyboxImage, pushImage } from '../test/fixtures/image-builder';
import { startRegistry } from '../test/integration/harness/registry';

const DROP_IN_DIR = process.env.PEAPOD_REGISTRIES_CONF_DIR ?? '/etc/containers/registries.conf.d';
const DROP_IN = path.join(DROP_IN_DIR, '90-peapod-demo.conf');

async function main(): Promise<void> {
  const registry = await startRegistry();
  const image = await busyboxImage({ Cmd: ['sh'] });
  await pushImage(registry.url, 'library/busybox', 'latest', image);
  fs.mkdirSync(DROP_IN_DIR, { recursive: true });
  fs.writeFileSync(
    DROP_IN,
    `# Written by peapod's scripts/demo-registry.ts; removed when it stops.\n[[registry]]\nprefix = "docker.io/library/busybox"\nlocation = "${registry.host}/library/busybox"\ninsecure = true\n`,
  );
  process.stdout.write(`demo registry on ${registry.url}: busybox:latest pushed; ${DROP_IN} maps docker.io/library/busybox to it\n`);
  const stop = async (): Promise<void> => {
    fs.rmSync(DROP_IN, { force: true });
    await registry.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo-registry: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
