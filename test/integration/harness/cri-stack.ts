import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { busyboxImage, ImageConfigSpec, pushImage } from '../../fixtures/image-builder';
import { removeAllPods } from './client';
import { makeTestCniNetwork, TestCniNetwork } from './cni-net';
import { startRegistry, TestRegistry } from './registry';
import { startServer, TestServer } from './server';

/**
 * What most CRI integration tests run against: a test CNI network, a
 * registry with busybox pushed as `test/busybox:v1`, a peapod-cri server on
 * that network, and a temp directory for the pods' logs.
 */
export interface CriStack {
  network: TestCniNetwork;
  registry: TestRegistry;
  server: TestServer;
  /** The pushed image's reference, `HOST/test/busybox:v1`. */
  image: string;
  /** A temp directory for the pods' log directories. */
  logRoot: string;
  /** Removes every pod, stops the server and the registry, removes the network and the log directory. */
  stop(): Promise<void>;
}

/** How the stack is made. */
export interface CriStackOptions {
  /** The log directory's name prefix in the temp dir, e.g. `peapod-execsync-logs-`. */
  logPrefix: string;
  /** The busybox image's config (Env, User, StopSignal, ...). */
  imageConfig?: ImageConfigSpec;
  /** The server's config TOML, given the network (default: the network's own, `network.configToml`). */
  config?: (network: TestCniNetwork) => string;
  /** Pull the image into the server before returning. */
  pull?: boolean;
}

/**
 * Starts the stack (see CriStack); what was started is stopped again when
 * a step fails, so a failed `before` leaves nothing behind.
 * @throws what the failing step threw.
 */
export async function startCriStack(o: CriStackOptions): Promise<CriStack> {
  const logRoot = fs.mkdtempSync(path.join(os.tmpdir(), o.logPrefix));
  let network: TestCniNetwork | undefined;
  let registry: TestRegistry | undefined;
  let server: TestServer | undefined;
  const stop = async (): Promise<void> => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    network?.cleanup();
    fs.rmSync(logRoot, { recursive: true, force: true });
  };
  try {
    network = makeTestCniNetwork();
    registry = await startRegistry();
    await pushImage(registry.url, 'test/busybox', 'v1', await busyboxImage(o.imageConfig));
    const image = `${registry.host}/test/busybox:v1`;
    server = await startServer({ config: o.config ? o.config(network) : network.configToml });
    if (o.pull) await server.client.image.PullImage({ image: { image } });
    return { network, registry, server, image, logRoot, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
