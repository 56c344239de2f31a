import type { RemoteCommandBackend } from '../../server/streaming/backend';
import type { ContainerEngine } from '../container/engine';

/**
 * The streaming server's Exec and Attach backend on peapod's containers
 * (src/server/streaming/backend.ts): the container code's exec and attach,
 * with the running check done before a URL is handed out.
 */
export function containerStreamingBackend(engine: ContainerEngine): RemoteCommandBackend {
  return {
    /** @throws NotFoundError; WrongStateError when the container is not running. */
    async checkContainer(containerId: string): Promise<void> {
      await engine.running(containerId, 'exec');
    },
    exec: (containerId, cmd, io) => engine.exec(containerId, cmd, io),
    attach: (containerId, io) => engine.attach(containerId, io),
  };
}
